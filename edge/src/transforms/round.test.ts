import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { RoundTransform } from './round.js';

const apply = (decimals: number, value: number) => {
  const r = { sensor: 's', value, ts: 0 };
  new RoundTransform(decimals).apply(r);
  return r.value;
};

describe('round', () => {
  it('moves a value by at most half a unit of the last kept decimal, and the result has at most that many decimals', () => {
    fc.assert(
      fc.property(fc.double({ noNaN: true, noDefaultInfinity: true, min: -1e6, max: 1e6 }), fc.integer({ min: 0, max: 6 }), (v, d) => {
        const out = apply(d, v);
        expect(Math.abs(out - v)).toBeLessThanOrEqual(0.5 / 10 ** d + 1e-9);
        expect(Number(out.toFixed(d))).toBe(out);
        expect(apply(d, out)).toBe(out); // idempotent
      }),
    );
  });

  it('agrees with decimal rounding of the value written out in full (half away from zero)', () => {
    // Independent reference: round the exact decimal text of an integer count of 1/10^(d+2) units.
    fc.assert(
      fc.property(fc.integer({ min: -10_000_000, max: 10_000_000 }), fc.integer({ min: 0, max: 4 }), (n, d) => {
        fc.pre(Math.abs(n) % 100 !== 50); // an exact half is not representable in binary: skip the tie
        const v = n / 10 ** (d + 2);
        const units = Math.trunc(Math.abs(n) / 100) + (Math.abs(n) % 100 > 50 ? 1 : 0);
        const want = (Math.sign(n) * units) / 10 ** d || 0;
        expect(apply(d, v)).toBe(want);
      }),
    );
  });

  it('leaves non-finite and huge values alone', () => {
    expect(apply(3, NaN)).toBeNaN();
    expect(apply(3, Infinity)).toBe(Infinity);
    expect(apply(3, 1e300)).toBe(1e300);
    expect(Object.is(apply(2, -0.001), 0)).toBe(true);
  });
});
