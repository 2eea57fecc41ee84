// Dedup state vs the obvious model (a Set of every seq ever recorded): same answers, and the compact form
// keeps its invariants (hwm contiguous from 1, `above` sorted, distinct and strictly above hwm).
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { advanceTo, isDuplicate, recordSeq, type DedupState } from './dedup.js';

const EMPTY: DedupState = { hwm: 0, above: [] };

function expectInvariants(state: DedupState, seen: ReadonlySet<number>): void {
  // hwm is the longest run 1..hwm that has been seen.
  for (let s = 1; s <= state.hwm; s++) expect(seen.has(s)).toBe(true);
  expect(seen.has(state.hwm + 1)).toBe(false);
  for (let i = 0; i < state.above.length; i++) {
    expect(state.above[i]!).toBeGreaterThan(state.hwm + 1);
    if (i > 0) expect(state.above[i]!).toBeGreaterThan(state.above[i - 1]!);
  }
  // Nothing seen is lost and nothing unseen is invented.
  expect(state.hwm + state.above.length).toBe(seen.size);
  for (const s of state.above) expect(seen.has(s)).toBe(true);
}

describe('dedup state', () => {
  it('answers like a Set of every recorded seq, for any arrival order with repeats', () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 1, max: 60 }), { maxLength: 200 }), (arrivals) => {
        let state = EMPTY;
        const seen = new Set<number>();
        for (const seq of arrivals) {
          expect(isDuplicate(state, seq)).toBe(seen.has(seq));
          if (!seen.has(seq)) {
            state = recordSeq(state, seq);
            seen.add(seq);
          }
          expectInvariants(state, seen);
        }
        for (let s = 1; s <= 62; s++) expect(isDuplicate(state, s)).toBe(seen.has(s));
      }),
      { numRuns: 300 },
    );
  });

  it('folds to a bare high-water mark once every gap is filled, whatever the order', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 80 }).chain((n) => fc.shuffledSubarray([...Array(n).keys()].map((i) => i + 1), { minLength: n, maxLength: n })),
        (perm) => {
          let state = EMPTY;
          for (const seq of perm) state = recordSeq(state, seq);
          expect(state).toEqual({ hwm: perm.length, above: [] });
        },
      ),
    );
  });

  it('keeps large gaps in `above` without touching the high-water mark', () => {
    let state = recordSeq(EMPTY, 1);
    state = recordSeq(state, 1_000_000);
    state = recordSeq(state, 3);
    expect(state).toEqual({ hwm: 1, above: [3, 1_000_000] });
    state = recordSeq(state, 2);
    expect(state).toEqual({ hwm: 3, above: [1_000_000] });
    expect(isDuplicate(state, 0)).toBe(true);
    expect(isDuplicate(state, 4)).toBe(false);
    expect(isDuplicate(state, 1_000_000)).toBe(true);
  });

  it('never mutates the state it is given (callers keep the old one on rollback)', () => {
    const before: DedupState = { hwm: 2, above: [5, 7] };
    const snapshot = structuredClone(before);
    recordSeq(before, 3);
    recordSeq(before, 6);
    expect(before).toEqual(snapshot);
  });
});

describe('low-water mark from the sender', () => {
  it('folds an abandoned gap: later seqs stop piling up in `above`', () => {
    let s: DedupState = { hwm: 0, above: [] };
    for (const seq of [1, 2, 3, 5, 6, 7]) s = recordSeq(s, seq); // 4 was dropped by the edge
    expect(s).toEqual({ hwm: 3, above: [5, 6, 7] });
    s = advanceTo(s, 5); // "everything below 5 is done"
    expect(s).toEqual({ hwm: 7, above: [] });
    expect(isDuplicate(s, 4)).toBe(true);
  });

  it('never moves backwards and keeps seqs above the mark', () => {
    const s: DedupState = { hwm: 10, above: [14, 20] };
    expect(advanceTo(s, 5)).toBe(s);
    expect(advanceTo(s, 13)).toEqual({ hwm: 12, above: [14, 20] });
    expect(advanceTo(s, 14)).toEqual({ hwm: 14, above: [20] });
  });
});
