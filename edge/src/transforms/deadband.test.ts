import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { DeadbandTransform } from './deadband.js';

/** A series of one sensor: strictly increasing event times, finite values. */
const series = fc.array(fc.tuple(fc.integer({ min: 1, max: 5_000 }), fc.double({ min: -100, max: 100, noNaN: true })), { minLength: 1, maxLength: 200 });

function run(t: DeadbandTransform, steps: [number, number][]) {
  let ts = 1_000_000;
  return steps.map(([dt, value]) => {
    ts += dt;
    const r = { sensor: 's', value, ts };
    return { ts, value, reason: t.apply(r) };
  });
}

describe('deadband', () => {
  it('absolute: keeps the first reading, then exactly those that moved more than the band from the last kept one or waited max_interval', () => {
    fc.assert(
      fc.property(series, fc.double({ min: 0, max: 20, noNaN: true }), fc.option(fc.integer({ min: 1, max: 20_000 }), { nil: undefined }), (steps, band, maxInterval) => {
        const out = run(new DeadbandTransform({ absolute: band, ...(maxInterval ? { max_interval: maxInterval } : {}) }), steps);
        let last: { ts: number; value: number } | undefined;
        for (const o of out) {
          const due = last === undefined || Math.abs(o.value - last.value) > band || (maxInterval !== undefined && o.ts - last.ts >= maxInterval);
          expect(o.reason).toBe(due ? undefined : 'deadband');
          if (due) last = o;
        }
      }),
    );
  });

  it('percent: the band is that percentage of the last kept value', () => {
    fc.assert(
      fc.property(series, fc.double({ min: 0.01, max: 50, noNaN: true }), (steps, percent) => {
        const out = run(new DeadbandTransform({ percent }), steps);
        let last: number | undefined;
        for (const o of out) {
          const due = last === undefined || Math.abs(o.value - last) > (Math.abs(last) * percent) / 100;
          expect(o.reason).toBe(due ? undefined : 'deadband');
          if (due) last = o.value;
        }
      }),
    );
  });

  it('a flat signal still reports every max_interval of event time', () => {
    const t = new DeadbandTransform({ absolute: 0.05, max_interval: 60_000 });
    const kept: number[] = [];
    for (let ts = 0; ts <= 300_000; ts += 1000) if (t.apply({ sensor: 'x', value: 20, ts }) === undefined) kept.push(ts);
    expect(kept).toEqual([0, 60_000, 120_000, 180_000, 240_000, 300_000]);
  });

  it('keeps state per sensor, and keeps (without updating) readings it cannot compare', () => {
    const t = new DeadbandTransform({ absolute: 1 });
    expect(t.apply({ sensor: 'a', value: 10, ts: 100 })).toBeUndefined();
    expect(t.apply({ sensor: 'b', value: 10.5, ts: 100 })).toBeUndefined(); // first of b
    expect(t.apply({ sensor: 'a', value: 10.5, ts: 200 })).toBe('deadband');
    expect(t.apply({ sensor: 'a', value: 10.5, ts: 50 })).toBeUndefined(); // older than the last kept: kept
    expect(t.apply({ sensor: 'a', value: NaN, ts: 300 })).toBeUndefined(); // not comparable: kept
    expect(t.apply({ sensor: 'a', value: 10.9, ts: 400 })).toBe('deadband'); // still compared with 10 @ 100
    expect(t.apply({ sensor: 'a', value: 11.1, ts: 500 })).toBeUndefined();
  });
});
