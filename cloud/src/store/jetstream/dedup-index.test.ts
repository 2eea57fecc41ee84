// The dedup index as a set: folding is a union, so order and repetition do not matter (what lets a rebuild
// fold a snapshot plus the messages after it, overlapping or not), and two snapshots merge by union.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { isDuplicate, type DedupState } from '../dedup.js';
import { DedupIndex, dedupKey, unionStates } from './dedup-index.js';

/** The seqs a state says were seen, up to `max`. */
function seen(state: DedupState, max: number): number[] {
  return Array.from({ length: max }, (_, i) => i + 1).filter((s) => isDuplicate(state, s));
}

const foldArb = fc.array(fc.record({ seq: fc.integer({ min: 1, max: 40 }), lw: fc.option(fc.integer({ min: 1, max: 40 }), { nil: undefined }) }), {
  maxLength: 30,
});

describe('DedupIndex', () => {
  it('keys a (device, stream) with dots in the device id made reversible and KV-safe', () => {
    expect(dedupKey('van.3', 'ab')).toBe('d.van=3.ab');
    expect(dedupKey('a..b', 'ab')).toBe('d.a==b.ab');
  });

  it('property: folding messages in any order, repeated, gives the same state', () => {
    fc.assert(
      fc.property(foldArb, fc.integer({ min: 0, max: 1000 }), (folds, seed) => {
        const a = new DedupIndex();
        for (const f of folds) a.fold('k', f.seq, f.lw);
        const shuffled = [...folds, ...folds].sort((x, y) => ((x.seq * 7919 + seed) % 97) - ((y.seq * 7919 + seed) % 97));
        const b = new DedupIndex();
        for (const f of shuffled) b.fold('k', f.seq, f.lw);
        expect(b.get('k')).toEqual(a.get('k'));
      }),
    );
  });

  it('property: union of two states is the union of what they have seen, in canonical form', () => {
    fc.assert(
      fc.property(foldArb, foldArb, (x, y) => {
        const a = new DedupIndex();
        const b = new DedupIndex();
        const both = new DedupIndex();
        for (const f of x) a.fold('k', f.seq, f.lw);
        for (const f of y) b.fold('k', f.seq, f.lw);
        for (const f of [...x, ...y]) both.fold('k', f.seq, f.lw);
        const u = unionStates(a.get('k'), b.get('k'));
        expect(seen(u, 50)).toEqual([...new Set([...seen(a.get('k'), 50), ...seen(b.get('k'), 50)])].sort((p, q) => p - q));
        expect(u).toEqual(both.get('k'));
      }),
    );
  });

  it('ignores a low-water mark above the batch seq, and tracks what changed since the last snapshot', () => {
    const idx = new DedupIndex();
    idx.fold('k', 3, 10);
    expect(idx.get('k')).toEqual({ hwm: 0, above: [3] });
    idx.fold('k', 12, 12);
    expect(idx.get('k')).toEqual({ hwm: 12, above: [] });
    expect(idx.takeDirty()).toEqual([['k', { hwm: 12, above: [] }]]);
    idx.fold('k', 5, undefined); // already seen: nothing changes
    expect(idx.dirtyCount).toBe(0);
    idx.merge('j', { hwm: 2, above: [4] });
    expect(idx.dirtyCount).toBe(0);
    idx.merge('j', { hwm: 3, above: [] }, true);
    expect(idx.get('j')).toEqual({ hwm: 4, above: [] });
    expect(idx.takeDirty().map(([k]) => k)).toEqual(['j']);
  });
});
