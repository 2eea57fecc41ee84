// /api/v1/stream end to end: a real collector (all roles in one process, and split into collector +
// aggregator + api processes) and a real agent with a simulated source. An SSE client sees bucket updates
// for the device within seconds of readings being stored, and once everything is aggregated the last event
// for every bucket equals what /api/v1/aggregates returns for it. Bad parameters are 400s.
import { describe, expect, it } from 'vitest';
import { freePort, useProcessReaper, waitFor, type ManagedProcess } from '@tidemark/shared/testing';
import { SseClient } from '../cloud/src/api/testing/sse-client.js';
import { CLOUD_BIN, startCli } from './support/cli.js';
import { fetchBuckets, setupCloud, setupEdge, waitForAggregated, type CloudSetup } from './support/pipeline.js';
import { readStream } from './support/stream-check.js';
import type { BucketItem as Bucket } from '@tidemark/cloud';


const DEVICE = 'gw-stream';
const SENSORS = [
  { name: 'temp_c', shape: 'sine', min: 20, max: 80, period_s: 20, decimals: 2 },
  { name: 'flow', shape: 'random_walk', min: 0, max: 10, decimals: 3 },
];

type Role = 'all' | 'split';

/**
 * Starts the collector: one process, or one per role on the same data_dir and config (the api role serves the
 * API on api.listen; the others serve /metrics on their own `--listen`).
 */
async function startCloud(cloud: CloudSetup, role: Role): Promise<ManagedProcess[]> {
  if (role === 'all') return [await cloud.start()];
  // One after the other: roles starting at the same instant on a fresh data_dir race to create the schema.
  const procs: ManagedProcess[] = [];
  for (const r of ['collector', 'aggregator'] as const) {
    const p = startCli(r, CLOUD_BIN, ['run', '-c', cloud.configPath, '--role', r, '--listen', `127.0.0.1:${await freePort()}`]);
    procs.push(p);
    await p.waitForOutput('tidemark-cloud started', 20_000);
  }
  const api = startCli('api', CLOUD_BIN, ['run', '-c', cloud.configPath, '--role', 'api']);
  await waitFor(async () => (await fetch(`${cloud.api}/readyz`).catch(() => undefined))?.ok, { timeoutMs: 20_000, description: 'api role ready' });
  return [...procs, api];
}

const key = (b: Pick<Bucket, 'sensor' | 'resolution' | 'start'>) => `${b.sensor}/${b.resolution}/${b.start}`;

describe.each<Role>(['all', 'split'])('live stream of bucket updates (%s roles)', (role) => {
  useProcessReaper();

  it('streams the buckets of the device within seconds, ending in the state /api/v1/aggregates serves; bad params are 400s', async () => {
    const cloud = await setupCloud();
    const edge = setupEdge(cloud, DEVICE, {
      sources: [{ type: 'simulated', name: 'sim', rate_hz: 20, seed: 5, sensors: SENSORS }],
      batch: { max_readings: 50, max_delay_ms: 100 },
    });
    const procs = await startCloud(cloud, role);

    // Bad parameters: 400 with the error body, naming the parameter.
    for (const [query, name] of [
      ['resolution=5m', 'resolution'],
      ['device=not%20an%20id', 'device'],
      ['sensor=', 'sensor'],
      ['from=2026-01-01', 'from'],
    ] as const) {
      const res = await fetch(`${cloud.api}/api/v1/stream?${query}`);
      expect(res.status, query).toBe(400);
      const body = (await res.json()) as { error: { code: string; message: string } };
      expect(body.error.message.startsWith(`${name}:`), body.error.message).toBe(true);
    }

    const all = await SseClient.connect(`${cloud.api}/api/v1/stream?device=${DEVICE}`);
    const narrow = await SseClient.connect(`${cloud.api}/api/v1/stream?device=${DEVICE}&sensor=temp_c&resolution=1m`);
    const elsewhere = await SseClient.connect(`${cloud.api}/api/v1/stream?device=some-other-device`);
    try {
      expect(all.response.status).toBe(200);
      expect(all.response.headers.get('content-type')).toMatch(/^text\/event-stream/);

      const agent = edge.start();
      const firstStored = await waitFor(() => (readStream(cloud.dataDir).length > 0 ? Date.now() : undefined), {
        timeoutMs: 30_000,
        intervalMs: 20,
        description: 'the first readings stored',
      });
      await all.until((ev) => ev.some((e) => e.event === 'bucket'), 'a first bucket event', 5_000);
      expect(Date.now() - firstStored).toBeLessThan(5_000);

      await waitFor(() => readStream(cloud.dataDir).length >= 600, { timeoutMs: 30_000, intervalMs: 250, description: '600 readings stored' });
      expect((await agent.kill('SIGTERM')).code, agent.output()).toBe(0);
      const stored = readStream(cloud.dataDir);
      for (const s of SENSORS) await waitForAggregated(cloud.api, DEVICE, s.name, stored.filter((r) => r.sensor === s.name).length);

      // The last event for each bucket must be its final state: wait until the stream caught up, then compare.
      const from = Math.min(...stored.map((r) => r.ts)) - 86_400_000;
      const to = Math.max(...stored.map((r) => r.ts)) + 86_400_000;
      const served = new Map<string, Bucket>();
      for (const s of SENSORS) {
        for (const res of ['1m', '1h', '1d']) for (const b of await fetchBuckets<Bucket>(cloud.api, DEVICE, s.name, res, from, to)) served.set(key(b), b);
      }
      expect(served.size).toBeGreaterThanOrEqual(6);
      const latest = () => {
        const m = new Map<string, Bucket>();
        for (const b of all.buckets<Bucket>()) m.set(key(b), b);
        return m;
      };
      await waitFor(() => [...served].every(([k, b]) => latest().get(k)?.count === b.count), { description: 'the stream caught up with the aggregates' });
      const streamed = latest();
      expect([...streamed.keys()].sort()).toEqual([...served.keys()].sort());
      for (const [k, b] of served) expect(streamed.get(k), k).toEqual(b);
      expect(all.buckets<Bucket>().every((b) => b.device === DEVICE)).toBe(true);

      // Every streamed state of a bucket is at least as new as the one before it.
      const seen = new Map<string, number>();
      for (const b of all.buckets<Bucket>()) {
        expect(b.count, key(b)).toBeGreaterThanOrEqual(seen.get(key(b)) ?? 0);
        seen.set(key(b), b.count);
      }
      // The filters hold, and the watermark follows the data.
      expect(narrow.buckets<Bucket>().length).toBeGreaterThan(0);
      expect(narrow.buckets<Bucket>().every((b) => b.sensor === 'temp_c' && b.resolution === '1m')).toBe(true);
      const lastWatermark = all.events.filter((e) => e.event === 'watermark').at(-1);
      expect(JSON.parse(lastWatermark!.data)).toMatchObject({ device: DEVICE, watermark: new Date(Math.max(...stored.map((r) => r.ts))).toISOString() });
      expect(elsewhere.events).toEqual([]);
      expect([all, narrow, elsewhere].some((c) => c.ended)).toBe(false);
      expect(all.events.map((e) => e.id).every((id, i, ids) => id !== undefined && ids.indexOf(id) === i)).toBe(true);

      // The clients are counted while connected, and no longer once they have gone.
      const clients = async () => /tidemark_cloud_stream_clients (\d+)/.exec(await (await fetch(`${cloud.api}/metrics`)).text())?.[1];
      expect(await clients()).toBe('3');
      for (const c of [all, narrow, elsewhere]) c.close();
      await waitFor(async () => (await clients()) === '0', { description: 'stream clients released' });
    } finally {
      for (const c of [all, narrow, elsewhere]) c.close();
    }
    for (const p of procs.reverse()) expect((await p.kill('SIGTERM')).code, p.output()).toBe(0);
  });
});
