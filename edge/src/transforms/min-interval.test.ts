import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { MinIntervalTransform } from './min-interval.js';

describe('min_interval', () => {
  it('on an ordered series, keeps the first reading and then each one at least `interval` after the last kept', () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 0, max: 400 }), { maxLength: 300 }), fc.integer({ min: 1, max: 1000 }), (gaps, interval) => {
        const t = new MinIntervalTransform(interval);
        let ts = 0;
        const kept: number[] = [];
        for (const g of gaps) {
          ts += g;
          const reason = t.apply({ sensor: 'v', value: 1, ts });
          if (reason === undefined) kept.push(ts);
          else expect(reason).toBe('min_interval');
        }
        // Independent greedy reference over the same times.
        const want: number[] = [];
        ts = 0;
        for (const g of gaps) {
          ts += g;
          if (want.length === 0 || ts - want[want.length - 1]! >= interval) want.push(ts);
        }
        expect(kept).toEqual(want);
        for (let i = 1; i < kept.length; i++) expect(kept[i]! - kept[i - 1]!).toBeGreaterThanOrEqual(interval);
      }),
    );
  });

  it('is per sensor, and an out-of-order reading passes without moving the schedule', () => {
    const t = new MinIntervalTransform(100);
    expect(t.apply({ sensor: 'a', value: 1, ts: 1000 })).toBeUndefined();
    expect(t.apply({ sensor: 'b', value: 1, ts: 1010 })).toBeUndefined();
    expect(t.apply({ sensor: 'a', value: 1, ts: 1050 })).toBe('min_interval');
    expect(t.apply({ sensor: 'a', value: 1, ts: 900 })).toBeUndefined();
    expect(t.apply({ sensor: 'a', value: 1, ts: 1099 })).toBe('min_interval');
    expect(t.apply({ sensor: 'a', value: 1, ts: 1100 })).toBeUndefined();
  });
});
