// Debounce for a two-level input with the semantics of a PLC input filter: a new level counts only once it
// has held for `debounceMs`, so a contact bounce or an EMI spike shorter than that is never reported. The
// reading carries the time of the edge that began the stable run (when the door really opened), not the
// time we became sure of it. Invariants: reported levels alternate (never the same level twice in a row),
// reported times are at least `debounceMs` apart, and the last level that held is always reported.
// Pure: time comes in with each call, so tests drive it with any clock.
import type { GpioLevel } from './gpio-driver.js';

export interface DebouncedEdge {
  level: GpioLevel;
  tsMs: number;
}

export class Debouncer {
  /** Last reported level (the initial one until the first change is confirmed). */
  private stable: GpioLevel;
  /** Level of the most recent raw edge, and when that edge happened. */
  private raw: GpioLevel;
  private rawSince: number;
  private lastInputTs: number;
  private lastOutputTs = Number.NEGATIVE_INFINITY;

  constructor(
    readonly debounceMs: number,
    initial: GpioLevel,
    startTs = Number.NEGATIVE_INFINITY,
  ) {
    if (!(debounceMs >= 0)) throw new RangeError(`debounceMs must be >= 0, got ${debounceMs}`);
    this.stable = initial;
    this.raw = initial;
    this.rawSince = startTs;
    this.lastInputTs = startTs;
  }

  /** The level last reported (or the initial level). */
  get level(): GpioLevel {
    return this.stable;
  }

  /** When the pending change becomes certain if no edge comes first; undefined when nothing is pending. */
  get dueAt(): number | undefined {
    return this.raw === this.stable ? undefined : this.rawSince + this.debounceMs;
  }

  /**
   * A raw edge: the line is now at `level` since `tsMs`. Returns the change it proves (a pending level
   * that held until this edge), plus this edge itself when debouncing is off.
   */
  edge(level: GpioLevel, tsMs: number): DebouncedEdge[] {
    // Times never run backwards here, even if a late edge carries an older stamp than one already seen.
    const ts = Math.max(tsMs, this.lastInputTs);
    const out = this.flush(ts);
    this.lastInputTs = ts;
    if (level !== this.raw) {
      this.raw = level;
      this.rawSince = ts;
    } else if (level !== this.stable) {
      // The same pending level reported twice means the line bounced in between (the kernel names an
      // edge after the level it reads afterwards): the stable run starts again.
      this.rawSince = ts;
    }
    // A duplicate of the stable level with nothing pending changes nothing.
    out.push(...this.flush(ts));
    return out;
  }

  /** Time has reached `nowMs` (same clock as the edges): confirms the pending level if it held long enough. */
  flush(nowMs: number): DebouncedEdge[] {
    if (this.raw === this.stable || nowMs < this.rawSince + this.debounceMs) return [];
    // Only an edge that arrived after its pending level was already confirmed can make rawSince fall
    // inside the previous reading's window; holding the spacing keeps the invariant for consumers.
    const tsMs = Math.max(this.rawSince, this.lastOutputTs + this.debounceMs);
    this.stable = this.raw;
    this.lastOutputTs = tsMs;
    return [{ level: this.raw, tsMs }];
  }
}
