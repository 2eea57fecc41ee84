// Per-reading visibility from bucket-level observations. The aggregator folds a device's readings in stream
// order, so a bucket showing count c holds exactly the first c of its readings in stream order: the first
// observation of a bucket with count > i is when its i-th reading became visible. Every observation's sum is
// checked against the prefix sum of the readings it claims (same order of additions, so equal to the bit),
// which proves the attribution rather than assuming it.
import Database from 'better-sqlite3';
import { decodeBatch } from '@tidemark/proto';

export const bucketKey = (device: string, sensor: string, start: number) => `${device}|${sensor}|${start}`;

/** What was seen of each bucket over time: (time, count, sum), recorded only when the count grew. */
export class BucketObservations {
  private readonly series = new Map<string, { at: number[]; count: number[]; sum: number[] }>();
  /** Observations whose count was lower than one seen earlier (a bucket must never shrink). */
  shrinks = 0;
  observations = 0;

  observe(key: string, at: number, count: number, sum: number): void {
    this.observations++;
    let s = this.series.get(key);
    if (!s) this.series.set(key, (s = { at: [], count: [], sum: [] }));
    const last = s.count.length > 0 ? s.count[s.count.length - 1]! : 0;
    if (count < last) this.shrinks++;
    if (count <= last) return;
    s.at.push(at);
    s.count.push(count);
    s.sum.push(sum);
  }

  get(key: string): { at: number[]; count: number[]; sum: number[] } | undefined {
    return this.series.get(key);
  }
}

/** One bucket's readings in stream order, with the collector's receive time of each reading's batch. */
export interface BucketReadings {
  ts: number[];
  value: number[];
  receivedMs: number[];
}

/**
 * Every reading in a collector's stream store (read-only), grouped by bucket of `resolutionMs`, in stream
 * order; and, for the batches `countBatch` selects by receive time, their size and their oldest reading's age
 * at receipt.
 */
export function readStoredBuckets(
  streamDb: string,
  resolutionMs: number,
  countBatch: (receivedMs: number) => boolean,
): { buckets: Map<string, BucketReadings>; batches: { readings: number; ageMs: number; spanMs: number }[] } {
  const buckets = new Map<string, BucketReadings>();
  const batches: { readings: number; ageMs: number; spanMs: number }[] = [];
  const db = new Database(streamDb, { readonly: true, fileMustExist: true });
  try {
    const rows = db.prepare('SELECT device, received_ms, payload FROM stream ORDER BY offset').iterate() as Iterable<{ device: string; received_ms: number; payload: Buffer }>;
    for (const row of rows) {
      const batch = decodeBatch(new Uint8Array(row.payload));
      let lo = Infinity;
      let hi = -Infinity;
      for (const r of batch.readings) {
        const key = bucketKey(row.device, r.sensor, r.ts - (r.ts % resolutionMs));
        let b = buckets.get(key);
        if (!b) buckets.set(key, (b = { ts: [], value: [], receivedMs: [] }));
        b.ts.push(r.ts);
        b.value.push(r.value);
        b.receivedMs.push(row.received_ms);
        lo = Math.min(lo, r.ts);
        hi = Math.max(hi, r.ts);
      }
      if (countBatch(row.received_ms)) batches.push({ readings: batch.readings.length, ageMs: row.received_ms - lo, spanMs: hi - lo });
    }
  } finally {
    db.close();
  }
  return { buckets, batches };
}

export interface AttributionCheck {
  /** Observations whose sum equals the prefix sum of the readings their count covers. */
  sums_checked: number;
  sum_mismatches: number;
  /** Observations claiming more readings than the stream store holds for the bucket. */
  count_overruns: number;
}

/**
 * Calls `visit` for every reading with the time it became visible in `obs` (undefined: never seen), and
 * checks every observation against the readings.
 */
export function attribute(
  readings: ReadonlyMap<string, BucketReadings>,
  obs: BucketObservations,
  visit: (key: string, i: number, r: BucketReadings, visibleAt: number | undefined) => void,
): AttributionCheck {
  const check: AttributionCheck = { sums_checked: 0, sum_mismatches: 0, count_overruns: 0 };
  for (const [key, r] of readings) {
    const s = obs.get(key);
    const prefix = new Float64Array(r.value.length + 1);
    for (let i = 0; i < r.value.length; i++) prefix[i + 1] = prefix[i]! + r.value[i]!;
    if (s) {
      for (let j = 0; j < s.count.length; j++) {
        const c = s.count[j]!;
        if (c > r.value.length) {
          check.count_overruns++;
          continue;
        }
        check.sums_checked++;
        if (Math.abs(prefix[c]! - s.sum[j]!) > 1e-9 * Math.max(1, Math.abs(s.sum[j]!))) check.sum_mismatches++;
      }
    }
    let j = 0;
    for (let i = 0; i < r.ts.length; i++) {
      while (s && j < s.count.length && s.count[j]! <= i) j++;
      visit(key, i, r, s && j < s.count.length ? s.at[j] : undefined);
    }
  }
  return check;
}

export interface Summary {
  n: number;
  p50_ms: number;
  p95_ms: number;
  p99_ms: number;
  max_ms: number;
  mean_ms: number;
}

/** Nearest-rank percentiles of a sample of milliseconds. */
export function summarize(values: ArrayLike<number>): Summary {
  const a = Float64Array.from(values).sort();
  const n = a.length;
  const q = (p: number) => (n === 0 ? Number.NaN : a[Math.min(n - 1, Math.max(0, Math.ceil(p * n) - 1))]!);
  let sum = 0;
  for (let i = 0; i < n; i++) sum += a[i]!;
  const r = (x: number) => Math.round(x * 10) / 10;
  return { n, p50_ms: r(q(0.5)), p95_ms: r(q(0.95)), p99_ms: r(q(0.99)), max_ms: r(n ? a[n - 1]! : Number.NaN), mean_ms: r(n ? sum / n : Number.NaN) };
}
