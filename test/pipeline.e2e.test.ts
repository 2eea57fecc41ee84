// The thin end-to-end path with real parts only: a real collector process (embedded broker, SQLite stream
// store, aggregator, API) and a real agent process with a seeded simulated source. Readings must arrive
// exactly once: the buckets hold every tick between the first and last reading, each once, with the values
// the generator produced for those ticks (recomputed here independently of the pipeline).
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { freePort, makeTempDir, useProcessReaper, waitFor } from '@tidemark/shared/testing';
import { makeGenerator, mulberry32 } from '../edge/src/sources/simulated/shapes.js';
import { CLOUD_BIN, EDGE_BIN, getJson, runCli, startCli, writeYaml } from './support/cli.js';

interface Bucket {
  device: string;
  sensor: string;
  resolution: string;
  start: string;
  count: number;
  sum: number;
  min: number;
  max: number;
  avg: number;
  stddev: number;
  first: number;
  last: number;
  final: boolean;
  revision: number;
}

const SENSOR = { name: 'temp_c', shape: 'sine', min: 20, max: 80, period_s: 30, decimals: 2 } as const;
const RATE_HZ = 20; // 50 ms ticks

describe('simulated source → buffer → MQTT → collector → aggregates API', () => {
  useProcessReaper();

  it('delivers every reading exactly once and serves it as 1-minute buckets', async () => {
    const dir = await makeTempDir('tidemark-e2e-');
    const [mqttPort, apiPort] = [await freePort(), await freePort()];
    const cloudYaml = writeYaml(join(dir, 'cloud.yaml'), {
      data_dir: join(dir, 'cloud'),
      broker: { mode: 'embedded', listen: `127.0.0.1:${mqttPort}` },
      auth: { devices_file: join(dir, 'devices.yaml') },
      api: { listen: `127.0.0.1:${apiPort}` },
    });
    const added = runCli(CLOUD_BIN, ['device', 'add', 'gw-1', '-c', cloudYaml]);
    expect(added.code, added.stderr).toBe(0);
    const password = added.stdout.trim();
    expect(password.length).toBeGreaterThanOrEqual(16);

    const edgeYaml = writeYaml(join(dir, 'edge.yaml'), {
      device: { id: 'gw-1' },
      data_dir: join(dir, 'edge'),
      sources: [{ type: 'simulated', name: 'sim', rate_hz: RATE_HZ, seed: 7, sensors: [SENSOR] }],
      batch: { max_readings: 50, max_delay_ms: 100 },
      uplink: { url: `mqtt://127.0.0.1:${mqttPort}`, password: '${GW_PASSWORD}' },
      clock: { sync_check: 'assume_synced' },
    });
    expect(runCli(EDGE_BIN, ['validate', '-c', edgeYaml], { GW_PASSWORD: password }).code).toBe(0);

    const api = `http://127.0.0.1:${apiPort}`;
    const cloud = startCli('collector', CLOUD_BIN, ['run', '-c', cloudYaml]);
    await waitFor(async () => (await fetch(`${api}/readyz`).catch(() => undefined))?.ok, { timeoutMs: 20_000, description: 'collector ready' });
    const edge = startCli('agent', EDGE_BIN, ['run', '-c', edgeYaml], { GW_PASSWORD: password });

    // Let a few hundred readings flow, then stop the agent cleanly: it drains its buffer before exiting.
    await waitFor(
      async () => {
        const { body } = await getJson<{ items: { id: string; readings: number; online: boolean }[] }>(`${api}/api/v1/devices`);
        return body.items.find((d) => d.id === 'gw-1' && d.online && d.readings >= 300);
      },
      { timeoutMs: 30_000, description: 'gw-1 online with 300 readings stored' },
    );
    const exit = await edge.kill('SIGTERM');
    expect(exit.code, edge.output()).toBe(0);

    const stats = runCli(EDGE_BIN, ['buffer', 'stats', '-c', edgeYaml, '--json'], { GW_PASSWORD: password });
    expect(stats.code, stats.stderr).toBe(0);
    const buffered = JSON.parse(stats.stdout) as { readings: number; next_seq: number };
    expect(buffered.readings).toBe(0); // everything was acked, so everything must be in the cloud

    // Sensors endpoint tells us the event-time range; the aggregator must have caught up with the stream.
    const sensors = await waitFor(
      async () => {
        const { body } = await getJson<{ items: { name: string; first_seen: string; last_seen: string; readings: number }[] }>(
          `${api}/api/v1/devices/gw-1/sensors`,
        );
        const s = body.items.find((x) => x.name === 'temp_c');
        const devices = await getJson<{ items: { id: string; readings: number }[] }>(`${api}/api/v1/devices`);
        const stored = devices.body.items.find((d) => d.id === 'gw-1')?.readings;
        return s && s.readings === stored ? s : undefined;
      },
      { timeoutMs: 10_000, description: 'aggregator caught up' },
    );

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

    const from = new Date(firstTs - (firstTs % 60_000)).toISOString();
    const to = new Date(lastTs + 60_000).toISOString();
    const { status, body } = await getJson<{ items: Bucket[]; next_cursor: string | null }>(
      `${api}/api/v1/aggregates?device=gw-1&sensor=temp_c&resolution=1m&from=${from}&to=${to}`,
    );
    expect(status).toBe(200);
    expect(body.next_cursor).toBeNull();
    expect(body.items.map((b) => Date.parse(b.start))).toEqual([...expected.keys()]);
    for (const b of body.items) {
      const e = expected.get(Date.parse(b.start))!;
      expect(b).toMatchObject({ device: 'gw-1', sensor: 'temp_c', resolution: '1m', count: e.count, min: e.min, max: e.max, first: e.first, last: e.last, revision: 0 });
      expect(b.sum).toBeCloseTo(e.sum, 6);
      expect(b.avg).toBeCloseTo(e.sum / e.count, 9);
    }

    // A bad parameter is a 400 naming it, never a 500.
    const bad = await getJson<{ error: { code: string; message: string } }>(`${api}/api/v1/aggregates?device=gw-1&sensor=temp_c&from=yesterday&to=${to}`);
    expect(bad.status).toBe(400);
    expect(bad.body.error.message).toMatch(/^from:/);

    const metrics = await (await fetch(`${api}/metrics`)).text();
    expect(metrics).toMatch(/tidemark_cloud_readings_total\{status="ok"\} (\d+)/);
    expect(Number(/tidemark_cloud_readings_total\{status="ok"\} (\d+)/.exec(metrics)![1])).toBe(ticks);

    const stopped = await cloud.kill('SIGTERM');
    expect(stopped.code, cloud.output()).toBe(0);
  });
});
