// robustZ is the evaluator's hot path and was rewritten for speed (an ordered copy of the window kept beside
// it): it must give exactly (Object.is) what the straightforward version gives, on windows with ties, flat
// stretches, signed zeros and outliers, and after the window is reloaded from the store.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { anomalyStep, anomalyVerdict, robustZ, robustZReference, windowValues, type SeriesMemory } from './conditions.js';

const value = fc.oneof(
  fc.double({ noNaN: true, noDefaultInfinity: true, min: -1e6, max: 1e6 }),
  fc.integer({ min: -3, max: 3 }),
  fc.constantFrom(0, -0, 1.5, 1e-9, 250.25),
);

describe('robustZ', () => {
  it('equals the reference version exactly, z and window, reading after reading', () => {
    fc.assert(
      fc.property(fc.array(value, { maxLength: 400, size: 'max' }), fc.integer({ min: 3, max: 150 }), fc.integer({ min: 3, max: 150 }), fc.integer({ min: 1, max: 500 }), (values, windowSize, h, reloadEvery) => {
        const minHistory = Math.min(h, windowSize);
        let fast: SeriesMemory = {};
        let ref: SeriesMemory = {};
        for (const [i, v] of values.entries()) {
          // The evaluator reloads its series from the store (a new window array) after an error or a restart.
          // (JSON turns -0 into 0: the reference goes through the same round trip.)
          if (i % reloadEvery === reloadEvery - 1) {
            fast = JSON.parse(JSON.stringify(fast)) as SeriesMemory;
            ref = JSON.parse(JSON.stringify(ref)) as SeriesMemory;
          }
          const a = robustZ(fast, v, windowSize, minHistory);
          const b = robustZReference(ref, v, windowSize, minHistory);
          if (!Object.is(a, b)) return false;
        }
        expect(windowValues(fast)).toEqual(ref.window ?? []);
        return true;
      }),
      { numRuns: 500 },
    );
  });

  it('follows a rule whose window size changes (the ring is straightened, grown or cut oldest first)', () => {
    fc.assert(
      fc.property(fc.array(fc.tuple(value, fc.integer({ min: 2, max: 12 })), { maxLength: 200, size: 'max' }), (steps) => {
        const fast: SeriesMemory = {};
        const ref: SeriesMemory = {};
        for (const [v, windowSize] of steps) if (!Object.is(robustZ(fast, v, windowSize, 2), robustZReference(ref, v, windowSize, 2))) return false;
        expect(windowValues(fast)).toEqual(ref.window ?? []);
        return true;
      }),
      { numRuns: 300 },
    );
  });

  it('matches the reference near ±MAX_VALUE, where the mean of the two middle values overflows', () => {
    const big = [1.7e308, 1.6e308, -1e308, 1.75e308, 1.65e308, 0, 1.7e308, -1.7e308, 1.69e308, 1.72e308, 5];
    const fast: SeriesMemory = {};
    const ref: SeriesMemory = {};
    for (const v of big) expect(robustZ(fast, v, 6, 2)).toBe(robustZReference(ref, v, 6, 2));
  });

  it('takes the reference path while the window holds NaN, and the fast one again once it left', () => {
    const fast: SeriesMemory = { window: [1, 2, NaN, 4, 5] };
    const ref: SeriesMemory = { window: [1, 2, NaN, 4, 5] };
    for (const v of [3, 7, 1, 2, 9, 2, 3, NaN, 4, 4, 5, 6, 1, 2]) expect(robustZ(fast, v, 5, 3)).toBe(robustZReference(ref, v, 5, 3));
    expect(windowValues(fast)).toEqual(ref.window ?? []);
  });
});

describe('anomalyStep', () => {
  // Small-integer noise with some larger steps: z-scores land near any threshold, where a bound that is too
  // high would turn a fire into a hold (wide doubles rarely sit near a threshold). size 'max': fast-check's
  // default size keeps arrays to a few elements, shorter than the minimum history.
  const noisy = fc.oneof(
    { arbitrary: fc.integer({ min: -20, max: 20 }), weight: 12 },
    { arbitrary: fc.integer({ min: -120, max: 120 }), weight: 2 },
    { arbitrary: fc.oneof(value, fc.constantFrom(NaN, 1e7, -1e7)), weight: 1 },
  );

  it('gives the verdict of the reference z-score: exactly, or (onlyFire) the same fire / not-fire', () => {
    fc.assert(
      fc.property(
        fc.array(noisy, { maxLength: 300, size: 'max' }),
        fc.integer({ min: 3, max: 130 }),
        fc.integer({ min: 1, max: 130 }),
        fc.double({ min: 0, max: 8, noNaN: true }),
        fc.double({ min: 0, max: 8, noNaN: true }),
        fc.array(fc.boolean(), { minLength: 1, maxLength: 7 }),
        (values, windowSize, h, fire, clear, onlyFireCycle) => {
          const minHistory = Math.min(h, windowSize);
          const rule = { threshold: fire, clear_threshold: clear };
          const fast: SeriesMemory = {};
          const ref: SeriesMemory = {};
          for (const [i, v] of values.entries()) {
            const onlyFire = onlyFireCycle[i % onlyFireCycle.length]!;
            const got = anomalyStep(fast, v, windowSize, minHistory, fire, clear, onlyFire);
            const z = robustZReference(ref, v, windowSize, minHistory);
            const want = z === undefined ? undefined : anomalyVerdict(rule, z);
            if (onlyFire ? (got === 'fire') !== (want === 'fire') || (got === undefined) !== (want === undefined) : got !== want) return false;
          }
          expect(windowValues(fast)).toEqual(ref.window ?? []);
          return true;
        },
      ),
      { numRuns: 600 },
    );
  }, 60_000);

  // The lazy ordered window (ordered-window.ts): verdicts over several merge periods, with what can break a
  // lazy copy — reloads from the store (a new array), NaN, size changes, flat stretches, spikes next to merges.
  type Step = { v: number; reload: boolean; size: number };
  const drift = (base: number) => fc.integer({ min: -6, max: 6 }).map((x) => base + x);
  const lazyStep = (sizes: number[]) =>
    fc.record({
      v: fc.oneof(
        { arbitrary: drift(100), weight: 20 },
        { arbitrary: fc.constantFrom(100, 100, 100, 101), weight: 4 }, // flat stretches: MAD 0, the mean-deviation fallback
        { arbitrary: fc.constantFrom(160, 40, 1e7, -1e7, 0, -0), weight: 1 }, // spikes, wherever the merges fall
        { arbitrary: fc.constant(NaN), weight: 1 },
      ),
      reload: fc.integer({ min: 0, max: 19 }).map((x) => x === 0),
      size: fc.constantFrom(...sizes),
    });

  /** Runs the steps on anomalyStep and on the reference; false at the first verdict that differs. */
  function agrees(steps: Step[], minHistory: number, levels: (i: number, z: number | undefined) => { fire: number; clear: number; onlyFire: boolean }): boolean {
    let fast: SeriesMemory = {};
    const ref: SeriesMemory = {};
    for (const [i, { v, reload, size }] of steps.entries()) {
      // The store gives a new window array (same values, -0 kept: base64 float64) and the same head.
      if (reload) fast = { ...fast, window: [...(fast.window ?? [])] };
      const probe: SeriesMemory = { window: windowValues(ref) };
      const { fire, clear, onlyFire } = levels(i, robustZReference(probe, v, size, Math.min(minHistory, size)));
      const got = anomalyStep(fast, v, size, Math.min(minHistory, size), fire, clear, onlyFire);
      const z = robustZReference(ref, v, size, Math.min(minHistory, size));
      const want = z === undefined ? undefined : anomalyVerdict({ threshold: fire, clear_threshold: clear }, z);
      if (onlyFire ? (got === 'fire') !== (want === 'fire') || (got === undefined) !== (want === undefined) : got !== want) return false;
    }
    expect(windowValues(fast)).toEqual(ref.window ?? []);
    return true;
  }

  it('agrees over long runs (many merge periods), with reloads, NaN, flat stretches and spikes', () => {
    fc.assert(
      fc.property(
        fc.array(lazyStep([40]), { minLength: 200, maxLength: 900, size: 'max' }),
        fc.constantFrom(40, 39, 2, 1, 41), // min_history: the window's size, one below, tiny, and above it
        fc.constantFrom(3, 4, 6, 12),
        fc.array(fc.boolean(), { minLength: 1, maxLength: 5 }),
        (steps, minHistory, fire, onlyFireCycle) => agrees(steps, minHistory, (i) => ({ fire, clear: fire / 2, onlyFire: onlyFireCycle[i % onlyFireCycle.length]! })),
      ),
      { numRuns: 150 },
    );
  }, 120_000);

  it('agrees when the rule window changes size mid-run (pending writes merged before it grows or shrinks)', () => {
    fc.assert(
      fc.property(fc.array(lazyStep([40]), { minLength: 100, maxLength: 500, size: 'max' }), fc.array(fc.constantFrom(24, 40, 57, 6, 2), { minLength: 2, maxLength: 5 }), (steps, sizes) => {
        const sized = steps.map((s, i) => ({ ...s, size: sizes[Math.floor(i / 90) % sizes.length]! }));
        return agrees(sized, 20, (i) => ({ fire: 4, clear: 2, onlyFire: i % 3 !== 0 }));
      }),
      { numRuns: 120 },
    );
  }, 120_000);

  it('agrees with thresholds at the exact reference |z| (a bound one ulp low would show here)', () => {
    // fire = |z| must not fire, clear = the double below |z| must not clear: every reading sits on its edge.
    const below = (x: number) => (x > 0 ? x - x * Number.EPSILON : x);
    fc.assert(
      fc.property(fc.array(lazyStep([40]), { minLength: 100, maxLength: 600, size: 'max' }), fc.boolean(), (steps, onlyFire) =>
        agrees(steps, 10, (_i, z) => {
          const a = z === undefined || !Number.isFinite(z) ? 3 : Math.abs(z);
          return { fire: a, clear: below(a), onlyFire };
        }),
      ),
      { numRuns: 120 },
    );
  }, 120_000);

  it('matches the reference near ±MAX_VALUE on a lazy window (the sum of the middle values overflows)', () => {
    const big = [1.7e308, 1.6e308, -1e308, 1.75e308, 1.65e308, 0, 1.7e308, -1.7e308, 1.69e308, 1.72e308, 5, -0, Number.MAX_VALUE, -Number.MAX_VALUE];
    const steps = Array.from({ length: 400 }, (_, i) => ({ v: big[(i * 7) % big.length]! * (i % 3 === 0 ? 1 : 0.999), reload: i % 97 === 0, size: 40 }));
    expect(agrees(steps, 5, (i) => ({ fire: 2 + (i % 5), clear: 1, onlyFire: i % 2 === 0 }))).toBe(true);
  });

  it('proves most readings of a noisy signal quiet without the MAD, and still fires on a spike', () => {
    const mem: SeriesMemory = {};
    const verdicts: string[] = [];
    for (let i = 0; i < 500; i++) verdicts.push(String(anomalyStep(mem, 50 + 10 * Math.sin(i * 0.7) + ((i * 7919) % 13) / 4, 120, 30, 6, 3, true)));
    expect(anomalyStep(mem, 500, 120, 30, 6, 3, true)).toBe('fire');
    expect(verdicts.filter((v) => v === 'fire')).toEqual([]);
  });
});
