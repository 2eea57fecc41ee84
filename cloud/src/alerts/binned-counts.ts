// An anomaly window's values counted in power-of-two bins, and cursors with the count of values below each
// (rebuilt from the window, never persisted). Invariant: hist and every cursor's count are exact for the window.

/** Bins in the table (the median drifts about BINS / 4 bins, several MADs, before the table is re-centred). */
export const BINS = 256;
/** Slack of the median's cursors when they are placed: at most this many bins beyond its values. */
const SLACK = 8;
/** The cursors' indexes in tc / cc: the inner slots' edges a1 and a2, the median's b1 to b4 (binned-window.ts). */
export const A1 = 0;
export const B1 = 1;
export const B2 = 2;
export const B3 = 3;
export const B4 = 4;
export const A2 = 5;

/** Since the process started (for the benchmarks): verdicts left to the exact path, re-fits, new copies. */
export const binnedCounts = { exact: 0, refits: 0, builds: 0, derives: 0, tightened: 0 };

/** 2^e for an integer e in [−1022, 1023], built from its bits (exact). */
const bits = new DataView(new ArrayBuffer(8));
function pow2(e: number): number {
  bits.setUint32(0, (e + 1023) << 20);
  bits.setUint32(4, 0);
  return bits.getFloat64(0);
}

/**
 * Bins: a value x is in absolute bin j = floor(x · 2^−e) — exact, since scaling by a power of two loses no bit
 * unless the product is subnormal, and then only a negative x rounded to −0 lands in bin 0 (edgeLow allows for
 * it). The table holds BINS bins from `base`; slot 0 counts the values below it, slot BINS + 1 those above it.
 * A cursor t (1 ≤ t ≤ BINS + 1) splits the values into those in slots < t, all below edge(t), and those in
 * slots ≥ t, all at least edgeLow(t).
 */
export class BinCounts {
  /** Values counted; the ring head and length of the window they are (the caller checks them). */
  n = 0;
  head = 0;
  len = 0;
  /** The window counted (a re-fit counts it again; any order). */
  protected readonly window: readonly number[];
  /** Bin width 2^e and its inverse; table slot i (1..BINS) is absolute bin base + i − 1. */
  protected e = 0;
  protected w = 1;
  protected inv = 1;
  protected base = -BINS / 2;
  protected readonly hist = new Int32Array(BINS + 2);
  /** The cursors (slot boundaries, A1..A2) and the values in the slots below each. */
  protected readonly tc = new Int32Array(6);
  protected readonly cc = new Int32Array(6);
  /** The bounds drawn from the cursors still hold for the window (replace clears it when a condition fails). */
  protected fresh = false;
  /** Flat windows: eqCnt values equal eqVal (tracked while eqOn; the MAD is 0 while eqCnt > n / 2). */
  protected eqOn = false;
  protected eqVal = NaN;
  protected eqCnt = 0;

  protected constructor(window: readonly number[]) {
    this.window = window;
  }

  /** The table slot of x (not NaN). */
  protected slot(x: number): number {
    const f = Math.floor(x * this.inv) - this.base;
    return f < 0 ? 0 : f >= BINS ? BINS + 1 : (f + 1) | 0;
  }

  /** Every value in a slot below t is below this (1 ≤ t ≤ BINS + 1). */
  protected edge(t: number): number {
    return (this.base + t - 1) * this.w;
  }

  /** Every value in slot t or above is at least this: edge(t), but bin 0 may hold negatives rounded to −0. */
  protected edgeLow(t: number): number {
    const j = this.base + t - 1;
    return j === 0 && this.w > 1 ? -this.w * Number.MIN_VALUE : j * this.w;
  }

  /** The window grew by v. */
  add(v: number): void {
    this.count(this.slot(v), 1);
    if (this.eqOn && v === this.eqVal) this.eqCnt++;
    this.n++;
    this.fresh = false;
  }

  /** The window lost x (a rule's window made smaller). */
  remove(x: number): void {
    this.count(this.slot(x), -1);
    if (this.eqOn && x === this.eqVal) this.eqCnt--;
    this.n--;
    this.fresh = false;
  }

  protected count(s: number, k: number): void {
    this.hist[s]! += k;
    const tc = this.tc;
    const cc = this.cc;
    for (let i = 0; i < 6; i++) if (s < tc[i]!) cc[i]! += k;
  }

  /** A full ring's write: `gone` left, v joined. No branch on where they fall (a noisy window's are random). */
  replace(gone: number, v: number): void {
    if (this.eqOn) this.eqCnt += (v === this.eqVal ? 1 : 0) - (gone === this.eqVal ? 1 : 0);
    const sv = this.slot(v);
    const sg = this.slot(gone);
    if (sv === sg) return;
    const hist = this.hist;
    hist[sv]!++;
    hist[sg]!--;
    const tc = this.tc;
    const cc = this.cc;
    // (s − t) >> 31 is −1 when s < t (slots and cursors are small), else 0.
    const a1 = (cc[A1]! += ((sg - tc[A1]!) >> 31) - ((sv - tc[A1]!) >> 31));
    const b1 = (cc[B1]! += ((sg - tc[B1]!) >> 31) - ((sv - tc[B1]!) >> 31));
    const b2 = (cc[B2]! += ((sg - tc[B2]!) >> 31) - ((sv - tc[B2]!) >> 31));
    const b3 = (cc[B3]! += ((sg - tc[B3]!) >> 31) - ((sv - tc[B3]!) >> 31));
    const b4 = (cc[B4]! += ((sg - tc[B4]!) >> 31) - ((sv - tc[B4]!) >> 31));
    const a2 = (cc[A2]! += ((sg - tc[A2]!) >> 31) - ((sv - tc[A2]!) >> 31));
    // The bounds' conditions (the header); n is unchanged.
    const mid = this.n >> 1;
    const odd = this.n & 1;
    const lo = mid - 1 + odd;
    if (b1 > lo || b2 <= lo || b3 > mid || b4 <= mid || a2 - a1 >= mid + odd) this.fresh = false;
  }

  /**
   * A lower cursor (its count ≤ k: the k-th smallest value is at least its edge), placed when invalid, or
   * loose (more than 2 · slack values below the k-th), or tight (slack 0): at the k-th value's slot, then down
   * over bins that leave at least k − slack values below it (at most SLACK bins: a quantised signal's gap).
   */
  protected lower(i: number, k: number, slack: number): void {
    const hist = this.hist;
    let t = this.tc[i]!;
    let c = this.cc[i]!;
    if (c <= k && c >= k - 2 * slack && slack > 0) return;
    while (c > k && t > 1) c -= hist[--t]!;
    while (t <= BINS && c + hist[t]! <= k) c += hist[t++]!;
    for (let j = 0; j < SLACK && t > 1 && c - hist[t - 1]! >= k - slack; j++) c -= hist[--t]!;
    this.tc[i] = t;
    this.cc[i] = c;
  }

  /** An upper cursor (its count > k: the k-th smallest value is below its edge), as lower, upwards. */
  protected upper(i: number, k: number, slack: number): void {
    const hist = this.hist;
    let t = this.tc[i]!;
    let c = this.cc[i]!;
    if (c > k && c <= k + 1 + 2 * slack && slack > 0) return;
    while (c <= k && t <= BINS) c += hist[t++]!;
    while (t > 1 && c - hist[t - 1]! > k) c -= hist[--t]!;
    for (let j = 0; j < SLACK && t <= BINS && c + hist[t]! <= k + 1 + slack; j++) c += hist[t++]!;
    this.tc[i] = t;
    this.cc[i] = c;
  }

  /** Bins of width 2^e (or wider: see below), the table centred on `centre`, and the window counted again. */
  protected fit(e: number, centre: number): void {
    binnedCounts.refits++;
    // Keep the table's bin numbers exact integers (|centre| / w < 2^50) and w a normal power of two.
    const mag = Math.abs(centre);
    if (mag > 0) e = Math.max(e, Math.ceil(Math.log2(mag)) - 50);
    e = Math.min(1000, Math.max(-1000, e));
    this.e = e;
    this.w = pow2(e);
    this.inv = pow2(-e);
    this.base = Math.floor(centre * this.inv) - BINS / 2;
    this.recount();
  }

  /** Counts every value of the window anew (bins or base changed, or a new copy); every cursor at the median. */
  protected recount(): void {
    const window = this.window;
    const n = window.length;
    const hist = this.hist;
    hist.fill(0);
    for (let i = 0; i < n; i++) hist[this.slot(window[i]!)]!++;
    this.n = n;
    let t = 0;
    let c = 0;
    while (t <= BINS && c + hist[t]! <= n >> 1) c += hist[t++]!;
    t = Math.max(1, t);
    if (t === 1) c = hist[0]!;
    this.tc.fill(t);
    this.cc.fill(c);
    this.fresh = false;
  }
}
