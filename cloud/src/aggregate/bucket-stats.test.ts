// Bucket statistics vs a plain two-pass reference: streaming (Welford) and merged (Chan) states must agree
// with it, first/last must not depend on arrival order, and bucket starts must be UTC-aligned.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { addValue, bucketStart, emptyStats, mergeStats, stddev, type BucketStats } from './bucket-stats.js';

interface Point {
  ts: number;
  value: number;
}

/** Two-pass reference: mean first, then squared deviations. first/last: earliest/latest ts, ties smaller/larger value. */
function reference(points: readonly Point[]) {
  const n = points.length;
  const sum = points.reduce((a, p) => a + p.value, 0);
  const mean = sum / n;
  const variance = points.reduce((a, p) => a + (p.value - mean) ** 2, 0) / n;
  let first = points[0]!;
  let last = points[0]!;
  for (const p of points) {
    if (p.ts < first.ts || (p.ts === first.ts && p.value < first.value)) first = p;
    if (p.ts > last.ts || (p.ts === last.ts && p.value > last.value)) last = p;
  }
  return {
    count: n,
    sum,
    min: Math.min(...points.map((p) => p.value)),
    max: Math.max(...points.map((p) => p.value)),
    mean,
    stddev: Math.sqrt(variance),
    first,
    last,
  };
}

function fold(points: readonly Point[]): BucketStats {
  const s = emptyStats();
  for (const p of points) addValue(s, p.ts, p.value);
  return s;
}

/** |a - b| within `rel` of the scale of the inputs (absolute near zero, relative elsewhere). */
function expectClose(actual: number, expected: number, scale: number, rel = 1e-9): void {
  const tol = rel * Math.max(1, scale, Math.abs(expected));
  if (!(Math.abs(actual - expected) <= tol)) throw new Error(`expected ${actual} to be within ${tol} of ${expected}`);
}

/** -0 and 0 compare equal (`<` cannot order them, so which one a tie keeps is arbitrary and harmless). */
const noSign = (x: number): number => x + 0;

function expectMatchesReference(s: BucketStats, points: readonly Point[]): void {
  const ref = reference(points);
  const scale = Math.max(...points.map((p) => Math.abs(p.value)));
  const absSum = points.reduce((a, p) => a + Math.abs(p.value), 0);
  expect(s.count).toBe(ref.count);
  expectClose(s.sum, ref.sum, absSum);
  expect(noSign(s.min)).toBe(noSign(ref.min));
  expect(noSign(s.max)).toBe(noSign(ref.max));
  expectClose(s.mean, ref.mean, scale);
  expectClose(stddev(s), ref.stddev, scale, 1e-7);
  expect([s.firstTs, noSign(s.first)]).toEqual([ref.first.ts, noSign(ref.first.value)]);
  expect([s.lastTs, noSign(s.last)]).toEqual([ref.last.ts, noSign(ref.last.value)]);
}

// Values as sensors produce them: decimals with a few places, over several magnitudes, often around an
// offset (a large mean with small spread is where naive sum-of-squares variance falls apart).
const valueArb = fc.oneof(
  fc.integer({ min: -1_000_000, max: 1_000_000 }).map((m) => m / 100),
  fc.double({ min: -1e6, max: 1e6, noNaN: true }),
  fc.integer({ min: -1000, max: 1000 }).map((m) => 1e6 + m / 1000),
  fc.constantFrom(0, -0, 1, -1),
);
// Few distinct timestamps so ties (and their tie-breaks) are common.
const pointArb = fc.record({ ts: fc.integer({ min: 1_764_000_000_000, max: 1_764_000_000_020 }), value: valueArb });
const pointsArb = fc.array(pointArb, { minLength: 1, maxLength: 120 });

describe('bucket stats', () => {
  it('adding values one by one matches the two-pass reference', () => {
    fc.assert(fc.property(pointsArb, (points) => expectMatchesReference(fold(points), points)), { numRuns: 500 });
  });

  it('stays accurate for a large offset with a tiny spread', () => {
    // Half the values at hi, half at lo: the population stddev is exactly (hi - lo) / 2 of the doubles used.
    const hi = 1e9 + 0.001;
    const lo = 1e9 - 0.001;
    const points = [...Array(1000).keys()].map((i) => ({ ts: i, value: i % 2 === 0 ? hi : lo }));
    const s = fold(points);
    expectClose(stddev(s), (hi - lo) / 2, 1, 1e-9);
    expectClose(s.mean, (hi + lo) / 2, 1e9);
    // The naive E[x^2] - E[x]^2 formula loses every digit here; Welford must not.
    const naive = Math.sqrt(Math.max(0, points.reduce((a, p) => a + p.value ** 2, 0) / 1000 - ((hi + lo) / 2) ** 2));
    expect(Math.abs(naive - (hi - lo) / 2)).toBeGreaterThan(1e-6);
  });

  it('never produces NaN for finite inputs, even near ±MAX_VALUE (the store refuses NaN)', () => {
    const finite = fc.oneof(fc.double({ noNaN: true, noDefaultInfinity: true }), fc.constantFrom(Number.MAX_VALUE, -Number.MAX_VALUE));
    const pts = fc.array(fc.record({ ts: fc.integer({ min: 0, max: 5 }), value: finite }), { minLength: 1, maxLength: 40 });
    fc.assert(
      fc.property(pts, fc.nat(), (points, cut) => {
        const k = cut % (points.length + 1);
        const merged = mergeStats(fold(points.slice(0, k)), fold(points.slice(k)));
        for (const s of [fold(points), merged]) {
          // A merged sum of +Infinity and -Infinity partial sums is NaN: the sum overflowed either way.
          for (const [field, v] of Object.entries(s)) if (Number.isNaN(v) && !(s === merged && field === 'sum')) throw new Error(`${field} is NaN`);
          expect(Number.isFinite(s.mean)).toBe(true);
          // The mean lies within [min, max] (allowing for rounding near the edges of the range).
          expect(s.mean).toBeGreaterThanOrEqual(s.min - Math.abs(s.min) * 1e-12);
          expect(s.mean).toBeLessThanOrEqual(s.max + Math.abs(s.max) * 1e-12);
          expect(s.m2).toBeGreaterThanOrEqual(0);
        }
      }),
      { numRuns: 1000 },
    );
  });

  it('a single value has stddev 0 and is both first and last', () => {
    const s = fold([{ ts: 5, value: 42.5 }]);
    expect(stddev(s)).toBe(0);
    expect(s).toMatchObject({ count: 1, sum: 42.5, min: 42.5, max: 42.5, mean: 42.5, firstTs: 5, first: 42.5, lastTs: 5, last: 42.5 });
    expect(stddev(emptyStats())).toBe(0);
  });

  it('mergeStats(a, b) equals adding all values, for any split', () => {
    fc.assert(
      fc.property(pointsArb, fc.nat(), (points, cut) => {
        const k = cut % (points.length + 1);
        const a = fold(points.slice(0, k));
        const b = fold(points.slice(k));
        expectMatchesReference(mergeStats(a, b), points);
        expectMatchesReference(mergeStats(b, a), points);
      }),
      { numRuns: 500 },
    );
  });

  it('merging many partial states in a tree equals adding all values', () => {
    fc.assert(
      fc.property(fc.array(pointsArb, { minLength: 1, maxLength: 8 }), (parts) => {
        let states = parts.map(fold);
        while (states.length > 1) {
          const next: BucketStats[] = [];
          for (let i = 0; i < states.length; i += 2) next.push(i + 1 < states.length ? mergeStats(states[i]!, states[i + 1]!) : states[i]!);
          states = next;
        }
        expectMatchesReference(states[0]!, parts.flat());
      }),
    );
  });

  it('mergeStats with an empty side returns a copy, not an alias', () => {
    const a = fold([{ ts: 1, value: 3 }]);
    const m = mergeStats(a, emptyStats());
    expect(m).toEqual(a);
    expect(m).not.toBe(a);
    const m2 = mergeStats(emptyStats(), a);
    expect(m2).toEqual(a);
    expect(m2).not.toBe(a);
  });

  it('first/last (and every other field) do not depend on arrival order', () => {
    fc.assert(
      fc.property(
        pointsArb.chain((points) => fc.tuple(fc.constant(points), fc.shuffledSubarray(points, { minLength: points.length, maxLength: points.length }))),
        ([points, shuffled]) => {
          const a = fold(points);
          const b = fold(shuffled);
          expect([b.firstTs, b.first, b.lastTs, b.last].map(noSign)).toEqual([a.firstTs, a.first, a.lastTs, a.last].map(noSign));
          expect([b.count, b.min, b.max].map(noSign)).toEqual([a.count, a.min, a.max].map(noSign));
          expectMatchesReference(b, points);
        },
      ),
      { numRuns: 500 },
    );
  });

  it('breaks first/last ties at the same timestamp by value: smaller first, larger last', () => {
    for (const order of [
      [5, 1, 3],
      [1, 3, 5],
      [3, 5, 1],
    ]) {
      const s = fold(order.map((value) => ({ ts: 100, value })));
      expect([s.first, s.last]).toEqual([1, 5]);
    }
    const merged = mergeStats(fold([{ ts: 100, value: 5 }]), fold([{ ts: 100, value: 1 }]));
    expect([merged.first, merged.last]).toEqual([1, 5]);
  });
});

describe('bucketStart', () => {
  const MINUTE = 60_000;
  const HOUR = 3_600_000;
  const DAY = 86_400_000;

  it('aligns to UTC minute, hour and day boundaries', () => {
    const t = Date.parse('2026-11-27T10:37:42.123Z');
    expect(new Date(bucketStart(t, MINUTE)).toISOString()).toBe('2026-11-27T10:37:00.000Z');
    expect(new Date(bucketStart(t, HOUR)).toISOString()).toBe('2026-11-27T10:00:00.000Z');
    expect(new Date(bucketStart(t, DAY)).toISOString()).toBe('2026-11-27T00:00:00.000Z');
    // A boundary is its own bucket start; one ms before belongs to the previous bucket.
    const midnight = Date.parse('2026-11-28T00:00:00Z');
    expect(bucketStart(midnight, DAY)).toBe(midnight);
    expect(bucketStart(midnight - 1, DAY)).toBe(midnight - DAY);
    expect(bucketStart(midnight - 1, MINUTE)).toBe(midnight - MINUTE);
  });

  it('aligns negative timestamps (before 1970) downwards, not towards zero', () => {
    expect(bucketStart(-1, MINUTE)).toBe(-MINUTE);
    expect(bucketStart(-MINUTE, MINUTE)).toBe(-MINUTE);
    expect(bucketStart(-MINUTE - 1, MINUTE)).toBe(-2 * MINUTE);
    expect(bucketStart(-1, DAY)).toBe(-DAY);
    const t = Date.parse('1969-07-20T20:17:40Z');
    expect(new Date(bucketStart(t, HOUR)).toISOString()).toBe('1969-07-20T20:00:00.000Z');
    expect(new Date(bucketStart(t, DAY)).toISOString()).toBe('1969-07-20T00:00:00.000Z');
  });

  it('property: start <= ts < start + resolution, start is a multiple of the resolution, and the UTC clock agrees', () => {
    fc.assert(
      fc.property(fc.integer({ min: -8.64e15, max: 8.64e15 }), fc.constantFrom(MINUTE, HOUR, DAY), (ts, res) => {
        const start = bucketStart(ts, res);
        expect(start).toBeLessThanOrEqual(ts);
        expect(ts).toBeLessThan(start + res);
        expect(Math.abs(start % res)).toBe(0);
        const d = new Date(start);
        expect(d.getUTCMilliseconds() + d.getUTCSeconds()).toBe(0);
        if (res >= HOUR) expect(d.getUTCMinutes()).toBe(0);
        if (res >= DAY) expect(d.getUTCHours()).toBe(0);
      }),
      { numRuns: 1000 },
    );
  });
});
