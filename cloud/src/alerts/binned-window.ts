// Bounds of an anomaly window's robust |z| from its values counted in bins (binned-counts.ts), kept valid in
// O(1) per reading. Invariant: while fresh, mlo ≤ median ≤ mhi and 1.4826 · MAD ≥ sLo (sLo NaN: no bound).
import { A1, A2, B1, B2, B3, B4, BinCounts, binnedCounts, BINS } from './binned-counts.js';
import type { Verdict } from './series-machine.js';

export { binnedCounts } from './binned-counts.js';

/** The bin width aimed for: MAD / 2^TARGET_SHIFT (16 to 32 bins per MAD). */
const TARGET_SHIFT = 4;
/** Inner radius (bins beyond the median's) below or above which the bins are re-fitted. */
const MIN_R = 5;
const MAX_R = 48;
/** Slack (values) of the median's cursors and margin (values) of the inner slots: 2 + n / 16 each. */
const SLACK_C = 2;
const SLACK_SHIFT = 4;
const MARGIN_C = 2;
const MARGIN_SHIFT = 4;

/**
 * c(t) is the count of values in the slots below cursor t.
 *
 * The bounds, for n values, mid = ⌊n/2⌋, lo = mid (n odd) or mid − 1 (the median is s[mid], or the mean of
 * s[lo] and s[mid]). Every step is one IEEE operation, monotone in its inputs, so bounds of the inputs bound
 * the rounded result with no margin (the reference rounds the same operations on the exact values):
 * - c(b1) ≤ lo < c(b2): edgeLow(b1) ≤ s[lo] < edge(b2); c(b3) ≤ mid < c(b4): edgeLow(b3) ≤ s[mid] <
 *   edge(b4). So m ∈ [mlo, mhi], the median's expression on those edges (for n even the mean of the two
 *   lower edges, and of the two upper: a median between two quantised levels is bounded to the middle).
 * - c(a2) − c(a1) < cnt (cnt = mid + 1 for n odd, mid for n even): fewer than cnt deviations |x − m| are
 *   below D = min(mlo − edge(a1), edgeLow(a2) − mhi) — only values in slots [a1, a2) can have one — so the
 *   cnt-th smallest deviation, and so the MAD (the mean of it and the next when n is even), is ≥ D. D > 0
 *   rules out the flat-window fallback (MAD 0), and |z| ≤ max(|v − mlo|, |v − mhi|) / (1.4826 · D).
 * - A lower bound of |z| (to prove 'fire', or 'hold' over 'clear'), counted when needed: if at least mid + 1
 *   values lie in slots [ta, tb), the MAD is at most Du, the largest deviation from a median in [mlo, mhi]
 *   that a value in [edgeLow(ta), edge(tb)) can have; |z| ≥ dist(v, [mlo, mhi]) / (1.4826 · Du).
 * The count conditions are checked after every write of the ring (replace); the cursors are moved only when
 * one fails (derive), and then with slack, so that a median that wanders a little costs nothing. When slack
 * leaves a verdict open, the cursors are placed tight and the bounds tried again before the exact path.
 */
export class BinnedWindow extends BinCounts {
  /** The median's bounds and the scale's lower bound 1.4826 · D (NaN: none), as of the cursors. */
  private mlo = NaN;
  private mhi = NaN;
  private sLo = NaN;
  /** The cursors were placed without slack (the bounds are as close as the bins allow). */
  private tight = false;

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

  /**
   * derive, and when the median has drifted near the table's edge, or the bins are too coarse or too fine for
   * the window's spread, the bins re-fitted around it (a count of the window: O(n), no sort) and derive again.
   */
  private refresh(): void {
    const fit = this.derive(false);
    if (fit === 0) return;
    const tc = this.tc;
    const centre = (this.base + ((tc[B1]! + tc[B4]!) >> 1) - 1) * this.w;
    let e = this.e;
    if (fit === 2) {
      // The MAD's upper bound (or, when the table cannot show it, the table's span) sets the width: bins no
      // narrower than MAD / 2^(TARGET_SHIFT + 1), so the table holds several MADs each side.
      const du = this.madAbove();
      e = Math.floor(Math.log2(du === du ? du : BINS * this.w)) - TARGET_SHIFT;
      if (e === this.e) return;
    }
    this.fit(e, centre);
    this.derive(false);
  }

  /**
   * Moves the cursors that a change of the window left invalid (or, tight, every cursor) for the window:
   * b1 and b3 below the slots of s[lo] and s[mid], b2 and b4 above them, each with some slack (a few values, at
   * most SLACK bins) unless tight; a1 and a2 around the median's bounds, as far out as fewer than cnt values
   * between allow (less a margin, so that a value or two more does not undo it). Sets mlo, mhi and sLo (NaN:
   * no bound). Returns 0 when the bins fit the window, 1 when the median is near the table's edge, 2 when the
   * bins' width is off for the window's spread.
   */
  private derive(tight: boolean): 0 | 1 | 2 {
    binnedCounts.derives++;
    this.fresh = true;
    this.tight = tight;
    this.sLo = NaN;
    const n = this.n;
    if (n === 0) return 0;
    const hist = this.hist;
    const tc = this.tc;
    const cc = this.cc;
    const mid = n >> 1;
    const odd = (n & 1) === 1;
    const lo = odd ? mid : mid - 1;
    const cnt = odd ? mid + 1 : mid;
    const slack = tight ? 0 : SLACK_C + (n >> SLACK_SHIFT);
    const margin = tight ? 1 : MARGIN_C + (n >> MARGIN_SHIFT);
    this.lower(B1, lo, slack);
    this.lower(B3, mid, slack);
    this.upper(B2, lo, slack);
    this.upper(B4, mid, slack);
    // Off the table (a median in the slot below or above it): the exact path re-fits.
    if (cc[B1]! > lo || cc[B3]! > mid || cc[B2]! <= lo || cc[B4]! <= mid) return 0;
    const l1 = this.edgeLow(tc[B1]!);
    const l3 = this.edgeLow(tc[B3]!);
    const u2 = this.edge(tc[B2]!);
    const u4 = this.edge(tc[B4]!);
    const mlo = (this.mlo = odd ? Math.max(l1, l3) : (l1 + l3) / 2);
    const mhi = (this.mhi = odd ? Math.min(u2, u4) : (u2 + u4) / 2);
    const sl = this.slot(mlo);
    const sh = this.slot(mhi);
    if (sl < BINS / 8 || sh > (BINS * 7) / 8) return 1;
    // The inner slots [a1, a2): at least the slots of mlo and mhi and one more each side; then shrunk while
    // they hold a margin too many, or grown while a margin (or empty bins) allows.
    let a1 = tc[A1]!;
    let c1 = cc[A1]!;
    let a2 = tc[A2]!;
    let c2 = cc[A2]!;
    while (a1 > sl - 1) c1 -= hist[--a1]!;
    while (a2 < sh + 2) c2 += hist[a2++]!;
    // D is the smaller side's: the same radius both sides, shrunk or grown.
    while (sl - 1 - a1 > a2 - sh - 2) c1 += hist[a1++]!;
    while (a2 - sh - 2 > sl - 1 - a1) c2 -= hist[--a2]!;
    while (c2 - c1 > cnt - margin && a1 < sl - 1) {
      c1 += hist[a1++]!;
      c2 -= hist[--a2]!;
    }
    while (a1 > 1 && a2 <= BINS) {
      const more = hist[a1 - 1]! + hist[a2]!;
      if (more === 0 ? c2 - c1 >= cnt : c2 - c1 + more > cnt - margin) break;
      c1 -= hist[--a1]!;
      c2 += hist[a2++]!;
    }
    tc[A1] = a1;
    cc[A1] = c1;
    tc[A2] = a2;
    cc[A2] = c2;
    const r = Math.min(sl - 1 - a1, a2 - sh - 2);
    if (c2 - c1 < cnt) {
      const d = Math.min(mlo - this.edge(a1), this.edgeLow(a2) - mhi);
      if (d > 0) this.sLo = 1.4826 * (odd ? d : (d + d) / 2);
    } else this.fresh = false; // (derive again next time: the window may have moved)
    // The inner slots stopped by the table's edge on one side: re-centre; on both, or far out: wider bins; too
    // coarse (a bound, but from few bins): narrower. Bins of about the spread / 2^TARGET_SHIFT.
    const low = a1 === 1 && c1 > 0;
    const high = a2 === BINS + 1 && n - c2 > 0;
    if ((low && high) || r > MAX_R || (r < MIN_R && this.sLo > 0)) return 2;
    return low || high ? 1 : 0;
  }

  /**
   * Readings values[i, to) of a full ring (`window`, n values) while the bounds show each quiet (|z| ≤ fire)
   * and stay current, each joining the ring: replace and quick in one loop, the state in locals. Returns the
   * index of the first reading not taken — its verdict needs more than the bounds — or, when the counts moved
   * past a cursor, the index after the reading that moved them.
   */
  run(window: number[], values: ArrayLike<number>, i: number, to: number, fire: number): number {
    if (this.eqOn) return this.runFlat(window, values, i, to, fire);
    if (!this.fresh) return i;
    const hist = this.hist;
    const tc = this.tc;
    const cc = this.cc;
    const { mlo, mhi, sLo, inv, base, n } = this;
    const t0 = tc[A1]!;
    const t1 = tc[B1]!;
    const t2 = tc[B2]!;
    const t3 = tc[B3]!;
    const t4 = tc[B4]!;
    const t5 = tc[A2]!;
    let c0 = cc[A1]!;
    let c1 = cc[B1]!;
    let c2 = cc[B2]!;
    let c3 = cc[B3]!;
    let c4 = cc[B4]!;
    let c5 = cc[A2]!;
    const mid = n >> 1;
    const odd = n & 1;
    const lo = mid - 1 + odd;
    const cnt = mid + odd;
    let head = this.head;
    while (i < to) {
      const v = values[i]!;
      const zhi = Math.max(Math.abs(v - mlo), Math.abs(v - mhi)) / sLo;
      if (!(zhi <= fire)) break;
      i++;
      const gone = window[head]!;
      window[head] = v;
      head = head + 1 === n ? 0 : head + 1;
      let f = Math.floor(v * inv) - base;
      const sv = f < 0 ? 0 : f >= BINS ? BINS + 1 : (f + 1) | 0;
      f = Math.floor(gone * inv) - base;
      const sg = f < 0 ? 0 : f >= BINS ? BINS + 1 : (f + 1) | 0;
      if (sv === sg) continue;
      hist[sv]!++;
      hist[sg]!--;
      c0 += ((sg - t0) >> 31) - ((sv - t0) >> 31);
      c1 += ((sg - t1) >> 31) - ((sv - t1) >> 31);
      c2 += ((sg - t2) >> 31) - ((sv - t2) >> 31);
      c3 += ((sg - t3) >> 31) - ((sv - t3) >> 31);
      c4 += ((sg - t4) >> 31) - ((sv - t4) >> 31);
      c5 += ((sg - t5) >> 31) - ((sv - t5) >> 31);
      if (c1 > lo || c2 <= lo || c3 > mid || c4 <= mid || c5 - c0 >= cnt) {
        this.fresh = false;
        break;
      }
    }
    cc[A1] = c0;
    cc[B1] = c1;
    cc[B2] = c2;
    cc[B3] = c3;
    cc[B4] = c4;
    cc[A2] = c5;
    this.head = head;
    return i;
  }

  /**
   * run for a flat window (more than half of it one value x, so its median is x and its MAD 0): readings equal
   * to x have z 0 and are quiet; any other is left to anomalyStep. The counts follow each write (their cursor
   * conditions are checked when the bounds are next needed: derive).
   */
  private runFlat(window: number[], values: ArrayLike<number>, i: number, to: number, fire: number): number {
    const n = this.n;
    const x = this.eqVal;
    if ((n & 1 ? x : (x + x) / 2) !== x || !(0 <= fire)) return i;
    const half = n >> 1;
    const sx = this.slot(x);
    let eq = this.eqCnt;
    let head = this.head;
    const start = i;
    while (i < to && eq > half && values[i] === x) {
      const gone = window[head]!;
      window[head] = values[i++]!;
      head = head + 1 === n ? 0 : head + 1;
      if (gone === x) continue; // (same value: no count changes)
      eq++;
      this.count(this.slot(gone), -1);
      this.count(sx, 1);
    }
    this.eqCnt = eq;
    this.head = head;
    if (i > start) this.fresh = false;
    return i;
  }

  /** verdict's common case, small enough to be inlined: the bounds are current and show v quiet. */
  quick(v: number, fire: number, clear: number, onlyFire: boolean): Verdict | undefined {
    if (!this.fresh || this.eqOn) return undefined;
    const zhi = Math.max(Math.abs(v - this.mlo), Math.abs(v - this.mhi)) / this.sLo;
    if (!(zhi <= fire)) return undefined;
    return zhi <= clear ? 'clear' : onlyFire ? 'hold' : undefined;
  }

  /**
   * The verdict on v (not NaN) against the counted window when the bounds decide it, else undefined. onlyFire:
   * a verdict proven not 'fire' may be 'clear' or 'hold' either way (the caller only needs fire / not fire).
   */
  verdict(v: number, fire: number, clear: number, onlyFire: boolean): Verdict | undefined {
    if (this.eqOn) {
      const flat = this.flatVerdict(v, fire, clear);
      if (flat !== undefined) return flat;
    }
    if (!this.fresh) this.refresh();
    const verdict = this.bounded(v, fire, clear, onlyFire);
    if (verdict !== undefined || this.tight) return verdict;
    // The slack may be what left it open: once more with the cursors placed tight.
    binnedCounts.tightened++;
    this.derive(true);
    return this.bounded(v, fire, clear, onlyFire);
  }

  /** The verdict the bounds decide, or undefined. */
  private bounded(v: number, fire: number, clear: number, onlyFire: boolean): Verdict | undefined {
    const mlo = this.mlo;
    const mhi = this.mhi;
    const zhi = Math.max(Math.abs(v - mlo), Math.abs(v - mhi)) / this.sLo;
    if (zhi <= fire) {
      if (zhi <= clear) return 'clear';
      if (onlyFire || this.zlo(v) > clear) return 'hold';
      return undefined;
    }
    if (this.zlo(v) > fire) return 'fire';
    return undefined;
  }

  /** A lower bound of |z| for v (NaN when there is none: no lower bound of the MAD above 0). */
  private zlo(v: number): number {
    if (!(this.sLo > 0)) return NaN;
    const du = this.madAbove();
    const sHi = 1.4826 * (this.n & 1 ? du : (du + du) / 2);
    const mlo = this.mlo;
    const mhi = this.mhi;
    const dmin = v > mhi ? v - mhi : v < mlo ? mlo - v : 0;
    return dmin / sHi;
  }

  /**
   * Du: at least mid + 1 deviations are ≤ it (so the MAD is), from the fewest slots around the median's that
   * hold mid + 1 values; NaN when they reach past the table.
   */
  private madAbove(): number {
    const need = (this.n >> 1) + 1;
    const hist = this.hist;
    const tc = this.tc;
    const cc = this.cc;
    const i = tc[B1]! <= tc[B3]! ? B1 : B3;
    const j = tc[B4]! >= tc[B2]! ? B4 : B2;
    let ta = tc[i]!;
    let tb = tc[j]!;
    let count = cc[j]! - cc[i]!;
    while (count < need) {
      if (ta <= 1 || tb > BINS) return NaN;
      count += hist[--ta]! + hist[tb++]!;
    }
    return Math.max(this.mhi - this.edgeLow(ta), this.edge(tb) - this.mlo);
  }

  /** A flat window (more than half one value): its median is that value and its MAD 0. */
  private flatVerdict(v: number, fire: number, clear: number): Verdict | undefined {
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
   * After an exact computation (median m, MAD mad of the window): re-fits the bins when they are too coarse or
   * too fine for this MAD or the median is near the table's edge, and follows a flat window's value.
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
    if (ratio >= 2 * MIN_R && ratio <= MAX_R && centre > BINS / 4 && centre < (BINS * 3) / 4) return;
    this.fit(Math.floor(Math.log2(mad)) - TARGET_SHIFT, m);
  }
}
