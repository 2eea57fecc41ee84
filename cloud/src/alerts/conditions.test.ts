// robustZ is the evaluator's hot path and was rewritten for speed (an ordered copy of the window kept beside
// it): it must give exactly (Object.is) what the straightforward version gives, on windows with ties, flat
// stretches, signed zeros and outliers, and after the window is reloaded from the store.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { robustZ, robustZReference, type SeriesMemory } from './conditions.js';

const value = fc.oneof(
  fc.double({ noNaN: true, noDefaultInfinity: true, min: -1e6, max: 1e6 }),
  fc.integer({ min: -3, max: 3 }),
  fc.constantFrom(0, -0, 1.5, 1e-9, 250.25),
);

describe('robustZ', () => {
  it('equals the reference version exactly, z and window, reading after reading', () => {
    fc.assert(
      fc.property(fc.array(value, { maxLength: 400 }), fc.integer({ min: 3, max: 150 }), fc.integer({ min: 3, max: 150 }), fc.integer({ min: 1, max: 500 }), (values, windowSize, h, reloadEvery) => {
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
        expect(fast.window).toEqual(ref.window);
        return true;
      }),
      { numRuns: 500 },
    );
  });

  it('takes the reference path while the window holds NaN, and the fast one again once it left', () => {
    const fast: SeriesMemory = { window: [1, 2, NaN, 4, 5] };
    const ref: SeriesMemory = { window: [1, 2, NaN, 4, 5] };
    for (const v of [3, 7, 1, 2, 9, 2, 3, NaN, 4, 4, 5, 6, 1, 2]) expect(robustZ(fast, v, 5, 3)).toBe(robustZReference(ref, v, 5, 3));
    expect(fast.window).toEqual(ref.window);
  });
});
