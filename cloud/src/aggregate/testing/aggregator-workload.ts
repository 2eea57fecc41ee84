// Test-only: the aggregator's test workload, shared by its SQLite tests (aggregator.test.ts) and the same
// checks on other backends (aggregator-backends.test.ts): batches as the collector appends them, random
// workloads with resends and unsynced clocks, and an independent reference computed from raw readings.
import fc from 'fast-check';
import { encodeBatch, type Reading } from '@tidemark/proto';
import { expect } from 'vitest';
import type { SqliteStreamStore } from '../../store/sqlite-stream-store.js';
import { series } from '../aggregate-store.contract.js';
import type { AggregateStore } from '../aggregate-store.js';
import type { Resolution } from '../aggregator.js';

export const MINUTE = 60_000;
export const HOUR = 3_600_000;
export const DAY = 86_400_000;
export const RESOLUTIONS: Resolution[] = [
  { label: '1m', ms: MINUTE },
  { label: '1h', ms: HOUR },
  { label: '1d', ms: DAY },
];
export const LATENESS = 5 * MINUTE;
export const SKEW = 5 * MINUTE;
/** 2026-11-27T00:00:00Z: a UTC day boundary, so bucket starts are easy to read in failures. */
export const T0 = Date.UTC(2026, 10, 27);

// ---------------------------------------------------------------------------------------------------------
// Batches on the wire, as the collector appends them.

export interface TestBatch {
  device: string;
  stream: number;
  seq: number;
  synced: boolean;
  readings: Reading[];
  receivedMs: number;
}

export function streamId(device: string, n: number): Uint8Array {
  const id = new Uint8Array(16);
  Buffer.from(device).copy(Buffer.from(id.buffer), 0, 0, 12);
  id[15] = n;
  return id;
}

export function appendItem(b: TestBatch) {
  const sid = streamId(b.device, b.stream);
  const payload = encodeBatch({
    deviceId: b.device,
    streamId: sid,
    seq: b.seq,
    clock: { synced: b.synced, anchorWallMs: b.receivedMs, anchorMonoMs: 1234 },
    readings: b.readings,
  });
  return { deviceId: b.device, streamId: sid, seq: b.seq, receivedMs: b.receivedMs, readings: b.readings.length, payload };
}

export async function append(stream: SqliteStreamStore, ...batches: TestBatch[]) {
  return stream.append(batches.map(appendItem));
}

let nextSeq = 1;
export function batch(device: string, readings: Array<[sensor: string, ts: number, value: number]>, over: Partial<TestBatch> = {}): TestBatch {
  const maxTs = Math.max(...readings.map((r) => r[1]));
  return {
    device,
    stream: 1,
    seq: nextSeq++,
    synced: true,
    receivedMs: maxTs + 1000,
    readings: readings.map(([sensor, ts, value]) => ({ sensor, ts, value })),
    ...over,
  };
}

// ---------------------------------------------------------------------------------------------------------
// The independent reference: group raw readings by device/sensor/resolution/UTC bucket.

export interface RefBucket {
  device: string;
  sensor: string;
  resolution: string;
  start: number;
  values: number[];
  first: { ts: number; value: number };
  last: { ts: number; value: number };
}

export function referenceBuckets(readings: ReadonlyArray<Reading & { device: string }>): Map<string, RefBucket> {
  const out = new Map<string, RefBucket>();
  for (const r of readings) {
    for (const res of RESOLUTIONS) {
      const start = Math.floor(r.ts / res.ms) * res.ms; // ts >= 0 here
      const key = `${r.device}|${r.sensor}|${res.label}|${start}`;
      let b = out.get(key);
      if (!b) out.set(key, (b = { device: r.device, sensor: r.sensor, resolution: res.label, start, values: [], first: r, last: r }));
      b.values.push(r.value);
      if (r.ts < b.first.ts || (r.ts === b.first.ts && r.value < b.first.value)) b.first = r;
      if (r.ts > b.last.ts || (r.ts === b.last.ts && r.value > b.last.value)) b.last = r;
    }
  }
  return out;
}

export interface BucketRow {
  device: string;
  sensor: string;
  resolution: string;
  start: number;
  count: number;
  sum: number;
  min: number;
  max: number;
  mean: number;
  m2: number;
  first_ts: number;
  first: number;
  last_ts: number;
  last: number;
  revision: number;
}

export function close(actual: number, expected: number, scale: number): boolean {
  return Math.abs(actual - expected) <= 1e-9 * Math.max(1, scale, Math.abs(expected));
}

export function expectBucketsMatch(rows: readonly BucketRow[], ref: Map<string, RefBucket>): void {
  const got = new Map(rows.map((r) => [`${r.device}|${r.sensor}|${r.resolution}|${r.start}`, r]));
  expect([...got.keys()].sort()).toEqual([...ref.keys()].sort());
  for (const [key, b] of ref) {
    const row = got.get(key)!;
    const n = b.values.length;
    const sum = b.values.reduce((a, v) => a + v, 0);
    const mean = sum / n;
    const sd = Math.sqrt(b.values.reduce((a, v) => a + (v - mean) ** 2, 0) / n);
    const scale = Math.max(...b.values.map(Math.abs));
    const absSum = b.values.reduce((a, v) => a + Math.abs(v), 0);
    const problems: string[] = [];
    if (row.count !== n) problems.push(`count ${row.count} != ${n}`);
    if (!close(row.sum, sum, absSum)) problems.push(`sum ${row.sum} != ${sum}`);
    if (row.min !== Math.min(...b.values)) problems.push(`min ${row.min}`);
    if (row.max !== Math.max(...b.values)) problems.push(`max ${row.max}`);
    if (!close(row.mean, mean, scale)) problems.push(`avg ${row.mean} != ${mean}`);
    if (!close(Math.sqrt(Math.max(0, row.m2 / row.count)), sd, scale)) problems.push(`stddev ${Math.sqrt(row.m2 / row.count)} != ${sd}`);
    if (row.first_ts !== b.first.ts || row.first !== b.first.value) problems.push(`first ${row.first_ts}/${row.first} != ${b.first.ts}/${b.first.value}`);
    if (row.last_ts !== b.last.ts || row.last !== b.last.value) problems.push(`last ${row.last_ts}/${row.last} != ${b.last.ts}/${b.last.value}`);
    if (problems.length > 0) throw new Error(`bucket ${key}: ${problems.join('; ')}`);
  }
}

// ---------------------------------------------------------------------------------------------------------
// Random workloads: several devices, each with one stream, readings split into batches; some batches are
// unsynced; some are appended again (the collector does that on a resend) and must be deduped by the store.

export const DEVICES = ['press-07', 'van.3', 'gw_1'] as const;
export const SENSORS = ['temp_c', 'rpm', 'door_open'] as const;

export const readingArb = fc.record({
  device: fc.constantFrom(...DEVICES),
  sensor: fc.constantFrom(...SENSORS),
  // Three days, so 1d buckets differ too; a small set of timestamps makes ties common.
  ts: fc.oneof(fc.integer({ min: 0, max: 3 * DAY }), fc.integer({ min: 0, max: 20 }).map((i) => i * 997)).map((d) => T0 + d),
  value: fc.oneof(
    fc.integer({ min: -10_000_000, max: 10_000_000 }).map((m) => m / 100),
    fc.integer({ min: 0, max: 1 }),
    fc.integer({ min: -1000, max: 1000 }).map((m) => 1e6 + m / 1000),
  ),
});

export const workloadArb = fc
  .record({
    readings: fc.array(readingArb, { minLength: 1, maxLength: 150 }),
    batchSizes: fc.array(fc.integer({ min: 1, max: 12 }), { minLength: 1, maxLength: 20 }),
    unsynced: fc.array(fc.boolean(), { minLength: 1, maxLength: 20 }),
    dupes: fc.array(fc.nat(), { maxLength: 8 }),
    callSizes: fc.array(fc.integer({ min: 1, max: 3 }), { minLength: 1, maxLength: 10 }),
    chunkRecords: fc.integer({ min: 1, max: 7 }),
  })
  .chain((w) => {
    // Cut each device's readings into batches (in generation order, so event time may go backwards).
    const batches: TestBatch[] = [];
    let cut = 0;
    for (const device of DEVICES) {
      const mine = w.readings.filter((r) => r.device === device);
      let seq = 1;
      for (let i = 0; i < mine.length; ) {
        const size = w.batchSizes[cut % w.batchSizes.length]!;
        const synced = !(w.unsynced[cut % w.unsynced.length]! && cut % 3 === 0);
        cut++;
        const readings = mine.slice(i, i + size).map(({ sensor, ts, value }) => ({ sensor, ts, value }));
        batches.push({ device, stream: 1, seq: seq++, synced, readings, receivedMs: T0 + 4 * DAY });
        i += size;
      }
    }
    const dupes = w.dupes.map((d) => batches[d % batches.length]!);
    // Interleave devices and resends in any order; a resend may even arrive before the first copy.
    return fc.record({
      order: fc.shuffledSubarray([...batches, ...dupes], { minLength: batches.length + dupes.length, maxLength: batches.length + dupes.length }),
      batches: fc.constant(batches),
      callSizes: fc.constant(w.callSizes),
      chunkRecords: fc.constant(w.chunkRecords),
    });
  });

export async function appendInCalls(stream: SqliteStreamStore, order: readonly TestBatch[], callSizes: readonly number[]): Promise<number> {
  let oks = 0;
  for (let i = 0, c = 0; i < order.length; c++) {
    const size = callSizes[c % callSizes.length]!;
    const out = await append(stream, ...order.slice(i, i + size));
    oks += out.filter((o) => o === 'ok').length;
    i += size;
  }
  return oks;
}

/** Everything the store holds for the workload's devices and sensors, through the interface, in a stable order. */
export async function dumpStore(store: AggregateStore, devices: readonly string[] = DEVICES, sensors: readonly string[] = SENSORS) {
  const buckets: BucketRow[] = [];
  for (const device of devices) {
    for (const sensor of sensors) {
      for (const res of RESOLUTIONS) {
        for (const b of await series(store, device, sensor, res.label)) {
          const s = b.stats;
          buckets.push({ device, sensor, resolution: res.label, start: b.start, count: s.count, sum: s.sum, min: s.min, max: s.max, mean: s.mean, m2: s.m2, first_ts: s.firstTs, first: s.first, last_ts: s.lastTs, last: s.last, revision: b.revision });
        }
      }
    }
  }
  return {
    checkpoint: await store.checkpoint(),
    buckets,
    watermarks: [...(await store.getWatermarks(devices))].sort(),
    sensors: await Promise.all(devices.map((d) => store.sensors(d))),
    unaggregated: await store.unaggregated(),
  };
}
