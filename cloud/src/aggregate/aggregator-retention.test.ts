// Aggregate retention (aggregation.retention): expired buckets are deleted per resolution, a reading for an
// expired bucket never brings back a partial bucket, and every such reading is counted, never silent.
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { encodeBatch } from '@tidemark/proto';
import { counterValue, createLogger, MetricsRegistry } from '@tidemark/shared';
import { waitFor } from '@tidemark/shared/testing';
import { afterEach, describe, expect, it } from 'vitest';
import { SqliteStreamStore } from '../store/sqlite-stream-store.js';
import { Aggregator } from './aggregator.js';
import { SqliteAggregateStore } from './sqlite-aggregate-store.js';

const MINUTE = 60_000;
const HOUR = 3_600_000;
const DAY = 86_400_000;
const RESOLUTIONS = [
  { label: '1m', ms: MINUTE },
  { label: '1h', ms: HOUR },
  { label: '1d', ms: DAY },
];
/** 2026-11-27T00:00:00Z */
const T0 = Date.UTC(2026, 10, 27);
const logger = createLogger({ name: 'retention-test', level: 'silent' });

const cleanup: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const f of cleanup.splice(0).reverse()) await f();
});

/** 1m buckets kept for 2 hours, 1h buckets for 2 days, 1d forever (unless `only` narrows the resolutions). */
async function setup(now: { value: number }, only = RESOLUTIONS.length, retentionIntervalMs?: number) {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'tidemark-retention-'));
  const stream = new SqliteStreamStore({ path: path.join(dir, 'stream.db') });
  const store = new SqliteAggregateStore(path.join(dir, 'aggregates.db'));
  await stream.start();
  await store.start();
  cleanup.push(() => fs.rm(dir, { recursive: true, force: true }), () => stream.stop(), () => store.stop());
  const metrics = new MetricsRegistry('tidemark_cloud');
  const agg = new Aggregator(
    stream,
    store,
    {
      resolutions: RESOLUTIONS.slice(0, only),
      allowedLatenessMs: 5 * MINUTE,
      maxFutureSkewMs: 5 * MINUTE,
      retention: { '1m': 2 * HOUR, '1h': 2 * DAY, '1d': null },
      now: () => now.value,
      ...(retentionIntervalMs !== undefined ? { retentionIntervalMs } : {}),
    },
    logger,
    metrics,
  );
  let seq = 0;
  const sid = new Uint8Array(16).fill(7);
  const append = (readings: [ts: number, value: number][], receivedMs: number) =>
    stream.append([
      {
        deviceId: 'press-07',
        streamId: sid,
        seq: ++seq,
        receivedMs,
        readings: readings.length,
        payload: encodeBatch({
          deviceId: 'press-07',
          streamId: sid,
          seq,
          clock: { synced: true, anchorWallMs: receivedMs, anchorMonoMs: 1 },
          readings: readings.map(([ts, value]) => ({ sensor: 'temp_c', ts, value })),
        }),
      },
    ]);
  const buckets = async (resolution: string) =>
    (await store.queryBuckets({ device: 'press-07', sensor: 'temp_c', resolution, from: 0, to: 8.64e15, limit: 100_000 })).map((b) => ({
      start: new Date(b.start).toISOString(),
      count: b.stats.count,
    }));
  /** A counter's value (registering it again returns the aggregator's own instance). */
  const counter = (name: string, labels?: Record<string, string>) =>
    counterValue(metrics.counter(name, '', labels ? Object.keys(labels) : []), labels);
  return { agg, store, append, buckets, counter };
}

describe('aggregate retention', () => {
  it('deletes expired buckets per resolution, keeping what is within retention', async () => {
    // Aggregated while none of it is expired (the clock still says T0): one reading per hour for 3 days.
    const now = { value: T0 };
    const at0 = await setup(now);
    const readings: [number, number][] = Array.from({ length: 72 }, (_, i) => [T0 + i * HOUR + 30_000, i]);
    await at0.append(readings, T0 + 72 * HOUR);
    await at0.agg.drain();
    expect(await at0.buckets('1m')).toHaveLength(72);
    expect(await at0.buckets('1h')).toHaveLength(72);

    // Three days later, retention removes 1m buckets ending before now-2h and 1h buckets ending before now-2d.
    now.value = T0 + 3 * DAY + 30 * MINUTE;
    // 1m: cutoff T0+70h30m, so the buckets of hours 0..70 went (71) and hour 71's stays.
    // 1h: cutoff T0+24h30m, so hours 0..23 went (24); the bucket holding the cutoff stays.
    expect(await at0.agg.trimExpired()).toBe(71 + 24);
    expect((await at0.buckets('1m')).map((b) => b.start)).toEqual([new Date(T0 + 71 * HOUR).toISOString()]);
    expect((await at0.buckets('1h'))[0]!.start).toBe(new Date(T0 + DAY).toISOString());
    expect(await at0.buckets('1h')).toHaveLength(48);
    expect(await at0.buckets('1d')).toEqual([
      { start: '2026-11-27T00:00:00.000Z', count: 24 },
      { start: '2026-11-28T00:00:00.000Z', count: 24 },
      { start: '2026-11-29T00:00:00.000Z', count: 24 },
    ]);
    expect(await at0.counter('aggregate_buckets_trimmed_total', { resolution: '1m' })).toBe(71);
    expect(await at0.counter('aggregate_buckets_trimmed_total', { resolution: '1h' })).toBe(24);
    // Idempotent: a second pass finds nothing more.
    expect(await at0.agg.trimExpired()).toBe(0);
  });

  it('a late reading for an expired bucket does not bring it back; it still counts where retention allows', async () => {
    const now = { value: T0 + 10 * DAY };
    const t = await setup(now);
    await t.agg.trimExpired(); // sets the horizons from `now`
    // Fresh data, then a backlog: one reading 5 hours old (1m expired, 1h kept) and one 5 days old (1m and
    // 1h expired, 1d kept forever).
    await t.append([[now.value - 60_000, 1]], now.value);
    await t.append(
      [
        [now.value - 5 * HOUR, 2],
        [now.value - 5 * DAY, 3],
      ],
      now.value,
    );
    await t.agg.drain();
    expect((await t.buckets('1m')).map((b) => b.count)).toEqual([1]);
    expect((await t.buckets('1h')).map((b) => b.count)).toEqual([1, 1]);
    expect((await t.buckets('1d')).map((b) => b.count)).toEqual([1, 2]);
    expect(await t.counter('bucket_updates_outside_retention_total', { resolution: '1m' })).toBe(2);
    expect(await t.counter('bucket_updates_outside_retention_total', { resolution: '1h' })).toBe(1);
    // Every reading reached at least the 1d resolution: none is unaggregated.
    expect(await t.store.unaggregated()).toEqual({});
    expect(await t.counter('aggregated_readings_total')).toBe(3);
  });

  it('a reading past retention at every resolution is counted as outside_retention and changes nothing', async () => {
    const now = { value: T0 + 10 * DAY };
    const t = await setup(now, 2); // 1m and 1h only
    await t.agg.trimExpired();
    await t.append([[now.value - 5 * DAY, 3]], now.value);
    await t.agg.drain();
    expect(await t.buckets('1m')).toEqual([]);
    expect(await t.buckets('1h')).toEqual([]);
    expect(await t.store.unaggregated()).toEqual({ outside_retention: 1 });
    expect(await t.store.watermark('press-07')).toBeUndefined();
    expect(await t.counter('unaggregated_readings_total', { reason: 'outside_retention' })).toBe(1);
    expect(await t.counter('aggregated_readings_total')).toBe(0);
  });

  it('runs in the background while the aggregator runs', async () => {
    const now = { value: T0 };
    const t = await setup(now, 3, 20);
    await t.append([[T0 + 30_000, 1]], T0 + MINUTE);
    await t.agg.start();
    try {
      await waitFor(async () => (await t.buckets('1m')).length === 1, { timeoutMs: 10_000, description: 'the reading to be aggregated' });
      now.value = T0 + 3 * HOUR; // the 1m bucket is now past its 2 h retention
      await waitFor(async () => (await t.buckets('1m')).length === 0, { timeoutMs: 10_000, description: 'the background pass to delete it' });
      expect((await t.buckets('1h')).map((b) => b.count)).toEqual([1]);
    } finally {
      await t.agg.stop();
    }
  });
});
