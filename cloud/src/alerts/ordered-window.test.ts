// The lazy ordered window on its own: after any run of ring writes it merges to exactly the window's values
// in order, and its |z| bound is never below the reference |z| — at every number of pending writes, on noisy,
// quantised, tied and huge values (the verdict tests in conditions.test.ts check what anomalyStep makes of it).
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { robustZReference, type SeriesMemory } from './conditions.js';
import { OrderedWindow } from './ordered-window.js';

const values = fc.oneof(
  { arbitrary: fc.integer({ min: -20, max: 20 }), weight: 6 }, // ties, and a MAD of a few steps
  { arbitrary: fc.double({ noNaN: true, noDefaultInfinity: true, min: -1e6, max: 1e6 }), weight: 3 },
  { arbitrary: fc.constantFrom(0, -0, 7, 7, 7, 1.7e308, -1.7e308, Number.MAX_VALUE, -Number.MAX_VALUE), weight: 1 },
);

/** The reference |z| of `v` against `window` (oldest first) — undefined unless finite. */
function refAbsZ(window: number[], v: number): number | undefined {
  const mem: SeriesMemory = { window: [...window] };
  const z = robustZReference(mem, v, window.length + 1, 1);
  return z === undefined || !Number.isFinite(z) ? undefined : Math.abs(z);
}

describe('OrderedWindow', () => {
  it('bounds |z| from above at every pending count, and merges to the sorted window', () => {
    fc.assert(
      fc.property(fc.array(values, { minLength: 2, maxLength: 130 }), fc.array(values, { maxLength: 300, size: 'max' }), (start, writes) => {
        const ring = [...start];
        const n = ring.length;
        let head = 0;
        const w = OrderedWindow.of(ring, head, n)!;
        for (const v of writes) {
          const oldestFirst = ring.slice(head).concat(ring.slice(0, head));
          const z = refAbsZ(oldestFirst, v);
          const bound = w.zBound(v);
          if (z !== undefined && bound < z) return false; // a bound below the true |z|: a fire missed
          const gone = ring[head]!;
          ring[head] = v;
          head = head + 1 === n ? 0 : head + 1;
          w.replace(gone, v);
        }
        w.merge();
        // (x + 0: -0 and 0 may sit in either order, as equal values)
        expect([...w.s.subarray(0, w.n)].map((x) => x + 0)).toEqual([...ring].sort((a, b) => a - b).map((x) => x + 0));
        return true;
      }),
      { numRuns: 400 },
    );
  });

  it('decides most readings of a noisy window without merging (the point of being lazy)', () => {
    let seed = 1;
    const rnd = () => (seed = (seed * 16807) % 2147483647) / 2147483647;
    const ring = Array.from({ length: 120 }, () => Math.round(rnd() * 1000) / 10);
    const w = OrderedWindow.of(ring, 0, 120)!;
    let head = 0;
    let decided = 0;
    for (let k = 0; k < 1200; k++) {
      const v = Math.round(rnd() * 1000) / 10;
      if (w.zBound(v) <= 6) decided++;
      const gone = ring[head]!;
      ring[head] = v;
      head = (head + 1) % 120;
      w.replace(gone, v);
    }
    expect(decided).toBeGreaterThan(1100);
  });
});
