import { describe, expect, it } from 'vitest';
import { makeGenerator, mulberry32, type Shape, type ShapeParams } from './shapes.js';

const SHAPES: Shape[] = ['sine', 'square', 'random_walk', 'step', 'noise'];
const T0 = 1_700_000_000_000;

function params(shape: Shape, over: Partial<ShapeParams> = {}): ShapeParams {
  return { shape, min: -12.5, max: 80.25, period_s: 60, decimals: 2, ...over };
}

/** n values at 100 ms spacing from T0. */
function run(p: ShapeParams, seed: number, n = 2_000): number[] {
  const next = makeGenerator(p, mulberry32(seed));
  const out: number[] = [];
  for (let i = 0; i < n; i++) out.push(next(T0 + i * 100));
  return out;
}

const isRounded = (v: number, decimals: number) => Math.round(v * 10 ** decimals) / 10 ** decimals === v;

describe('mulberry32', () => {
  it('is reproducible for a seed, differs between seeds, and stays in [0, 1)', () => {
    const a = mulberry32(42);
    const b = mulberry32(42);
    const c = mulberry32(43);
    const xs = Array.from({ length: 10_000 }, () => a());
    expect(Array.from({ length: 10_000 }, () => b())).toEqual(xs);
    expect(Array.from({ length: 10 }, () => c())).not.toEqual(xs.slice(0, 10));
    expect(Math.min(...xs)).toBeGreaterThanOrEqual(0);
    expect(Math.max(...xs)).toBeLessThan(1);
    const mean = xs.reduce((s, x) => s + x, 0) / xs.length;
    expect(mean).toBeGreaterThan(0.45);
    expect(mean).toBeLessThan(0.55);
  });
});

describe.each(SHAPES)('shape %s', (shape) => {
  it('stays within [min, max]', () => {
    const values = run(params(shape), 7);
    expect(Math.min(...values)).toBeGreaterThanOrEqual(-12.5);
    expect(Math.max(...values)).toBeLessThanOrEqual(80.25);
  });

  it.each([0, 1, 3])('rounds to %i decimals', (decimals) => {
    const p = params(shape, { min: 0, max: 10, decimals });
    const values = run(p, 7);
    expect(values.filter((v) => !isRounded(v, decimals)), `not rounded to ${decimals} decimals`).toEqual([]);
    if (shape !== 'square' && shape !== 'step') {
      // Rounding must not collapse the signal: with more decimals, more distinct values.
      expect(new Set(values).size).toBeGreaterThan(decimals === 0 ? 2 : 10);
    }
  });

  it('is deterministic for a seed', () => {
    expect(run(params(shape), 99)).toEqual(run(params(shape), 99));
  });

  it('stays at the value when min equals max', () => {
    for (const v of run(params(shape, { min: 5, max: 5 }), 3, 200)) expect(v).toBe(5);
  });
});

describe('periodic shapes', () => {
  const period = 60_000;
  const at = (shape: Shape, t: number) => makeGenerator(params(shape, { min: 0, max: 100, decimals: 3 }), mulberry32(1))(t);

  it('sine starts mid-range, peaks at a quarter period and bottoms at three quarters', () => {
    expect(at('sine', 0)).toBe(50);
    expect(at('sine', period / 4)).toBe(100);
    expect(at('sine', period / 2)).toBe(50);
    expect(at('sine', (3 * period) / 4)).toBe(0);
  });

  it('square is max for the first half period and min for the second', () => {
    expect(at('square', 0)).toBe(100);
    expect(at('square', period / 2 - 1)).toBe(100);
    expect(at('square', period / 2)).toBe(0);
    expect(at('square', period - 1)).toBe(0);
  });

  it('step moves through four equal set-points from min to max', () => {
    expect([0, 1, 2, 3].map((q) => at('step', (q * period) / 4 + 1))).toEqual([0, 33.333, 66.667, 100]);
  });

  it.each(['sine', 'square', 'step'] as Shape[])('%s repeats every period and depends only on time', (shape) => {
    for (const t of [T0, T0 + 12_345, T0 + 59_999]) {
      expect(at(shape, t + period)).toBe(at(shape, t));
      expect(at(shape, t - 3 * period)).toBe(at(shape, t));
    }
    // Times before the epoch (negative) are still in range and periodic.
    expect(at(shape, -12_345)).toBe(at(shape, period - 12_345));
  });
});

describe('random_walk', () => {
  it('moves by at most 1% of the span per reading and does not stand still', () => {
    const values = run(params('random_walk', { min: 0, max: 1000, decimals: 3 }), 5, 5_000);
    const steps = values.slice(1).map((v, i) => Math.abs(v - values[i]!));
    expect(Math.max(...steps)).toBeLessThanOrEqual(10 + 1e-9);
    expect(steps.filter((d) => d > 0).length).toBeGreaterThan(4_900);
  });

  it('reflects at the bounds instead of sticking to them', () => {
    // A narrow band relative to the step forces many reflections.
    const values = run(params('random_walk', { min: 0, max: 1, decimals: 4 }), 11, 50_000);
    const low = Math.min(...values);
    const high = Math.max(...values);
    expect(low).toBeGreaterThanOrEqual(0);
    expect(low).toBeLessThan(0.05);
    expect(high).toBeLessThanOrEqual(1);
    expect(high).toBeGreaterThan(0.95);
    // Reflection, not clamping: the walk never dwells on a bound.
    expect(values.filter((v) => v === 0 || v === 1).length).toBeLessThan(values.length / 1000);
  });
});

describe('noise', () => {
  it('covers the range and differs between seeds', () => {
    const values = run(params('noise', { min: 0, max: 100, decimals: 2 }), 21, 5_000);
    expect(Math.min(...values)).toBeLessThan(2);
    expect(Math.max(...values)).toBeGreaterThan(98);
    expect(run(params('noise'), 22, 50)).not.toEqual(run(params('noise'), 21, 50));
  });
});
