// Per-stream dedup state that never forgets and stays small: a contiguous high-water mark plus the set of
// seqs received above it. A sender that delivers in order keeps `above` empty.

export interface DedupState {
  hwm: number;
  above: number[];
}

export function isDuplicate(state: DedupState, seq: number): boolean {
  return seq <= state.hwm || state.above.includes(seq);
}

/** Records `seq` (which must not be a duplicate) and folds contiguous seqs into the high-water mark. */
export function recordSeq(state: DedupState, seq: number): DedupState {
  let hwm = state.hwm;
  let above = state.above;
  if (seq === hwm + 1) {
    hwm = seq;
    if (above.length > 0) {
      const set = new Set(above);
      while (set.delete(hwm + 1)) hwm++;
      above = [...set].sort((a, b) => a - b);
    }
  } else {
    above = [...above, seq].sort((a, b) => a - b);
  }
  return { hwm, above };
}

/**
 * The sender states that every seq below `lowWaterSeq` was acknowledged or given up and will never be sent:
 * fold that into the high-water mark, so a gap the sender abandoned (a batch dropped from a full buffer, a
 * rejected batch) does not keep every later seq in `above` forever.
 */
export function advanceTo(state: DedupState, lowWaterSeq: number): DedupState {
  if (lowWaterSeq - 1 <= state.hwm) return state;
  let hwm = lowWaterSeq - 1;
  const set = new Set(state.above.filter((s) => s > hwm));
  while (set.delete(hwm + 1)) hwm++;
  return { hwm, above: [...set].sort((a, b) => a - b) };
}
