// The aggregator on real SQLite stores: its buckets must equal an independent reference computed from the
// raw readings (after the stream store's dedup), survive a crash at any commit with identical rows, count
// every reading it does not aggregate, and handle late readings as its header promises.
// (aggregator-backends.test.ts runs the reference and crash properties on PostgreSQL too.)
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import fc from 'fast-check';
import { counterValue, createLogger, MetricsRegistry } from '@tidemark/shared';
import { afterEach, describe, expect, it } from 'vitest';
import { SqliteStreamStore } from '../store/sqlite-stream-store.js';
import type { AggregateStore } from './aggregate-store.js';
import { Aggregator, type AggregatorOptions } from './aggregator.js';
import { SqliteAggregateStore } from './sqlite-aggregate-store.js';
import {
  append,
  appendInCalls,
  batch,
  DAY,
  DEVICES,
  expectBucketsMatch,
  HOUR,
  LATENESS,
  MINUTE,
  referenceBuckets,
  RESOLUTIONS,
  SKEW,
  streamId,
  T0,
  workloadArb,
  type BucketRow,
  type TestBatch,
} from './testing/aggregator-workload.js';

const logger = createLogger({ name: 'aggregator-test', level: 'silent' });

// ---------------------------------------------------------------------------------------------------------
// Fixture: stores in a temp dir, kept track of so every test closes and deletes what it opened.

interface Closable {
  stop(): Promise<void>;
}
const opened: Closable[] = [];
const dirs: string[] = [];
async function closeAll(): Promise<void> {
  for (const c of opened.splice(0).reverse()) await c.stop();
  for (const d of dirs.splice(0)) await fs.rm(d, { recursive: true, force: true });
}
afterEach(closeAll);

async function tempDir(): Promise<string> {
  const d = await fs.mkdtemp(path.join(os.tmpdir(), 'tidemark-agg-'));
  dirs.push(d);
  return d;
}

async function openStream(file: string): Promise<SqliteStreamStore> {
  const s = new SqliteStreamStore({ path: file });
  await s.start();
  opened.push(s);
  return s;
}

async function openAggregates(file: string): Promise<SqliteAggregateStore> {
  const s = new SqliteAggregateStore(file);
  await s.start();
  opened.push(s);
  return s;
}

function aggregator(stream: SqliteStreamStore, store: AggregateStore, opts: Partial<AggregatorOptions> = {}, metrics = new MetricsRegistry('tidemark_cloud')) {
  const agg = new Aggregator(stream, store, { resolutions: RESOLUTIONS, allowedLatenessMs: LATENESS, maxFutureSkewMs: SKEW, ...opts }, logger, metrics);
  return { agg, metrics };
}

interface Env {
  dir: string;
  streamFile: string;
  stream: SqliteStreamStore;
  aggFile: string;
  aggregates: SqliteAggregateStore;
}

async function env(): Promise<Env> {
  const dir = await tempDir();
  const streamFile = path.join(dir, 'stream.db');
  const aggFile = path.join(dir, 'aggregates.db');
  return { dir, streamFile, stream: await openStream(streamFile), aggFile, aggregates: await openAggregates(aggFile) };
}

// ---------------------------------------------------------------------------------------------------------

/** Every table of an aggregate database, read with a separate connection, in a stable order. */
function dumpAggregates(file: string) {
  const db = new Database(file, { readonly: true });
  try {
    return {
      buckets: db.prepare('SELECT * FROM buckets ORDER BY device, sensor, resolution, start').all() as BucketRow[],
      watermarks: db.prepare('SELECT * FROM watermarks ORDER BY device').all() as Array<{ device: string; watermark: number }>,
      sensors: db.prepare('SELECT * FROM sensors ORDER BY device, sensor').all(),
      unaggregated: db.prepare('SELECT * FROM unaggregated ORDER BY reason').all(),
      checkpoint: db.prepare('SELECT offset FROM checkpoints WHERE partition = 0').pluck().get() as number,
    };
  } finally {
    db.close();
  }
}

// ---------------------------------------------------------------------------------------------------------

describe('Aggregator', () => {
  it('a small known case: every field of every bucket', async () => {
    const e = await env();
    const t = T0 + 10 * HOUR; // 10:00:00Z
    await append(
      e.stream,
      batch('press-07', [
        ['temp_c', t + 5_000, 20],
        ['temp_c', t + 65_000, 22],
        ['temp_c', t + 10_000, 24],
        ['temp_c', t + 10_000, 18],
      ]),
    );
    const { agg } = aggregator(e.stream, e.aggregates);
    await agg.drain();
    const rows = dumpAggregates(e.aggFile).buckets;
    const pick = (res: string) => rows.filter((r) => r.resolution === res).map(({ m2, ...r }) => ({ ...r, stddev: Math.sqrt(m2 / r.count) }));
    expect(pick('1m')).toEqual([
      { device: 'press-07', sensor: 'temp_c', resolution: '1m', start: t, count: 3, sum: 62, min: 18, max: 24, mean: 62 / 3, first_ts: t + 5_000, first: 20, last_ts: t + 10_000, last: 24, revision: 0, stddev: expect.closeTo(Math.sqrt(56 / 9), 12) },
      { device: 'press-07', sensor: 'temp_c', resolution: '1m', start: t + MINUTE, count: 1, sum: 22, min: 22, max: 22, mean: 22, first_ts: t + 65_000, first: 22, last_ts: t + 65_000, last: 22, revision: 0, stddev: 0 },
    ]);
    expect(pick('1h')).toEqual([
      { device: 'press-07', sensor: 'temp_c', resolution: '1h', start: t, count: 4, sum: 84, min: 18, max: 24, mean: 21, first_ts: t + 5_000, first: 20, last_ts: t + 65_000, last: 22, revision: 0, stddev: Math.sqrt(5) },
    ]);
    expect(pick('1d').map((r) => [new Date(r.start).toISOString(), r.count])).toEqual([['2026-11-27T00:00:00.000Z', 4]]);
    expect(await e.aggregates.watermark('press-07')).toBe(t + 65_000);
    expect(await e.aggregates.checkpoint()).toBe(2);
    expect(await e.aggregates.sensors('press-07')).toEqual([
      { name: 'temp_c', first_seen: new Date(t + 5_000).toISOString(), last_seen: new Date(t + 65_000).toISOString(), readings: 4 },
    ]);
  });

  it('property: buckets equal the reference for any batching, interleaving, resends and chunk size', async () => {
    await fc.assert(
      fc.asyncProperty(workloadArb, async ({ order, batches, callSizes, chunkRecords }) => {
        try {
          await checkAgainstReference(order, batches, callSizes, chunkRecords);
        } finally {
          await closeAll();
        }
      }),
      { numRuns: 40 },
    );
  }, 120_000);

  /** Appends the workload, drains, and checks every table against the reference. */
  async function checkAgainstReference(order: TestBatch[], batches: TestBatch[], callSizes: number[], chunkRecords: number): Promise<void> {
    const e = await env();
    const oks = await appendInCalls(e.stream, order, callSizes);
    expect(oks).toBe(batches.length); // every resend was a duplicate
    const { agg, metrics } = aggregator(e.stream, e.aggregates, { chunkRecords });
    await agg.drain();

    const synced = batches.filter((b) => b.synced);
    const counted = synced.flatMap((b) => b.readings.map((r) => ({ ...r, device: b.device })));
    const dump = dumpAggregates(e.aggFile);
    expectBucketsMatch(dump.buckets, referenceBuckets(counted));
    expect(dump.checkpoint).toBe(batches.length + 1);

    // Watermark: the highest aggregated event time per device; unsynced readings never move it.
    const wm = new Map<string, number>();
    for (const r of counted) wm.set(r.device, Math.max(wm.get(r.device) ?? -Infinity, r.ts));
    expect(dump.watermarks).toEqual([...wm].sort(([a], [b]) => (a < b ? -1 : 1)).map(([device, watermark]) => ({ device, watermark })));

    // Nothing dropped silently: unsynced readings are counted (once, despite resends), the rest aggregated.
    const unsynced = batches.filter((b) => !b.synced).reduce((a, b) => a + b.readings.length, 0);
    expect(await e.aggregates.unaggregated()).toEqual(unsynced > 0 ? { clock_unsynced: unsynced } : {});
    expect(await counterValue(metrics.counter('aggregated_readings_total', ''))).toBe(counted.length);
    expect(await counterValue(metrics.counter('unaggregated_readings_total', '', ['reason']), { reason: 'clock_unsynced' })).toBe(unsynced);
    for (const device of DEVICES) {
      const mine = counted.filter((r) => r.device === device);
      const expected = [...new Set(mine.map((r) => r.sensor))].sort().map((name) => {
        const rs = mine.filter((r) => r.sensor === name);
        const ts = rs.map((r) => r.ts);
        return { name, first_seen: new Date(Math.min(...ts)).toISOString(), last_seen: new Date(Math.max(...ts)).toISOString(), readings: rs.length };
      });
      expect(await e.aggregates.sensors(device)).toEqual(expected);
    }
  }

  it('property: a crash after any commit resumes to exactly the rows of an uninterrupted run', async () => {
    await fc.assert(
      fc.asyncProperty(workloadArb, fc.nat(), fc.integer({ min: 1, max: 9 }), async ({ order, callSizes, chunkRecords }, crashAfter, chunkAfter) => {
        const e = await env();
        await appendInCalls(e.stream, order, callSizes);

        // Reference run: no crash.
        await aggregator(e.stream, e.aggregates, { chunkRecords }).agg.drain();
        const expected = dumpAggregates(e.aggFile);

        // Crashing run: a few commits, then the process dies without closing anything (kill -9).
        const crashFile = path.join(e.dir, 'crash.db');
        const dying = await openAggregates(crashFile);
        const first = aggregator(await openStream(e.streamFile), dying, { chunkRecords }).agg;
        const steps = crashAfter % (Math.ceil(order.length / chunkRecords) + 1);
        for (let i = 0; i < steps; i++) await first.step();

        // The restarted process: new stores on the same files, a new aggregator, maybe another chunk size.
        const restarted = aggregator(await openStream(e.streamFile), await openAggregates(crashFile), { chunkRecords: chunkAfter }).agg;
        await restarted.drain();
        expect(dumpAggregates(crashFile)).toEqual(expected);
        await closeAll();
      }),
      { numRuns: 25 },
    );
  }, 120_000);

  it('a failed commit changes nothing, and retrying the step gives the uninterrupted result', async () => {
    const e = await env();
    const t = T0 + HOUR;
    await append(
      e.stream,
      batch('press-07', [['temp_c', t, 1]]),
      batch('press-07', [['temp_c', t + 7 * MINUTE, 2]]),
      batch('press-07', [['temp_c', t + 30_000, 3]]), // late for the 1m bucket at t
    );
    await aggregator(e.stream, e.aggregates).agg.drain();
    const expected = dumpAggregates(e.aggFile);

    const file = path.join(e.dir, 'flaky.db');
    const real = await openAggregates(file);
    let commits = 0;
    const flaky: AggregateStore = Object.assign(Object.create(real) as AggregateStore, {
      commit: async (c: Parameters<AggregateStore['commit']>[0]) => {
        if (++commits === 2) throw new Error('disk full');
        return real.commit(c);
      },
    });
    const { agg, metrics } = aggregator(e.stream, flaky, { chunkRecords: 2 });
    await agg.step();
    await expect(agg.step()).rejects.toThrow('disk full');
    await agg.drain();
    expect(dumpAggregates(file)).toEqual(expected);
    expect(await counterValue(metrics.counter('late_readings_total', ''))).toBe(1);
    expect(await counterValue(metrics.counter('aggregated_readings_total', ''))).toBe(3);
  });

  it('does not aggregate unsynced batches: counted as clock_unsynced, watermark untouched', async () => {
    const e = await env();
    const t = T0 + 2 * HOUR;
    await append(
      e.stream,
      batch('press-07', [['temp_c', t, 1], ['rpm', t + 1, 2]]),
      batch('press-07', [['temp_c', t + 5 * HOUR, 100], ['temp_c', t + 5 * HOUR + 1, 100], ['rpm', t, 3]], { synced: false }),
    );
    const { agg, metrics } = aggregator(e.stream, e.aggregates);
    await agg.drain();
    expect(await e.aggregates.unaggregated()).toEqual({ clock_unsynced: 3 });
    expect(await counterValue(metrics.counter('unaggregated_readings_total', '', ['reason']), { reason: 'clock_unsynced' })).toBe(3);
    expect(await e.aggregates.watermark('press-07')).toBe(t + 1);
    const rows = dumpAggregates(e.aggFile).buckets;
    expect(rows.map((r) => [r.sensor, r.resolution, r.count, r.sum])).toEqual([
      ['rpm', '1d', 1, 2],
      ['rpm', '1h', 1, 2],
      ['rpm', '1m', 1, 2],
      ['temp_c', '1d', 1, 1],
      ['temp_c', '1h', 1, 1],
      ['temp_c', '1m', 1, 1],
    ]);
  });

  it('does not aggregate readings stamped beyond maxFutureSkewMs after receipt: counted as future_timestamp', async () => {
    const e = await env();
    const received = T0 + 3 * HOUR;
    await append(
      e.stream,
      batch(
        'van.3',
        [
          ['temp_c', received - 1000, 1],
          ['temp_c', received + SKEW, 2], // exactly at the limit: trusted
          ['temp_c', received + SKEW + 1, 3],
          ['temp_c', received + DAY, 4],
        ],
        { receivedMs: received },
      ),
    );
    const { agg, metrics } = aggregator(e.stream, e.aggregates);
    await agg.drain();
    expect(await e.aggregates.unaggregated()).toEqual({ future_timestamp: 2 });
    expect(await counterValue(metrics.counter('unaggregated_readings_total', '', ['reason']), { reason: 'future_timestamp' })).toBe(2);
    expect(await counterValue(metrics.counter('aggregated_readings_total', ''))).toBe(2);
    expect(await e.aggregates.watermark('van.3')).toBe(received + SKEW);
    const day = dumpAggregates(e.aggFile).buckets.filter((r) => r.resolution === '1d');
    expect(day.map((r) => [r.start, r.count, r.sum])).toEqual([[T0, 2, 3]]);
  });

  it('late readings update a final bucket and bump its revision once per batch', async () => {
    const e = await env();
    const { agg, metrics } = aggregator(e.stream, e.aggregates);
    const late = () => counterValue(metrics.counter('late_readings_total', ''));
    const b10 = T0 + 10 * HOUR; // the 1m bucket [10:00, 10:01)
    const row = (res: string, start: number) => dumpAggregates(e.aggFile).buckets.find((r) => r.resolution === res && r.start === start);

    await append(e.stream, batch('press-07', [['temp_c', b10 + 30_000, 1]]));
    // Watermark one ms short of start + 1m + 5m: the bucket is not final yet, so this is not late.
    await append(e.stream, batch('press-07', [['temp_c', b10 + MINUTE + LATENESS - 1, 2]]));
    await append(e.stream, batch('press-07', [['temp_c', b10 + 40_000, 10]]));
    await agg.drain();
    expect(row('1m', b10)).toMatchObject({ count: 2, revision: 0 });
    expect(await late()).toBe(0);

    // Watermark reaches start + 1m + 5m: now the bucket is final.
    await append(e.stream, batch('press-07', [['temp_c', b10 + MINUTE + LATENESS, 3]]));
    await agg.drain();
    await append(e.stream, batch('press-07', [['temp_c', b10 + 45_000, 20]]));
    await agg.drain();
    expect(row('1m', b10)).toMatchObject({ count: 3, sum: 31, max: 20, last: 20, last_ts: b10 + 45_000, revision: 1 });
    expect(row('1h', b10)).toMatchObject({ count: 5, revision: 0 }); // the hour is far from final
    expect(row('1d', T0)).toMatchObject({ count: 5, revision: 0 });
    expect(await late()).toBe(1);

    // One batch with three late readings for the bucket: one revision, three late readings.
    // A second batch in the same chunk: another revision.
    await append(
      e.stream,
      batch('press-07', [['temp_c', b10 + 1, 5], ['temp_c', b10 + 2, 6], ['temp_c', b10 + 59_999, 7]]),
      batch('press-07', [['temp_c', b10 + 50_000, 8]]),
    );
    await agg.drain();
    expect(row('1m', b10)).toMatchObject({ count: 7, first_ts: b10 + 1, first: 5, last_ts: b10 + 59_999, last: 7, revision: 3 });
    expect(await late()).toBe(5);

    // Lateness is per device: another device's first readings for that minute are not late.
    await append(e.stream, batch('van.3', [['temp_c', b10 + 1000, 1]], { stream: 2 }));
    await agg.drain();
    expect(dumpAggregates(e.aggFile).buckets.find((r) => r.device === 'van.3' && r.resolution === '1m')).toMatchObject({ revision: 0 });
    expect(await late()).toBe(5);
  });

  it('a batch spanning a long time is not late for itself', async () => {
    const e = await env();
    const { agg, metrics } = aggregator(e.stream, e.aggregates);
    const t = T0 + 8 * HOUR;
    // The newest reading first: judged against the watermark before the batch, the old ones are on time.
    await append(e.stream, batch('gw_1', [['rpm', t + 3 * HOUR, 1], ['rpm', t, 2], ['rpm', t + HOUR, 3]]));
    await agg.drain();
    // The next batch moves on from a watermark of t+3h, but holds readings up to an hour older: same again
    // for the readings that the watermark before it does not make late, late for the rest.
    await append(e.stream, batch('gw_1', [['rpm', t + 5 * HOUR, 4], ['rpm', t + 3 * HOUR - 2 * MINUTE, 5], ['rpm', t + 3 * HOUR - 10 * MINUTE, 6]]));
    await agg.drain();
    const rows = dumpAggregates(e.aggFile).buckets;
    const revised = rows.filter((r) => r.revision > 0).map((r) => [r.resolution, new Date(r.start).toISOString(), r.revision]);
    // t+3h-2m: its minute ends at t+3h-1m, final needs wm >= t+3h+4m; wm before was t+3h: not late.
    // t+3h-10m: final at t+3h-4m <= t+3h: late, for the 1m bucket only.
    expect(revised).toEqual([['1m', new Date(t + 3 * HOUR - 10 * MINUTE).toISOString(), 1]]);
    expect(await counterValue(metrics.counter('late_readings_total', ''))).toBe(1);
    expect(await e.aggregates.watermark('gw_1')).toBe(t + 5 * HOUR);
  });

  it('skips a record that does not decode and keeps going', async () => {
    const e = await env();
    await append(e.stream, batch('press-07', [['temp_c', T0, 1]]));
    await e.stream.append([{ deviceId: 'press-07', streamId: streamId('press-07', 9), seq: 1, receivedMs: T0, readings: 1, payload: new Uint8Array([0xff, 0xff, 0xff]) }]);
    await append(e.stream, batch('press-07', [['temp_c', T0 + 1, 2]]));
    await aggregator(e.stream, e.aggregates).agg.drain();
    expect(await e.aggregates.checkpoint()).toBe(4);
    expect(dumpAggregates(e.aggFile).buckets.find((r) => r.resolution === '1m')).toMatchObject({ count: 2, sum: 3 });
    expect(Object.keys(await e.aggregates.unaggregated())).toEqual(['undecodable']);
  });

  it('is not wedged by extreme (finite) values: buckets stay numbers and later batches are aggregated', async () => {
    const e = await env();
    const big = Number.MAX_VALUE;
    await append(e.stream, batch('press-07', [['x', T0, big], ['x', T0 + 1, -big], ['x', T0 + 2, big], ['x', T0 + 3, -big / 3]]));
    await append(e.stream, batch('press-07', [['temp_c', T0 + 4, 1]]));
    const { agg } = aggregator(e.stream, e.aggregates);
    await agg.drain();
    expect(await e.aggregates.checkpoint()).toBe(3);
    const rows = dumpAggregates(e.aggFile).buckets;
    expect(rows.filter((r) => r.sensor === 'temp_c')).toHaveLength(3);
    for (const r of rows.filter((r) => r.sensor === 'x')) {
      expect(r).toMatchObject({ count: 4, min: -big, max: big, first: big, last: -big / 3 });
      expect(Number.isFinite(r.mean)).toBe(true);
      expect(r.mean).toBeCloseTo((big / 4) * (2 / 3), -300);
      expect(r.m2).toBe(Infinity); // the squared deviations really exceed float64
    }
  });
});
