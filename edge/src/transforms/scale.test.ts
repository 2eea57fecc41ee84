import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ScaleTransform, scaleCoefficients } from './scale.js';

const finite = fc.double({ noNaN: true, noDefaultInfinity: true, min: -1e9, max: 1e9 });

describe('scale', () => {
  it('factor/offset: value * factor + offset, name unchanged unless renamed', () => {
    fc.assert(
      fc.property(finite, finite, finite, (v, factor, offset) => {
        const r = { sensor: 'raw', value: v, ts: 5 };
        expect(new ScaleTransform({ factor, offset }).apply(r)).toBeUndefined();
        expect(r).toEqual({ sensor: 'raw', value: v * factor + offset, ts: 5 });
      }),
    );
    const r = { sensor: 'raw_pressure', value: 250, ts: 0 };
    new ScaleTransform({ factor: 0.01, offset: -1.5, rename: 'pressure_bar' }).apply(r);
    expect(r.sensor).toBe('pressure_bar');
    expect(r.value).toBeCloseTo(1.0, 12);
  });

  it('input_range → output_range maps the ends onto the ends and is linear between', () => {
    fc.assert(
      fc.property(finite, finite, finite, finite, fc.double({ min: 0, max: 1, noNaN: true }), (i0, i1, o0, o1, t) => {
        fc.pre(Math.abs(i1 - i0) > 1e-3);
        const { factor, offset } = scaleCoefficients({ input_range: [i0, i1], output_range: [o0, o1] });
        const map = (x: number) => x * factor + offset;
        const tol = (x: number) => 1e-6 * (1 + Math.abs(x) + Math.abs(o0) + Math.abs(o1));
        expect(Math.abs(map(i0) - o0)).toBeLessThanOrEqual(tol(o0));
        expect(Math.abs(map(i1) - o1)).toBeLessThanOrEqual(tol(o1));
        const x = i0 + t * (i1 - i0);
        const want = o0 + t * (o1 - o0);
        expect(Math.abs(map(x) - want)).toBeLessThanOrEqual(tol(want));
      }),
    );
    // 4–20 mA onto 0–100 %
    const r = { sensor: 'level_ma', value: 12, ts: 0 };
    new ScaleTransform({ input_range: [4, 20], output_range: [0, 100] }).apply(r);
    expect(r.value).toBe(50);
  });
});
