// The in-memory dedup state of one partition: per (device, stream id) a DedupState, and which entries changed
// since the last snapshot. Every state is a SET of seqs ("received or given up"): folding a message or a
// low-water mark is a union, so folding twice, or in another order, gives the same state. That is what lets
// the state be rebuilt from a snapshot plus the messages after it, and two snapshots be merged.
import { advanceTo, isDuplicate, recordSeq, type DedupState } from '../dedup.js';
import { deviceToken } from './record-headers.js';

const EMPTY: DedupState = Object.freeze({ hwm: 0, above: [] as number[] }) as DedupState;

/** The key of a (device, stream) in the index and in the snapshot bucket: `d.<device token>.<stream hex>`. */
export function dedupKey(deviceId: string, streamHex: string): string {
  return `d.${deviceToken(deviceId)}.${streamHex}`;
}

/** Set union of two states. */
export function unionStates(a: DedupState, b: DedupState): DedupState {
  let hwm = Math.max(a.hwm, b.hwm);
  const set = new Set<number>();
  for (const s of a.above) if (s > hwm) set.add(s);
  for (const s of b.above) if (s > hwm) set.add(s);
  while (set.delete(hwm + 1)) hwm++;
  return { hwm, above: [...set].sort((x, y) => x - y) };
}

export function sameState(a: DedupState, b: DedupState): boolean {
  return a.hwm === b.hwm && a.above.length === b.above.length && a.above.every((s, i) => s === b.above[i]);
}

export class DedupIndex {
  private readonly states = new Map<string, DedupState>();
  private dirty = new Set<string>();

  get size(): number {
    return this.states.size;
  }

  get(key: string): DedupState {
    return this.states.get(key) ?? EMPTY;
  }

  isDuplicate(key: string, seq: number): boolean {
    return isDuplicate(this.get(key), seq);
  }

  /**
   * The batch says every seq below `lowWaterSeq` was acknowledged or given up by its sender. Ignored unless
   * it lies at or below the batch's own seq (as the SQLite store does): a bogus mark must not hide new seqs.
   */
  advance(key: string, lowWaterSeq: number | undefined, seq: number): void {
    if (lowWaterSeq === undefined || lowWaterSeq > seq) return;
    const state = this.get(key);
    if (lowWaterSeq - 1 <= state.hwm) return;
    this.set(key, advanceTo(state, lowWaterSeq));
  }

  /** Adds `seq`; a no-op when it is already in the set. */
  record(key: string, seq: number): void {
    const state = this.get(key);
    if (isDuplicate(state, seq)) return;
    this.set(key, recordSeq(state, seq));
  }

  /** Folds one stored message: its low-water mark, then its seq (as append decided it). */
  fold(key: string, seq: number, lowWaterSeq: number | undefined): void {
    this.advance(key, lowWaterSeq, seq);
    this.record(key, seq);
  }

  /** Unions a state from elsewhere (a snapshot); `markDirty` when the snapshot must learn the result. */
  merge(key: string, other: DedupState, markDirty = false): void {
    const mine = this.states.get(key);
    const next = mine ? unionStates(mine, other) : unionStates(EMPTY, other);
    if (mine && sameState(mine, next)) return;
    this.states.set(key, next);
    if (markDirty) this.dirty.add(key);
  }

  /** The entries changed since the last call, as they are now (states are immutable values). */
  takeDirty(): Array<[string, DedupState]> {
    const out: Array<[string, DedupState]> = [];
    for (const key of this.dirty) out.push([key, this.get(key)]);
    this.dirty = new Set();
    return out;
  }

  /** A snapshot that failed to write them: they are still to be written. */
  markDirty(keys: Iterable<string>): void {
    for (const k of keys) this.dirty.add(k);
  }

  get dirtyCount(): number {
    return this.dirty.size;
  }

  private set(key: string, state: DedupState): void {
    this.states.set(key, state);
    this.dirty.add(key);
  }
}
