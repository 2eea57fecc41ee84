// The ?tag= merge of /api/v1/aggregates: merged statistics equal those of the union of the devices'
// readings (count, sum, min, max, first, last exactly; mean and stddev to rounding), `final` only when every
// part is, revisions add up, and paging through the merge with the route's cursor rule yields every bucket
// start exactly once, each whole (property test against a direct computation).
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { BucketRecord } from '../aggregate/aggregate-store.js';
import { addValue, bucketStart, emptyStats, stddev } from '../aggregate/bucket-stats.js';
import { mergeDeviceBuckets, type DeviceBuckets } from './merged-buckets.js';

const RES = 60_000;
const LATENESS = 5 * 60_000;

interface Reading {
  device: number;
  ts: number;
  value: number;
}

/** One device's buckets from its readings, as the aggregator folds them. */
function bucketsOf(readings: readonly Reading[], device: number): BucketRecord[] {
  const by = new Map<number, BucketRecord>();
  for (const r of readings.filter((x) => x.device === device)) {
    const start = bucketStart(r.ts, RES);
    let b = by.get(start);
    if (!b) by.set(start, (b = { device: `d${device}`, sensor: 's', resolution: '1m', start, stats: emptyStats(), revision: device }));
    addValue(b.stats, r.ts, r.value);
  }
  return [...by.values()].sort((a, b) => a.start - b.start);
}

/** The route's paging: each device gives its first limit + 1 buckets after the cursor. */
function pages(devices: BucketRecord[][], watermarks: (number | undefined)[], limit: number) {
  const out = [];
  let after: number | undefined;
  for (let guard = 0; guard < 1000; guard++) {
    const parts: DeviceBuckets[] = devices.map((rows, i) => ({ rows: rows.filter((b) => after === undefined || b.start > after).slice(0, limit + 1), watermark: watermarks[i] }));
    const page = mergeDeviceBuckets(parts, limit, RES, LATENESS);
    out.push(...page.items);
    if (page.lastStart === undefined) return out;
    after = page.lastStart;
  }
  throw new Error('paging did not end');
}

const reading = fc.record({
  device: fc.integer({ min: 0, max: 2 }),
  ts: fc.integer({ min: 0, max: 20 * RES }),
  value: fc.integer({ min: -1000, max: 1000 }).map((v) => v / 10),
});

describe('mergeDeviceBuckets', () => {
  it('property: paging the merge gives every start once, with the statistics of the union of readings', () => {
    fc.assert(
      fc.property(fc.array(reading, { maxLength: 200 }), fc.integer({ min: 1, max: 7 }), fc.array(fc.option(fc.integer({ min: 0, max: 30 * RES }), { nil: undefined }), { minLength: 3, maxLength: 3 }), (readings, limit, watermarks) => {
        const devices = [0, 1, 2].map((d) => bucketsOf(readings, d));
        const items = pages(devices, watermarks, limit);
        const starts = [...new Set(readings.map((r) => bucketStart(r.ts, RES)))].sort((a, b) => a - b);
        expect(items.map((b) => Date.parse(b.start))).toEqual(starts);
        for (const item of items) {
          const start = Date.parse(item.start);
          const inside = readings.filter((r) => bucketStart(r.ts, RES) === start);
          const all = emptyStats();
          for (const r of [...inside].sort((a, b) => a.ts - b.ts)) addValue(all, r.ts, r.value);
          const parts = [0, 1, 2].filter((d) => inside.some((r) => r.device === d));
          expect(item.device).toBe('*');
          expect([item.count, item.min, item.max, item.first, item.last]).toEqual([all.count, all.min, all.max, all.first, all.last]);
          expect(item.sum).toBeCloseTo(all.sum, 9);
          expect(item.avg).toBeCloseTo(all.mean, 9);
          expect(item.stddev).toBeCloseTo(stddev(all), 6);
          expect(item.revision).toBe(parts.reduce((n, d) => n + d, 0)); // each part's revision is its device number
          expect(item.final).toBe(parts.every((d) => (watermarks[d] ?? -Infinity) >= start + RES + LATENESS));
        }
      }),
      { numRuns: 300 },
    );
  });

  it('no device, or none with buckets: an empty page without a cursor', () => {
    expect(mergeDeviceBuckets([], 10, RES, LATENESS)).toEqual({ items: [], lastStart: undefined });
    expect(mergeDeviceBuckets([{ rows: [], watermark: undefined }], 10, RES, LATENESS)).toEqual({ items: [], lastStart: undefined });
  });
});
