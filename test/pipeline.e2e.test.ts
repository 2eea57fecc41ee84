// The end-to-end path with real parts only, in both broker modes: a real collector process (embedded
// broker, or an external Mosquitto with the shipped ACL), a real agent process with a seeded simulated
// source, the SQLite stream store, the aggregator (SQLite aggregates, or PostgreSQL) and the API. Readings must arrive exactly once: the buckets
// hold every tick between the first and last reading, each once, with the values the generator produced for
// those ticks (recomputed here independently of the pipeline).
import { connectAsync } from 'mqtt';
import { afterAll, describe, expect, it } from 'vitest';
import { encodeBatch, newStreamId, topics } from '@tidemark/proto';
import { startNatsServer, useProcessReaper, waitFor } from '@tidemark/shared/testing';
import { makeGenerator, mulberry32 } from '../edge/src/sources/simulated/shapes.js';
import { getJson } from './support/cli.js';
import { fetchBuckets, setupCloud, setupEdge, waitForAggregated, type BrokerMode } from './support/pipeline.js';
import { readJetStream, readStream } from './support/stream-check.js';
import type { BucketItem as Bucket } from '@tidemark/cloud';
import { dropSchemas, requirePostgres, schemaPrefix } from '../cloud/src/aggregate/testing/postgres.js';


const SENSOR = { name: 'temp_c', shape: 'sine', min: 20, max: 80, period_s: 30, decimals: 2 } as const;
const RATE_HZ = 20; // 50 ms ticks

const PG_PREFIX = schemaPrefix();
afterAll(async () => {
  if (usedPostgres) await dropSchemas(await requirePostgres(), PG_PREFIX);
});
let usedPostgres = false;

describe.each<[BrokerMode, 'sqlite' | 'jetstream', 'sqlite' | 'postgres']>([
  ['embedded', 'sqlite', 'sqlite'],
  ['embedded-tls', 'sqlite', 'sqlite'],
  ['external', 'sqlite', 'sqlite'],
  ['embedded', 'sqlite', 'postgres'],
  ['embedded', 'jetstream', 'sqlite'],
])('simulated source → buffer → MQTT (%s broker) → collector → %s stream → %s aggregates → API', (mode, storeType, aggregatesType) => {
  useProcessReaper();

  it('delivers every reading exactly once and serves it as 1-minute buckets', async () => {
    const extra: Record<string, unknown> = {};
    if (aggregatesType === 'postgres') {
      usedPostgres = true;
      extra.aggregates = { type: 'postgres', url: await requirePostgres(), schema: `${PG_PREFIX}_pipeline` };
    }
    // A private nats-server with JetStream; two partitions, so the router and per-partition checkpoints are used.
    const jetstream = storeType === 'jetstream' ? { servers: [(await startNatsServer()).url], stream: 'TIDEMARK', partitions: 2 } : undefined;
    if (jetstream) extra.store = { type: 'jetstream', ...jetstream };
    const readStored = () => (jetstream ? readJetStream(jetstream) : Promise.resolve(readStream(cloud.dataDir)));
    const cloud = await setupCloud(extra, mode);
    const edge = setupEdge(cloud, 'gw-1', {
      sources: [{ type: 'simulated', name: 'sim', rate_hz: RATE_HZ, seed: 7, sensors: [SENSOR] }],
      batch: { max_readings: 50, max_delay_ms: 100 },
    });
    const collector = await cloud.start();
    const agent = edge.start();
    const api = cloud.api;

    // Let a few hundred readings flow, then stop the agent cleanly: it drains its buffer before exiting.
    await waitFor(
      async () => {
        const { body } = await getJson<{ items: { id: string; readings: number; online: boolean }[] }>(`${api}/api/v1/devices`);
        return body.items.find((d) => d.id === 'gw-1' && d.online && d.readings >= 300);
      },
      { timeoutMs: 30_000, description: 'gw-1 online with 300 readings stored' },
    );
    if (mode === 'embedded-tls') {
      // Without the CA the broker's certificate is not trusted: no connection, whatever the password.
      await expect(
        connectAsync(cloud.mqttUrl, { clientId: 'gw-x', username: 'gw-x', password: 'x', reconnectPeriod: 0, connectTimeout: 5000, rejectUnauthorized: true }),
      ).rejects.toThrow(/self.signed|unable to verify|certificate/i);
    }
    const exit = await agent.kill('SIGTERM');
    expect(exit.code, agent.output()).toBe(0);
    expect(edge.bufferStats().readings).toBe(0); // everything was acked, so everything must be in the cloud

    if (mode === 'external') {
      // The broker's ACL: gw-1 cannot publish as another device (Mosquitto drops it; nothing is stored).
      // (After the agent stopped: Mosquitto makes the username the client id, so this session would take over.)
      const password = edge.env.TIDEMARK_PASSWORD!;
      const spy = await connectAsync(cloud.mqttUrl, { clientId: 'x', username: 'gw-1', password, reconnectPeriod: 0, clean: true });
      const spoof = encodeBatch({ deviceId: 'gw-2', streamId: newStreamId(), seq: 1, clock: { synced: true, anchorWallMs: 0, anchorMonoMs: 0 }, readings: [{ sensor: 'x', ts: Date.now(), value: 1 }] });
      await spy.publishAsync(topics.batch('gw-2'), Buffer.from(spoof), { qos: 1 });
      await spy.endAsync();
    }
    const stored = await readStored();
    expect(new Set(stored.map((r) => r.device))).toEqual(new Set(['gw-1']));
    const sensors = await waitForAggregated(api, 'gw-1', 'temp_c', stored.length);
    const firstTs = Date.parse(sensors.first_seen);
    const lastTs = Date.parse(sensors.last_seen);
    const step = 1000 / RATE_HZ;
    expect((lastTs - firstTs) % step).toBe(0);
    const ticks = (lastTs - firstTs) / step + 1;
    expect(sensors.readings).toBe(ticks); // no reading lost, none counted twice

    // Independent expectation: regenerate the sine for each tick and bucket it per UTC minute.
    const gen = makeGenerator(SENSOR, mulberry32(7));
    const expected = new Map<number, { count: number; sum: number; min: number; max: number; first: number; last: number }>();
    for (let t = firstTs; t <= lastTs; t += step) {
      const v = gen(t);
      const start = t - (t % 60_000);
      const e = expected.get(start) ?? { count: 0, sum: 0, min: Infinity, max: -Infinity, first: v, last: v };
      e.count += 1;
      e.sum += v;
      e.min = Math.min(e.min, v);
      e.max = Math.max(e.max, v);
      e.last = v;
      expected.set(start, e);
    }
    const buckets = await fetchBuckets<Bucket>(api, 'gw-1', 'temp_c', '1m', firstTs - (firstTs % 60_000), lastTs + 60_000);
    expect(buckets.map((b) => Date.parse(b.start))).toEqual([...expected.keys()]);
    for (const b of buckets) {
      const e = expected.get(Date.parse(b.start))!;
      expect(b).toMatchObject({ device: 'gw-1', sensor: 'temp_c', resolution: '1m', count: e.count, min: e.min, max: e.max, first: e.first, last: e.last, revision: 0 });
      expect(b.sum).toBeCloseTo(e.sum, 6);
      expect(b.avg).toBeCloseTo(e.sum / e.count, 9);
    }

    // A bad parameter is a 400 naming it, never a 500.
    const bad = await getJson<{ error: { code: string; message: string } }>(`${api}/api/v1/aggregates?device=gw-1&sensor=temp_c&from=yesterday&to=2100-01-01T00:00:00Z`);
    expect(bad.status).toBe(400);
    expect(bad.body.error.message).toMatch(/^from:/);

    const metrics = await (await fetch(`${api}/metrics`)).text();
    expect(Number(/tidemark_cloud_readings_total\{status="ok"\} (\d+)/.exec(metrics)?.[1])).toBe(ticks);

    // Still only gw-1's batches, well after the spoofed publish (external mode) had time to arrive.
    expect(new Set((await readStored()).map((r) => r.device))).toEqual(new Set(['gw-1']));
    const stopped = await collector.kill('SIGTERM');
    expect(stopped.code, collector.output()).toBe(0);
  });
});
