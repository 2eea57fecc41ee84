// An anomaly window's values in ascending order, kept beside the window (never persisted), for the robust
// z-score's median and MAD. Lazy, so that a reading costs O(1) when cheap bounds already decide its verdict:
// the ascending copy is a snapshot as of the last merge plus the pairs (value replaced, value written) of the
// ring writes since, and it is merged (sort the few pending values, one linear pass) only when the pending
// pairs reach a limit or an exact median / MAD is needed.
//
// Invariants:
// - s[0, n) is ascending (±0 compare equal and may sit in either order: no result depends on a zero's sign);
// - the window's values now are s[0, n) minus gones[0, p) plus adds[0, p) (as multisets): each gone was in
//   the window at the last merge (a ring write replaces the oldest value, and fewer than the window's size
//   writes separate two merges), so each is in s; a write of the value it replaces records nothing;
// - p ≤ maxPending (a merge when it is reached); p > 0 only while the window is full (a growing or shrinking
//   window is kept exactly: add / remove); zBound gives up when p > pBound, which keeps its indices in s
//   and its MAD pair valid;
// - head and len are the ring head and length the copy describes: a window whose head or length differs is
//   not described by it (the caller rebuilds the copy).
//
// Rank bounds: for the current window C (n values: p gone, p added), S_(i−p) ≤ C_(i) ≤ S_(i+p) — removing p
// values moves an order statistic up by at most p places of S, adding p moves it down by at most p.

export class OrderedWindow {
  /** The snapshot, ascending, in s[0, n); t is the other buffer a merge writes into. */
  s: Float64Array;
  private t: Float64Array;
  n = 0;
  /** Pending pairs since the last merge: adds[k] replaced gones[k] in the ring. */
  private adds: Float64Array;
  private gones: Float64Array;
  p = 0;
  /** Pending pairs allowed before a merge: beyond it the rank bounds no longer separate median and quartiles. */
  private maxPending = 0;
  /** The ring state described: the window's head (mem.head ?? 0) and length. */
  head = 0;
  len = 0;
  /** The median's index (upper middle) and n odd; cnt: how many deviations are ≤ the MAD (see zBound). */
  private mid = 0;
  private odd = false;
  private cnt = 0;
  /** The snapshot's MAD bound: values u < every possible median < l, valid while p ≤ pBound. */
  private u = NaN;
  private l = NaN;
  private pBound = -1;

  /** The ordered copy of `window` (ring head `head`), or undefined when it holds NaN (no order to keep). */
  static of(window: readonly number[], head: number, capacity: number): OrderedWindow | undefined {
    for (let i = 0; i < window.length; i++) if (window[i] !== window[i]) return undefined;
    return new OrderedWindow(window, head, capacity);
  }

  private constructor(window: readonly number[], head: number, capacity: number) {
    const size = Math.max(capacity, window.length) + 1;
    this.s = new Float64Array(size);
    this.t = new Float64Array(size);
    this.s.set(window);
    this.s.subarray(0, window.length).sort();
    this.n = window.length;
    this.len = window.length;
    this.head = head;
    this.adds = new Float64Array(0);
    this.gones = new Float64Array(0);
    this.reshape();
  }

  /** Recomputes the geometry for n values (the pending limit, the buffers) and the snapshot's MAD bound. */
  private reshape(): void {
    const n = this.n;
    this.mid = n >> 1;
    this.odd = (n & 1) === 1;
    this.cnt = this.odd ? this.mid + 1 : this.mid;
    this.maxPending = Math.min(MAX_PENDING, this.cnt >> 2);
    if (this.adds.length < this.maxPending + 1) {
      this.adds = new Float64Array(this.maxPending + 1);
      this.gones = new Float64Array(this.maxPending + 1);
    }
    this.prepare();
  }

  /**
   * The median's bounds for p pending pairs: the one or two middle values, each within p places of its rank
   * in s (mid − p ≥ 0 and mid + p < n: p ≤ pBound keeps them inside).
   */
  private medianLo(p: number): number {
    const s = this.s;
    return this.odd ? s[this.mid - p]! : (s[this.mid - 1 - p]! + s[this.mid - p]!) / 2;
  }

  private medianHi(p: number): number {
    const s = this.s;
    return this.odd ? s[this.mid + p]! : (s[this.mid - 1 + p]! + s[this.mid + p]!) / 2;
  }

  /**
   * Chooses the snapshot's MAD bound (after every change of s): values u = s[i] and l = s[j] around every median
   * the next maxPending writes can give (u below medianLo(maxPending), l above medianHi(maxPending): on ties the
   * nearest distinct values, so a quantised signal's MAD of one step is seen), as far apart as the count allows:
   * at most j − i − 1 values of s lie strictly between them, at most p more after p writes, and the bound needs
   * fewer than cnt (see zBound): so it holds while p ≤ cnt − (j − i). No bound (pBound −1) when no such pair
   * exists (a window more than half one value: its MAD is 0 anyway).
   */
  private prepare(): void {
    this.pBound = -1;
    const n = this.n;
    if (n < 2) return;
    const s = this.s;
    // Up to P pending pairs; fewer when ties leave too many values between the nearest distinct ones.
    let P = this.maxPending;
    let iMax = lowerBound(s, n, this.medianLo(P)) - 1; // the last value below every possible median
    let jMin = upperBound(s, n, this.medianHi(P)); // the first above
    while (P > 0 && (iMax < 0 || jMin >= n || jMin - iMax > this.cnt - P)) {
      P >>= 1;
      iMax = lowerBound(s, n, this.medianLo(P)) - 1;
      jMin = upperBound(s, n, this.medianHi(P));
    }
    const span = this.cnt - P; // j − i at most, for the bound to hold up to P pending pairs
    if (iMax < 0 || jMin >= n || jMin - iMax > span) return;
    const free = span - (jMin - iMax);
    const i = Math.max(0, iMax - (free >> 1));
    const j = Math.max(jMin, Math.min(n - 1, i + span));
    this.u = s[i]!;
    this.l = s[j]!;
    this.pBound = Math.min(this.cnt - (j - i), this.odd ? this.mid : this.mid - 1, n - 1 - this.mid);
  }

  /**
   * An upper bound of |z| for `value` against the current window (the z of robustZReference: (value − median)
   * / (1.4826 · MAD)), or Infinity / NaN when the bounds cannot give one. Every step is a floating-point
   * operation monotone in its inputs (IEEE rounding is), so bounds on the inputs are bounds on the rounded
   * results, with no margin needed:
   * - median m ∈ [mlo, mhi] from the rank bounds on the one or two middle values;
   * - the MAD is at least D, the cnt-th smallest deviation (cnt = mid + 1 when n is odd: the MAD is the
   *   (mid+1)-th; cnt = mid when even: the MAD is the mean of the mid-th and (mid+1)-th). The window holds
   *   fewer than cnt values strictly between u and l (prepare), and u < m < l; were D below both m − u and
   *   l − m, the cnt values within D of m would all lie strictly between them. So D ≥ min(m − u, l − m) ≥
   *   min(mlo − u, l − mhi). Rounded deviations are monotone in x, so the argument holds for them too;
   * - |value − m| ≤ max(|value − mlo|, |value − mhi|).
   * A positive MAD bound also rules out the flat-window fallback (it applies only when the MAD is 0).
   */
  zBound(value: number): number {
    const p = this.p;
    if (p > this.pBound) return Infinity;
    const mlo = this.medianLo(p);
    const mhi = this.medianHi(p);
    // Math.min / Math.max pass NaN on (±Infinity in the window), so a NaN never reads as a small bound.
    const mad = Math.min(mlo - this.u, this.l - mhi);
    if (!(mad > 0)) return Infinity;
    return Math.max(Math.abs(value - mlo), Math.abs(value - mhi)) / (1.4826 * mad);
  }

  /** A ring write replaced `gone` with `value` (the window is full): pending until the next merge. */
  replace(gone: number, value: number): void {
    if (gone === value) return;
    const p = this.p;
    this.adds[p] = value;
    this.gones[p] = gone;
    this.p = p + 1;
    if (p + 1 > this.maxPending) this.merge();
  }

  /** Folds the pending pairs into s: s is then exactly the window's values, ascending. */
  merge(): void {
    const p = this.p;
    if (p === 0) return;
    const adds = this.adds;
    const gones = this.gones;
    sortFew(adds, p);
    sortFew(gones, p);
    const s = this.s;
    const t = this.t;
    const n = this.n;
    let o = 0;
    let g = 0;
    let a = 0;
    // NaN (never in a window with a copy) as "none left": it equals nothing and is below nothing.
    let gone = gones[0]!;
    let add = adds[0]!;
    for (let i = 0; i < n; i++) {
      const x = s[i]!;
      if (x === gone) {
        gone = ++g < p ? gones[g]! : NaN;
        continue;
      }
      while (add < x) {
        t[o++] = add;
        add = ++a < p ? adds[a]! : NaN;
      }
      t[o++] = x;
    }
    while (a < p) t[o++] = adds[a++]!;
    if (g !== p || o !== n) throw new Error(`ordered window out of step with its ring (${g} of ${p} replaced values found)`);
    this.s = t;
    this.t = s;
    this.p = 0;
    this.prepare();
  }

  /** The window grew by `v` (p = 0): a binary search and one move. */
  add(v: number): void {
    if (this.n + 1 >= this.s.length) this.grow();
    const a = this.s;
    const i = upperBound(a, this.n, v);
    a.copyWithin(i + 1, i, this.n);
    a[i] = v;
    this.n++;
    this.reshape();
  }

  /** The window lost `v` (p = 0; a rule's window made smaller). */
  remove(v: number): void {
    const a = this.s;
    const i = lowerBound(a, this.n, v);
    a.copyWithin(i, i + 1, this.n);
    this.n--;
    this.reshape();
  }

  private grow(): void {
    const s = new Float64Array(this.s.length * 2);
    s.set(this.s.subarray(0, this.n));
    this.s = s;
    this.t = new Float64Array(s.length);
  }
}

/** Pending pairs at most (cnt / 4 below it): sorted by insertion (few), and more make the bounds too loose. */
const MAX_PENDING = 24;

/** Insertion sort of a[0, k) (k ≤ MAX_PENDING). */
function sortFew(a: Float64Array, k: number): void {
  for (let i = 1; i < k; i++) {
    const v = a[i]!;
    let j = i - 1;
    while (j >= 0 && a[j]! > v) {
      a[j + 1] = a[j]!;
      j--;
    }
    a[j + 1] = v;
  }
}

/** First index in ascending a[0, n) whose value is ≥ v. */
export function lowerBound(a: Float64Array, n: number, v: number): number {
  let lo = 0;
  let hi = n;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (a[mid]! < v) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** First index in ascending a[0, n) whose value is > v. */
export function upperBound(a: Float64Array, n: number, v: number): number {
  let lo = 0;
  let hi = n;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (a[mid]! <= v) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}
