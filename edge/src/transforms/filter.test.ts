import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { FilterTransform } from './filter.js';

const anyValue = fc.oneof(fc.double(), fc.constantFrom(NaN, Infinity, -Infinity, 0, -0));
const bound = fc.option(fc.double({ noNaN: true, noDefaultInfinity: true }), { nil: undefined });

describe('filter', () => {
  it('keeps exactly the finite values inside [min, max], and names why it removes the rest', () => {
    fc.assert(
      fc.property(anyValue, bound, bound, (v, a, b) => {
        const [min, max] = a !== undefined && b !== undefined && b < a ? [b, a] : [a, b];
        const r = { sensor: 's', value: v, ts: 1 };
        const reason = new FilterTransform({ ...(min !== undefined ? { min } : {}), ...(max !== undefined ? { max } : {}) }).apply(r);
        const inside = Number.isFinite(v) && (min === undefined || v >= min) && (max === undefined || v <= max);
        expect(reason === undefined).toBe(inside);
        if (Number.isNaN(v)) expect(reason).toBe('nan');
        else if (!Number.isFinite(v)) expect(reason).toBe('infinite');
        else if (!inside) expect(reason).toBe(min !== undefined && v < min ? 'below_min' : 'above_max');
        expect(r.value).toBe(v); // a filter never changes what it keeps
      }),
    );
  });

  it('bounds are inclusive', () => {
    const f = new FilterTransform({ min: -40, max: 150 });
    expect(f.apply({ sensor: 't', value: -40, ts: 0 })).toBeUndefined();
    expect(f.apply({ sensor: 't', value: 150, ts: 0 })).toBeUndefined();
    expect(f.apply({ sensor: 't', value: 150.0001, ts: 0 })).toBe('above_max');
    expect(f.apply({ sensor: 't', value: -40.5, ts: 0 })).toBe('below_min');
  });
});
