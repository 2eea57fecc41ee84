import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { MAX_ENCODE_EXPONENT, pow10, scaleColumn, zigzagVarintSize } from './decimal-scaling.js';

/** What a decoder does with a scaled column. */
function unscale(exponent: number, deltas: number[]): number[] {
  let m = 0;
  return deltas.map((d) => (m += d) / 10 ** exponent);
}

describe('scaleColumn', () => {
  it('picks the smallest exponent that holds every value', () => {
    expect(scaleColumn([1, 2, 3])).toEqual({ exponent: 0, deltas: [1, 1, 1] });
    expect(scaleColumn([21.47, 21.5, 21.4])).toEqual({ exponent: 2, deltas: [2147, 3, -10] });
    expect(scaleColumn([48.137154, 48.137171])).toEqual({ exponent: 6, deltas: [48137154, 17] });
    expect(scaleColumn([0.000000001])?.exponent).toBe(9);
  });

  it('falls back (undefined) when scaling is not bit-exact', () => {
    expect(scaleColumn([-0])).toBeUndefined();
    expect(scaleColumn([1, -0, 2])).toBeUndefined();
    expect(scaleColumn([Number.MIN_VALUE])).toBeUndefined();
    expect(scaleColumn([Number.MAX_VALUE])).toBeUndefined();
    expect(scaleColumn([0.1 + 0.2])).toBeUndefined(); // 0.30000000000000004 needs 17 digits
    expect(scaleColumn([1e-10])).toBeUndefined(); // beyond MAX_ENCODE_EXPONENT
    expect(scaleColumn([Math.PI])).toBeUndefined();
    expect(scaleColumn([Number.NaN])).toBeUndefined();
    expect(scaleColumn([2 ** 53])).toBeUndefined(); // not a safe integer
    expect(scaleColumn([])).toBeUndefined();
  });

  it('falls back when mantissa deltas would leave the safe range', () => {
    expect(scaleColumn([Number.MAX_SAFE_INTEGER, -Number.MAX_SAFE_INTEGER])).toBeUndefined();
  });

  it('falls back when scaling would not be smaller than 8-byte doubles', () => {
    // 9 decimals on large magnitudes: mantissa deltas around 1e15 take 8+ bytes as varints.
    expect(scaleColumn([1234567.123456789, -1234567.987654321])).toBeUndefined();
  });

  it('property: whatever it returns decodes to exactly the input (Object.is)', () => {
    const decimal = fc.tuple(fc.integer({ min: -(10 ** 12), max: 10 ** 12 }), fc.integer({ min: 0, max: MAX_ENCODE_EXPONENT })).map(([m, k]) => m / 10 ** k);
    const value = fc.oneof(decimal, fc.double({ noNaN: true, noDefaultInfinity: true }), fc.integer(), fc.constant(-0));
    fc.assert(
      fc.property(fc.array(value, { minLength: 1, maxLength: 50 }), (values) => {
        const s = scaleColumn(values);
        if (!s) return;
        expect(s.exponent).toBeLessThanOrEqual(MAX_ENCODE_EXPONENT);
        unscale(s.exponent, s.deltas).forEach((v, i) => expect(Object.is(v, values[i])).toBe(true));
      }),
      { numRuns: 1000 },
    );
  });

  it('property: a column of fixed-precision decimal text always scales', () => {
    // One precision per column, as a device prints it; mantissas up to 1e9 keep deltas well under 8 bytes.
    const column = fc.integer({ min: 0, max: 6 }).chain((k) =>
      fc.array(fc.integer({ min: -(10 ** 9), max: 10 ** 9 }).map((m) => Number((m / 10 ** k).toFixed(k)) + 0), { minLength: 1, maxLength: 50 }),
    );
    fc.assert(
      fc.property(column, (values) => {
        expect(scaleColumn(values)).toBeDefined();
      }),
      { numRuns: 500 },
    );
  });
});

describe('helpers', () => {
  it('zigzagVarintSize', () => {
    expect([0, -1, 1, -64, 63, 64, -65, 8191, 8192].map(zigzagVarintSize)).toEqual([1, 1, 1, 1, 1, 2, 2, 2, 3]);
    expect(zigzagVarintSize(Number.MAX_SAFE_INTEGER)).toBe(8);
    expect(zigzagVarintSize(-Number.MAX_SAFE_INTEGER)).toBe(8);
  });

  it('pow10 accepts exponents whose power of ten is exact', () => {
    expect(pow10(0)).toBe(1);
    expect(pow10(22)).toBe(1e22);
    expect(pow10(23)).toBeUndefined();
    expect(pow10(-1)).toBeUndefined();
  });
});
