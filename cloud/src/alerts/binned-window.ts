// An anomaly window's values counted in bins of a power-of-two width (never persisted: rebuilt from the window),
// with the bins of its median and a radius of bins around it kept current in O(1) per reading: bounds of the
// robust |z| that decide most verdicts without ordering the window. Invariant: hist holds exactly the window's
// values per bin, and each cursor count exactly the values in the bins below its cursor.
//
// Bins: a value x is in absolute bin j = floor(x · 2^−e) (exact: scaling by a power of two loses no bit unless
// the product is subnormal, and then only a negative x rounded to −0 lands in bin 0 — edgeLow allows for it).
// The table holds BINS bins from `base`; slot 0 counts the values below it, slot BINS + 1 those above it.
// Cursor t (a slot boundary, 1 ≤ t ≤ BINS + 1) splits the values into those in slots < t, all below edge(t),
// and those in slots ≥ t, all at least edgeLow(t).
//
// The bounds (every step is one IEEE operation, monotone in its inputs, so bounds of the inputs bound the
// rounded result with no margin; the reference computes the same operations on the exact values):
// - t2 is the slot of the lower middle value s[lo] (c2 values below it: c2 ≤ lo), t3 − 1 the slot of the upper
//   one s[mid] (c3 values in slots < t3: c3 > mid). So the median m = s[mid] (n odd) or (s[lo] + s[mid]) / 2
//   lies in [mlo, mhi], the same expression on the bins' edges.
// - Fewer than `cnt` values (cnt = mid + 1 for n odd, mid for n even) lie in slots [t1, t4), so at least
//   n − cnt + 1 deviations |x − m| are ≥ D = min(mlo − edge(t1), edgeLow(t4) − mhi): the cnt-th smallest
//   deviation, and so the MAD (the mean of it and the next when n is even), is ≥ D. D > 0 rules out the
//   flat-window fallback (MAD 0), and |z| ≤ max(|v − mlo|, |v − mhi|) / (1.4826 · D).
// - For a lower bound of |z| (needed to prove 'fire', or 'hold' over 'clear'): at least mid + 1 values lie
//   in slots [t2 − R, t3 + R) (counted when needed), so the MAD is ≤ Du, the largest deviation any of them
//   can have from any median in [mlo, mhi]; |z| ≥ dist(v, [mlo, mhi]) / (1.4826 · Du).
import type { Verdict } from './series-machine.js';

/** Bins in the table (the median drifts ~BINS / 2 bins, a few MADs, before the table is re-centred). */
export const BINS = 256;
/** The bin width aimed for: MAD / 2^TARGET_SHIFT (16 to 32 bins per MAD). */
const TARGET_SHIFT = 4;
/** Bins per MAD (about: the inner radius) outside which the bins are re-fitted. */
const MIN_R = 6;
const MAX_R = 96;

/** 2^e for an integer e in [−1022, 1023], built from its bits (exact). */
const bits = new DataView(new ArrayBuffer(8));
function pow2(e: number): number {
  bits.setUint32(0, (e + 1023) << 20);
  bits.setUint32(4, 0);
  return bits.getFloat64(0);
}

/** Since the process started (for the benchmarks): verdicts left to the exact path, re-binnings, new copies. */
export const binnedCounts = { exact: 0, rebins: 0, refits: 0, builds: 0 };

export class BinnedWindow {
  /** Values counted; the ring head and length of the window they are (the caller checks them). */
  n = 0;
  /** The window counted (its values in any order: a re-fit counts them again). */
  private readonly window: readonly number[];
  head = 0;
  len = 0;
  /** Bin width 2^e and its inverse; table slot i (1..BINS) is absolute bin base + i − 1. */
  private e = 0;
  private w = 1;
  private inv = 1;
  private base = -BINS / 2;
  private readonly hist = new Int32Array(BINS + 2);
  /** Cursors (slot boundaries) and the values in the slots below each: see the header. r: t1, t4's radius. */
  private t1 = 1;
  private t2 = 1;
  private t3 = 1;
  private t4 = 1;
  private c1 = 0;
  private c2 = 0;
  private c3 = 0;
  private c4 = 0;
  private r = 0;
  /** The median's bounds and the scale's lower bound 1.4826 · D (NaN: none) as of the cursors; fresh: current. */
  private mlo = NaN;
  private mhi = NaN;
  private sLo = NaN;
  private fresh = false;
  /** Flat windows: eqCnt values equal eqVal (tracked while eqOn; the MAD is 0 while eqCnt > n / 2). */
  private eqOn = false;
  private eqVal = NaN;
  private eqCnt = 0;

  /** The counts of `window` (ring head `head`), or undefined when it holds NaN (no order to bound). */
  static of(window: readonly number[], head: number): BinnedWindow | undefined {
    for (let i = 0; i < window.length; i++) if (window[i] !== window[i]) return undefined;
    binnedCounts.builds++;
    const b = new BinnedWindow(window);
    b.head = head;
    b.len = window.length;
    b.recount();
    return b;
  }

  private constructor(window: readonly number[]) {
    this.window = window;
  }

  /** The table slot of x (not NaN). */
  private slot(x: number): number {
    const f = Math.floor(x * this.inv) - this.base;
    return f < 0 ? 0 : f >= BINS ? BINS + 1 : (f + 1) | 0;
  }

  /** Every value in a slot below t is below this (1 ≤ t ≤ BINS + 1). */
  private edge(t: number): number {
    return (this.base + t - 1) * this.w;
  }

  /** Every value in slot t or above is at least this: edge(t), but bin 0 may hold negatives rounded to −0. */
  private edgeLow(t: number): number {
    const j = this.base + t - 1;
    return j === 0 && this.w > 1 ? -this.w * Number.MIN_VALUE : j * this.w;
  }

  /** The window grew by v. */
  add(v: number): void {
    const s = this.slot(v);
    this.hist[s]!++;
    if (s < this.t1) this.c1++;
    if (s < this.t2) this.c2++;
    if (s < this.t3) this.c3++;
    if (s < this.t4) this.c4++;
    if (this.eqOn && v === this.eqVal) this.eqCnt++;
    this.n++;
    this.fresh = false;
    this.settle();
  }

  /** The window lost x (a rule's window made smaller). */
  remove(x: number): void {
    const s = this.slot(x);
    this.hist[s]!--;
    if (s < this.t1) this.c1--;
    if (s < this.t2) this.c2--;
    if (s < this.t3) this.c3--;
    if (s < this.t4) this.c4--;
    if (this.eqOn && x === this.eqVal) this.eqCnt--;
    this.n--;
    this.fresh = false;
    this.settle();
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
    // (s − t) >> 31 is −1 when s < t (slots and cursors are small), else 0.
    this.c1 += ((sg - this.t1) >> 31) - ((sv - this.t1) >> 31);
    this.c2 += ((sg - this.t2) >> 31) - ((sv - this.t2) >> 31);
    this.c3 += ((sg - this.t3) >> 31) - ((sv - this.t3) >> 31);
    this.c4 += ((sg - this.t4) >> 31) - ((sv - this.t4) >> 31);
    this.settle();
  }

  /**
   * Moves the cursors back to their places after a change: t2 to the slot of s[lo], t3 just above the slot of
   * s[mid], then t1 and t4 around the median's bounds, as far apart as fewer than cnt values between allows.
   */
  private settle(): void {
    const hist = this.hist;
    const n = this.n;
    const mid = n >> 1;
    const lo = n & 1 ? mid : mid - 1;
    let t2 = this.t2;
    let c2 = this.c2;
    let t3 = this.t3;
    let c3 = this.c3;
    const moved = c2 > lo || c2 + hist[t2]! <= lo || c3 <= mid || c3 - hist[t3 - 1]! > mid;
    if (moved) {
      while (c2 > lo && t2 > 1) c2 -= hist[--t2]!;
      while (c2 + hist[t2]! <= lo && t2 < BINS) c2 += hist[t2++]!;
      while (c3 <= mid && t3 <= BINS) c3 += hist[t3++]!;
      while (c3 - hist[t3 - 1]! > mid && t3 > 2) c3 -= hist[--t3]!;
      this.t2 = t2;
      this.c2 = c2;
      this.t3 = t3;
      this.c3 = c3;
      this.fresh = false;
    }
    if (this.fresh && this.c4 - this.c1 < (n & 1 ? mid + 1 : mid)) return;
    this.fresh = false;
  }

  /**
   * derive, and when the median has drifted near the table's edge, or the bins are too coarse or too fine for
   * the spread that the inner radius shows, the bins re-fitted around it (a count of the window: O(n), no sort)
   * and derive again.
   */
  private refresh(): void {
    const fit = this.derive();
    if (fit === 0) return;
    const centre = this.base + ((this.slot(this.mlo) + this.slot(this.mhi)) >> 1) - 1; // an absolute bin
    let e = this.e;
    if (fit === 2) e = Math.floor(Math.log2((this.r + 1) * this.w)) - TARGET_SHIFT;
    this.fit(e, centre * this.w);
    binnedCounts.refits++;
    this.derive();
  }

  /**
   * The median's bounds, and the inner cursors as far apart as the count allows; sLo from them. Returns 0 when
   * the bins fit the window, 1 when the median is near the table's edge, 2 when the bins' width is off.
   */
  private derive(): 0 | 1 | 2 {
    this.fresh = true;
    this.sLo = NaN;
    const n = this.n;
    if (n === 0) return 0;
    const hist = this.hist;
    const mid = n >> 1;
    const odd = (n & 1) === 1;
    const lo = odd ? mid : mid - 1;
    const cnt = odd ? mid + 1 : mid;
    const { t2, t3, c2, c3 } = this;
    // s[lo] ≥ edgeLow(t2) and s[mid] < edge(t3); closer bounds when t2, t3 sit right on them (settle keeps
    // them there unless the table's edge stops them).
    if (c2 > lo || c3 <= mid) return 0; // the median is off the table: the exact path re-fits
    const loLow = this.edgeLow(t2);
    const midHigh = this.edge(t3);
    if (odd) {
      this.mlo = loLow;
      this.mhi = midHigh;
    } else {
      const loHigh = c2 + hist[t2]! > lo ? this.edge(t2 + 1) : midHigh;
      const midLow = c3 - hist[t3 - 1]! <= mid ? this.edgeLow(t3 - 1) : loLow;
      this.mlo = (loLow + midLow) / 2;
      this.mhi = (loHigh + midHigh) / 2;
    }
    // The inner slots: those of mlo to mhi and r more on each side, r as large as fewer than cnt values allow.
    const sl = this.slot(this.mlo);
    const sh = this.slot(this.mhi) + 1;
    if (sl < BINS / 4 || sh > (BINS * 3) / 4) return 1;
    const r0 = this.r;
    let t1 = this.t1;
    let c1 = this.c1;
    let t4 = this.t4;
    let c4 = this.c4;
    const want1 = Math.max(1, sl - r0);
    const want4 = Math.min(BINS + 1, sh + r0);
    while (t1 > want1) c1 -= hist[--t1]!;
    while (t1 < want1) c1 += hist[t1++]!;
    while (t4 < want4) c4 += hist[t4++]!;
    while (t4 > want4) c4 -= hist[--t4]!;
    while (c4 - c1 >= cnt && (t1 < sl || t4 > sh)) {
      if (t1 < sl) c1 += hist[t1++]!;
      if (t4 > sh && c4 - c1 >= cnt) c4 -= hist[--t4]!;
    }
    while (t1 > 1 && t4 <= BINS && c4 - c1 + hist[t1 - 1]! + hist[t4]! < cnt) {
      c1 -= hist[--t1]!;
      c4 += hist[t4++]!;
    }
    this.t1 = t1;
    this.c1 = c1;
    this.t4 = t4;
    this.c4 = c4;
    const r = (this.r = Math.min(sl - t1, t4 - sh));
    if (c4 - c1 < cnt) {
      const d = Math.min(this.mlo - this.edge(t1), this.edgeLow(t4) - this.mhi);
      if (d > 0) this.sLo = 1.4826 * (odd ? d : (d + d) / 2);
    }
    // Too coarse: r < MIN_R (but the window is not flat: r > 0); too fine: r reached far out.
    return (r > 0 && r < MIN_R) || r > MAX_R ? 2 : 0;
  }

  /**
   * The verdict on v (not NaN) against the counted window when the bounds decide it, else undefined. onlyFire:
   * a verdict proven not 'fire' may be 'clear' or 'hold' either way (the caller only needs fire / not fire).
   */
  verdict(v: number, fire: number, clear: number, onlyFire: boolean): Verdict | undefined {
    if (!this.fresh) this.refresh();
    const mlo = this.mlo;
    const mhi = this.mhi;
    const zhi = Math.max(Math.abs(v - mlo), Math.abs(v - mhi)) / this.sLo;
    if (zhi <= fire) {
      if (zhi <= clear) return 'clear';
      if (onlyFire || this.zlo(v) > clear) return 'hold';
      return this.flatVerdict(v, fire, clear);
    }
    if (this.zlo(v) > fire) return 'fire';
    return this.flatVerdict(v, fire, clear);
  }

  /** A lower bound of |z| for v (NaN when there is none: no lower bound of the MAD above 0). */
  private zlo(v: number): number {
    if (!(this.sLo > 0)) return NaN;
    const n = this.n;
    const need = (n >> 1) + 1;
    const hist = this.hist;
    let ta = this.t2;
    let tb = this.t3;
    let count = this.c3 - this.c2;
    while (count < need) {
      if (ta <= 1 || tb > BINS) return NaN;
      count += hist[--ta]! + hist[tb++]!;
    }
    const mlo = this.mlo;
    const mhi = this.mhi;
    const du = Math.max(mhi - this.edgeLow(ta), this.edge(tb) - mlo);
    const sHi = 1.4826 * (n & 1 ? du : (du + du) / 2);
    const dmin = v > mhi ? v - mhi : v < mlo ? mlo - v : 0;
    return dmin / sHi;
  }

  /** A flat window (more than half one value): its median is that value and its MAD 0. */
  private flatVerdict(v: number, fire: number, clear: number): Verdict | undefined {
    if (!this.eqOn) return undefined;
    const n = this.n;
    if (this.eqCnt <= n >> 1) {
      this.eqOn = false;
      return undefined;
    }
    const x = this.eqVal;
    const m = n & 1 ? x : (x + x) / 2;
    if (m !== x) return undefined; // (x + x) overflowed
    // d = v − m is 0 exactly when v equals m (z 0); otherwise, with every deviation 0, the fallback scale is 0
    // too (z ±Infinity); otherwise the fallback sums the deviations in order: left to the exact path.
    const a = v === m ? 0 : this.eqCnt === n ? Infinity : NaN;
    if (a !== a) return undefined;
    return a > fire ? 'fire' : a <= clear ? 'clear' : 'hold';
  }

  /**
   * After an exact computation (median m, MAD mad of the window): re-bins when the bins are too coarse or too
   * fine for this MAD or the median nears the table's edge, and follows a flat window's value.
   */
  retune(m: number, mad: number): void {
    binnedCounts.exact++;
    const window = this.window;
    if (mad === 0) {
      if (Number.isFinite(m)) {
        let eq = 0;
        for (let i = 0; i < window.length; i++) if (window[i] === m) eq++;
        this.eqOn = true;
        this.eqVal = m;
        this.eqCnt = eq;
      }
      return;
    }
    if (!(Number.isFinite(mad) && Number.isFinite(m))) return;
    const ratio = mad * this.inv;
    const centre = Math.floor(m * this.inv) - this.base;
    if (ratio >= MIN_R && ratio <= MAX_R && centre > BINS / 4 && centre < (BINS * 3) / 4) return;
    this.fit(Math.floor(Math.log2(mad)) - TARGET_SHIFT, m);
  }

  /** Bins of width 2^e (or wider: see below), the table centred on `centre`, and the window counted again. */
  private fit(e: number, centre: number): void {
    // Keep the table's bin numbers exact integers (|centre| / w < 2^50) and w a normal power of two.
    const mag = Math.abs(centre);
    if (mag > 0) e = Math.max(e, Math.ceil(Math.log2(mag)) - 50);
    e = Math.min(1000, Math.max(-1000, e));
    if (e !== this.e) binnedCounts.rebins++;
    this.e = e;
    this.w = pow2(e);
    this.inv = pow2(-e);
    this.base = Math.floor(centre * this.inv) - BINS / 2;
    this.recount();
  }

  /** Counts every value of the window anew (bins or base changed, or a new copy). */
  private recount(): void {
    const window = this.window;
    const hist = this.hist;
    hist.fill(0);
    for (let i = 0; i < window.length; i++) hist[this.slot(window[i]!)]!++;
    this.n = window.length;
    this.t1 = this.t2 = this.t3 = this.t4 = 1;
    this.c1 = this.c2 = this.c3 = this.c4 = hist[0]!;
    this.r = 0;
    this.fresh = false;
    this.settle();
  }
}
