// The binned window's bounds (binned-window.ts) against the reference z-score, through what uses them:
// anomalyStep and anomalyQuietRun must give exactly the verdict of anomalyVerdict(robustZReference(…)) — fire /
// not fire in quiet states, fire / hold / clear otherwise — for thresholds on, just below and just above the
// reference |z|, on flat, quantised, tied, spiky, drifting and non-finite windows, full or not, any min_history,
// reloaded from the store at any reading, and resized. And the bounds must decide most readings of a noisy
// signal, or these tests would only test the exact path.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { binnedCounts } from './binned-window.js';
import { decodeMachine, encodeMachine } from './alert-store-model.js';
import { anomalyQuietRun, anomalyStep, anomalyVerdict, robustZReference, windowValues, type SeriesMemory } from './conditions.js';

const down = (x: number) => (x > 0 ? x - x * Number.EPSILON : x);
const up = (x: number) => (x > 0 ? x + x * Number.EPSILON : x);

/** Signals: a drifting level plus noise, quantised or not, with flat stretches, spikes and non-finite values. */
const reading = (base: number) =>
  fc.oneof(
    { arbitrary: fc.integer({ min: -8, max: 8 }).map((x) => base + x), weight: 12 }, // quantised noise
    { arbitrary: fc.double({ min: -3, max: 3, noNaN: true }).map((x) => base + x), weight: 8 }, // continuous
    { arbitrary: fc.constantFrom(base, base, base + 0.1), weight: 4 }, // ties, flat stretches (MAD 0)
    { arbitrary: fc.constantFrom(base + 40, base - 40, 1e7, -1e7, 0, -0), weight: 1 }, // spikes
    { arbitrary: fc.constantFrom(NaN, Infinity, -Infinity, Number.MAX_VALUE, -Number.MAX_VALUE), weight: 1 },
  );

/** How the fire level of a step relates to the reference |z| of its reading. */
const LEVELS = ['fixed', 'on', 'below', 'above', 'near'] as const;
type Level = (typeof LEVELS)[number];

function levelsFor(kind: Level, fixed: number, z: number | undefined, k: number): { fire: number; clear: number } {
  const a = z === undefined || !Number.isFinite(z) ? fixed : Math.abs(z);
  switch (kind) {
    case 'fixed':
      return { fire: fixed, clear: fixed / 2 };
    case 'on': // fire = |z| must not fire; clear just below |z| must not clear
      return { fire: a, clear: down(a) };
    case 'below': // fire just below |z| must fire; clear = |z| must clear
      return { fire: down(a), clear: a };
    case 'above':
      return { fire: up(a), clear: up(a) };
    case 'near': // within a few per cent: where a loose bound would show
      return { fire: a * (1 + ((k % 7) - 3) / 100), clear: a * (1 + ((k % 5) - 2) / 50) };
  }
}

interface Step {
  v: number;
  reload: boolean;
}

/**
 * Drives a series as the evaluator does — quiet (normal/resolved): only fire matters; firing: clear ends it —
 * through anomalyStep or anomalyQuietRun (columns of `column` readings), and the reference beside it. Returns
 * the first disagreement, or undefined.
 */
function disagreement(steps: readonly Step[], size: number, minHistory: number, level: Level, fixed: number, column: number, viaRun: boolean): string | undefined {
  let fast: SeriesMemory = {};
  const ref: SeriesMemory = {};
  let firing = false;
  for (let i = 0; i < steps.length; ) {
    const end = Math.min(steps.length, i + column);
    // The store's round trip (a new window array, base64 float64: -0 and NaN kept).
    if (steps[i]!.reload) fast = (decodeMachine(encodeMachine({ mem: fast })) as { mem: SeriesMemory }).mem;
    while (i < end) {
      // The level of this reading, from the reference |z| against the window before it.
      const zNow = robustZReference({ window: windowValues(ref) }, steps[i]!.v, size, minHistory);
      const { fire, clear } = levelsFor(level, fixed, zNow, i);
      if (!firing && viaRun && level === 'fixed') {
        // A run to the next fire, checked against the reference reading by reading.
        const values = steps.slice(i, end).map((s) => s.v);
        const f = anomalyQuietRun(fast, values, 0, values.length, size, minHistory, fire, clear) + i;
        for (; i < f; i++) {
          const z = robustZReference(ref, steps[i]!.v, size, minHistory);
          if (z !== undefined && anomalyVerdict({ threshold: fire, clear_threshold: clear }, z) === 'fire') return `run passed a fire at ${i}`;
        }
        if (f === end) continue;
        const z = robustZReference(ref, steps[i]!.v, size, minHistory);
        if (z === undefined || anomalyVerdict({ threshold: fire, clear_threshold: clear }, z) !== 'fire') return `run fired at ${i}, the reference does not`;
        firing = true;
        i++;
        continue;
      }
      const got = anomalyStep(fast, steps[i]!.v, size, minHistory, fire, clear, !firing);
      const z = robustZReference(ref, steps[i]!.v, size, minHistory);
      const want = z === undefined ? undefined : anomalyVerdict({ threshold: fire, clear_threshold: clear }, z);
      const same = !firing ? (got === 'fire') === (want === 'fire') && (got === undefined) === (want === undefined) : got === want;
      if (!same) return `step ${i}: got ${got}, want ${want} (z ${z}, fire ${fire}, clear ${clear}, firing ${firing})`;
      if (!firing && got === 'fire') firing = true;
      else if (firing && got === 'clear') firing = false;
      i++;
    }
  }
  const a = windowValues(fast);
  const b = ref.window ?? [];
  if (a.length !== b.length || a.some((x, k) => !Object.is(x, b[k]) && !(x === b[k]))) return 'windows differ';
  return undefined;
}

const stepsOf = (base: number, min: number, max: number) =>
  fc.array(fc.record({ v: reading(base), reload: fc.integer({ min: 0, max: 60 }).map((x) => x === 0) }), { minLength: min, maxLength: max, size: 'max' });

describe('binned window bounds', () => {
  it('give the reference verdict at thresholds on, just below, just above and near the reference |z|', () => {
    fc.assert(
      fc.property(
        stepsOf(100, 150, 500),
        fc.constantFrom(40, 41, 7, 8, 120),
        fc.constantFrom(1, 3, 20, 39, 40, 200),
        fc.constantFrom(...LEVELS),
        fc.constantFrom(2, 3, 6, 12),
        (steps, size, h, level, fixed) => {
          const minHistory = Math.min(h, size);
          expect(disagreement(steps, size, minHistory, level, fixed, 1, false)).toBeUndefined();
        },
      ),
      { numRuns: 250 },
    );
  }, 180_000);

  it('anomalyQuietRun fires where the reference fires first, and takes the same readings into the window', () => {
    fc.assert(
      fc.property(stepsOf(50, 150, 600), fc.constantFrom(30, 31, 120), fc.constantFrom(2, 4, 6, 12), fc.constantFrom(1, 5, 64, 250), (steps, size, fixed, column) => {
        expect(disagreement(steps, size, Math.min(20, size), 'fixed', fixed, column, true)).toBeUndefined();
      }),
      { numRuns: 200 },
    );
  }, 180_000);

  it('follow drifting, quantised and oscillating signals (re-centring and re-binning) exactly', () => {
    // Long runs of the benchmarks' shapes with adversarial thresholds: the bins re-fit many times.
    const shapes: ((k: number, r: number) => number)[] = [
      (k, r) => Math.round((40 + 15 * Math.sin(k / 300) + 0.5 * Math.sin(k / 7) + r * 0.2) * 100) / 100,
      (k, r) => Math.round((101.3 + 2 * Math.sin(k / 60) + r * 0.3) * 10) / 10,
      (k, r) => 1500 + Math.round(200 * Math.sin(k / 90)) + Math.floor(r * 37),
      (k, r) => (r < 0.01 ? 1000 : 50 + 5 * Math.sin(k / 50) + r),
      (k) => (k % 300 < 200 ? 7 : 7 + (k % 3) / 10),
      (k, r) => 1e-300 * Math.round(r * 50) + (k % 2 === 0 ? -1e-300 : 0),
      (k, r) => 1e12 + Math.round(r * 1000) * 1e3 + k * 1e6,
    ];
    fc.assert(
      fc.property(fc.integer({ min: 0, max: shapes.length - 1 }), fc.integer({ min: 1, max: 2 ** 31 - 1 }), fc.constantFrom(...LEVELS), fc.constantFrom(60, 120, 121), (shape, seed, level, size) => {
        let s = seed;
        const rnd = () => (s = (s * 16807) % 2147483647) / 2147483647;
        const steps = Array.from({ length: 1500 }, (_, k) => ({ v: shapes[shape]!(k, rnd()), reload: k % 577 === 300 }));
        expect(disagreement(steps, size, 30, level, 6, 5, false)).toBeUndefined();
        expect(disagreement(steps, size, 30, 'fixed', level === 'on' ? 3 : 12, 50, true)).toBeUndefined();
      }),
      { numRuns: 60 },
    );
  }, 180_000);

  it('decide most readings of noisy signals without the exact path', () => {
    const before = binnedCounts.exact;
    let s = 7;
    const rnd = () => (s = (s * 16807) % 2147483647) / 2147483647;
    const mem: SeriesMemory = {};
    const values = Array.from({ length: 20_000 }, (_, k) => Math.round((40 + 15 * Math.sin(k / 3600) + 0.5 * Math.sin(k / 7) + rnd() * 0.2) * 100) / 100);
    for (const v of values) anomalyStep(mem, v, 120, 30, 6, 3, true);
    expect(binnedCounts.exact - before).toBeLessThan(values.length / 200);
  });
});
