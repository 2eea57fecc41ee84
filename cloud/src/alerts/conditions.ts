// Per-kind conditions: turn an observation (a reading, a closed bucket, a rate, a robust z-score) into a
// verdict for the series state machine. Each keeps only small, JSON-serialisable memory in the series row, so
// the evaluator's state commits with its stream offset. All functions are pure and depend only on event
// time and values, never on the wall clock.
import { addValue, bucketStart, emptyStats, stddev, type BucketStats } from '../aggregate/bucket-stats.js';
import type { AlertRuleConfig, BucketStat } from './alert-config.js';
import { BinnedWindow } from './binned-window.js';
import { lowerBound, OrderedWindow } from './ordered-window.js';
import type { Verdict } from './series-machine.js';

/** Kind-specific memory of a series (persisted with it). */
export interface SeriesMemory {
  /** rate: the previous reading. no_data: the last reading's time. */
  prevTs?: number;
  prevValue?: number;
  /**
   * anomaly: the rolling window. While it is shorter than the rule's window it is oldest first; once full it
   * is a ring whose oldest value is at `head` (absent: 0). windowValues() gives it oldest first.
   */
  window?: number[];
  head?: number;
  /** bucket rules: the open bucket. */
  bucket?: { start: number; stats: BucketStats };
}

/** threshold / rate: above/below with hysteresis (clear defaults to the threshold itself). */
export function thresholdVerdict(rule: Pick<AlertRuleConfig, 'above' | 'below' | 'clear_below' | 'clear_above'>, v: number): Verdict {
  if (rule.above !== undefined) {
    if (v > rule.above) return 'fire';
    return v <= (rule.clear_below ?? rule.above) ? 'clear' : 'hold';
  }
  if (rule.below !== undefined) {
    if (v < rule.below) return 'fire';
    return v >= (rule.clear_above ?? rule.below) ? 'clear' : 'hold';
  }
  return 'hold';
}

export function bucketStatValue(s: BucketStats, stat: BucketStat): number {
  switch (stat) {
    case 'avg':
      return s.count === 0 ? NaN : s.sum / s.count;
    case 'stddev':
      return stddev(s);
    default:
      return s[stat];
  }
}

/**
 * Bucket rules: folds a reading into the open bucket. When the reading belongs to a later bucket, the open
 * one is closed and returned (its end is the observation's event time). A reading for an earlier bucket than
 * the open one is too late for this rule (the aggregates still count it): returns 'late'.
 */
export function foldBucket(mem: SeriesMemory, resolutionMs: number, ts: number, value: number): { start: number; stats: BucketStats } | 'late' | undefined {
  const open = mem.bucket;
  if (open && ts >= open.start && ts - open.start < resolutionMs) {
    // The common case, without bucketStart's two floating-point remainders.
    addValue(open.stats, ts, value);
    return undefined;
  }
  const start = bucketStart(ts, resolutionMs);
  if (open && start < open.start) return 'late';
  let closed: { start: number; stats: BucketStats } | undefined;
  if (!open || start > open.start) {
    closed = open;
    mem.bucket = { start, stats: emptyStats() };
  }
  addValue(mem.bucket!.stats, ts, value);
  return closed;
}

/** rate: change per minute since the previous reading (undefined for the first, or a non-increasing time). */
export function ratePerMinute(mem: SeriesMemory, ts: number, value: number): number | undefined {
  const { prevTs, prevValue } = mem;
  mem.prevTs = ts;
  mem.prevValue = value;
  if (prevTs === undefined || prevValue === undefined || ts <= prevTs) return undefined;
  return ((value - prevValue) / (ts - prevTs)) * 60_000;
}

export const ANOMALY_DEFAULTS = { threshold: 6, window: 120, minHistory: 30 } as const;

function median(sorted: readonly number[]): number {
  const n = sorted.length;
  const mid = n >> 1;
  return n % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

/**
 * What an anomaly window keeps beside it, never persisted: robustZ its ordered copy (ordered-window.ts),
 * anomalyStep its bin counts (binned-window.ts). Held in a non-enumerable property of the window array: a
 * window loaded from the store is a new array, so it gets a new one; one whose ring head or length disagrees
 * with its window, or of the other kind, is rebuilt. robustZ and anomalyStep are the only writers of a window
 * and update it.
 */
const TRACKER = Symbol('anomaly window tracker');
type Tracked = number[] & { [TRACKER]?: OrderedWindow | BinnedWindow };

function attach(window: number[], t: OrderedWindow | BinnedWindow | undefined): void {
  if ((window as Tracked)[TRACKER] === undefined) Object.defineProperty(window, TRACKER, { value: t, writable: true, enumerable: false });
  else (window as Tracked)[TRACKER] = t;
}

/**
 * The first index of ascending `a` whose value is ≥ m, for m the median (a[mid], or the mean of a[mid − 1] and
 * a[mid]): at most mid, and below it only by the run of values equal to m — a short walk instead of a binary
 * search whose branches a noisy window makes unpredictable.
 */
function splitAt(a: Float64Array, n: number, mid: number, m: number): number {
  if (a[mid]! < m) return lowerBound(a, n, m); // only when a[mid − 1] + a[mid] overflowed
  let i = mid;
  while (i > 0 && !(a[i - 1]! < m)) i--;
  return i;
}

/**
 * The series' window (created empty) and its ordered copy — or no copy when the value or the window holds NaN:
 * then the window is made ready for robustZReference (oldest first, no copy left to go stale). The copy may
 * hold pending ring writes only while the window stays full at `windowSize`; otherwise they are merged here,
 * as slide then inserts and removes exactly.
 */
function orderedFor(mem: SeriesMemory, value: number, windowSize: number): OrderedWindow | undefined {
  const window = (mem.window ??= []);
  const held = (window as Tracked)[TRACKER];
  let ordered = value === value && held instanceof OrderedWindow ? held : undefined;
  const head = mem.head ?? 0;
  if (ordered === undefined || ordered.len !== window.length || ordered.head !== head) {
    ordered = value === value ? OrderedWindow.of(window, head, windowSize) : undefined;
    attach(window, ordered);
    if (!ordered) {
      straighten(mem, window);
      return undefined;
    }
  }
  if (window.length !== windowSize) ordered.merge();
  return ordered;
}

/** The series' window and its bin counts, as orderedFor (undefined: NaN in the value or the window). */
function binnedFor(mem: SeriesMemory, value: number): BinnedWindow | undefined {
  const window = (mem.window ??= []);
  const held = (window as Tracked)[TRACKER];
  const head = mem.head ?? 0;
  if (held instanceof BinnedWindow && held.len === window.length && held.head === head && value === value) return held;
  const binned = value === value ? BinnedWindow.of(window, head) : undefined;
  attach(window, binned);
  if (!binned) straighten(mem, window);
  return binned;
}

/** The median of ascending a[0, n), n > 0. */
function medianOf(a: Float64Array, n: number): number {
  const mid = n >> 1;
  return n % 2 === 1 ? a[mid]! : (a[mid - 1]! + a[mid]!) / 2;
}

/** z of `value` against the window, exactly (merges the copy's pending writes). */
function exactZOf(ordered: OrderedWindow, value: number): number {
  ordered.merge();
  const { s: sorted, n } = ordered;
  const m = medianOf(sorted, n);
  // The deviations |x − m| are two ascending runs: m − x leftwards from the split, x − m rightwards.
  return exactZ(sorted, n, splitAt(sorted, n, n >> 1, m), m, value - m);
}

/** What follows an anomaly window's values beside it: the ordered copy (OrderedWindow) or the bin counts (BinnedWindow). */
interface WindowTracker {
  head: number;
  len: number;
  replace(gone: number, value: number): void;
  add(value: number): void;
  remove(value: number): void;
}

/**
 * The value joins the window (the oldest leaves once it holds `windowSize`), and its tracker: a full ring's
 * write replaces the oldest value there; a growing or shrinking window adds and removes.
 */
function slide(mem: SeriesMemory, tracker: WindowTracker, value: number, windowSize: number): void {
  const window = mem.window!;
  if (window.length === windowSize) {
    const head = tracker.head;
    const gone = window[head]!;
    window[head] = value;
    const next = head + 1 === windowSize ? 0 : head + 1;
    mem.head = next;
    tracker.head = next;
    tracker.replace(gone, value);
    return;
  }
  if (mem.head) straighten(mem, window);
  window.push(value);
  tracker.add(value);
  while (window.length > windowSize) tracker.remove(window.shift()!); // the rule's window was made smaller
  tracker.head = 0;
  tracker.len = window.length;
}

/** Makes a ring window oldest first again, in place (its ordered copy stays valid: same values). */
function straighten(mem: SeriesMemory, window: number[]): void {
  const head = mem.head ?? 0;
  if (head !== 0) {
    const rotated = window.slice(head).concat(window.slice(0, head));
    for (let i = 0; i < rotated.length; i++) window[i] = rotated[i]!;
  }
  delete mem.head;
}

/** An anomaly window's values, oldest first. */
export function windowValues(mem: SeriesMemory): number[] {
  const w = mem.window ?? [];
  const head = mem.head ?? 0;
  return head === 0 ? [...w] : w.slice(head).concat(w.slice(0, head));
}

/**
 * Robust z-score of `value` against the window before it: (value − median) / (1.4826 · MAD), the MAD
 * replaced by 1.2533 · mean absolute deviation when more than half the window is identical, so a mostly
 * flat signal is not infinitely sensitive. Returns undefined until the window holds `minHistory` readings.
 * The value then joins the window (spikes included: the median and MAD shrug them off).
 *
 * No sort per reading: the window's values are kept in order beside it (ordered-window.ts), and the MAD is the
 * median of two ascending runs of deviations (left and right of the median), found by binary search in
 * O(log n) (all deviations are walked only for the flat-window fallback). For finite values this gives exactly
 * what robustZReference gives: the same ordered values, the same deviations in the same order, so the same
 * median, MAD and fallback sum (a test checks it). NaN anywhere takes robustZReference.
 */
export function robustZ(mem: SeriesMemory, value: number, windowSize: number, minHistory: number): number | undefined {
  const ordered = orderedFor(mem, value, windowSize);
  if (!ordered) return robustZReference(mem, value, windowSize, minHistory);
  const z = ordered.n >= minHistory ? exactZOf(ordered, value) : undefined;
  slide(mem, ordered, value, windowSize);
  return z;
}

/** z of deviation d against the ordered window a[0, n) with median m (values below m end at split). */
function exactZ(sorted: Float64Array, n: number, split: number, m: number, d: number): number {
  const mid = n >> 1;
  const cur = kthDeviation(sorted, n, split, m, mid);
  let scale = 1.4826 * (n % 2 === 1 ? cur : (kthDeviation(sorted, n, split, m, mid - 1) + cur) / 2);
  if (scale === 0) scale = (1.2533 * deviationSum(sorted, n, split, m)) / n;
  return d === 0 ? 0 : scale === 0 ? Math.sign(d) * Infinity : d / scale;
}

/**
 * One anomaly rule's verdict on `value`, and the value joins the window: anomalyVerdict(robustZ(…)) without
 * ordering the window when bounds of |z| already decide. Returns undefined until the window holds `minHistory`
 * readings. With `onlyFire` (the series is normal or resolved, where only a fire verdict moves the machine), a
 * z-score proven ≤ `fire` is reported as 'clear' or 'hold' (either); a 'fire' is exact. Otherwise every verdict
 * is exact.
 *
 * The bounds come from the window's values counted in bins (binned-window.ts: O(1) per reading, no order kept);
 * when they cannot decide, z is computed exactly from a sorted copy of the window (exactWindowZ), which also
 * re-fits the bins to the window's median and MAD. Rounding is monotone, so the bounds hold in floating point;
 * tests check the verdicts against anomalyVerdict(robustZReference(…)).
 */
export function anomalyStep(mem: SeriesMemory, value: number, windowSize: number, minHistory: number, fire: number, clear: number, onlyFire: boolean): Verdict | undefined {
  // The common case inline: a full ring with current counts, a verdict the bounds decide at a glance.
  const window = mem.window;
  const binned = window === undefined ? undefined : (window as Tracked)[TRACKER];
  if (binned instanceof BinnedWindow && binned.len === windowSize && window!.length === windowSize && binned.head === (mem.head ?? 0) && value === value) {
    let verdict: Verdict | undefined;
    if (binned.n >= minHistory) verdict = binned.quick(value, fire, clear, onlyFire) ?? decide(binned, window!, value, fire, clear, onlyFire);
    const head = binned.head;
    const gone = window![head]!;
    window![head] = value;
    const next = head + 1 === windowSize ? 0 : head + 1;
    mem.head = next;
    binned.head = next;
    binned.replace(gone, value);
    return verdict;
  }
  return anomalyStepAnyWindow(mem, value, windowSize, minHistory, fire, clear, onlyFire);
}

/**
 * anomalyStep with onlyFire for values[from, to) of one series, in order, until one fires: returns the index
 * of the first reading whose verdict is 'fire' (it has joined the window, as every reading before it), or `to`
 * when none fires. What the evaluator needs while the series is normal or resolved; readings the bounds show
 * quiet run in one loop (BinnedWindow.run), the others take anomalyStep.
 */
export function anomalyQuietRun(mem: SeriesMemory, values: ArrayLike<number>, from: number, to: number, windowSize: number, minHistory: number, fire: number, clear: number): number {
  let i = from;
  while (i < to) {
    const window = mem.window;
    const binned = window === undefined ? undefined : (window as Tracked)[TRACKER];
    if (binned instanceof BinnedWindow && binned.len === windowSize && window!.length === windowSize && binned.head === (mem.head ?? 0) && binned.n >= minHistory) {
      i = binned.run(window!, values, i, to, fire);
      mem.head = binned.head;
      if (i >= to) return to;
    }
    if (anomalyStep(mem, values[i]!, windowSize, minHistory, fire, clear, true) === 'fire') return i;
    i++;
  }
  return to;
}

/** anomalyStep for any window: a new or reloaded one, one growing or resized, NaN in it or the value. */
function anomalyStepAnyWindow(mem: SeriesMemory, value: number, windowSize: number, minHistory: number, fire: number, clear: number, onlyFire: boolean): Verdict | undefined {
  const binned = binnedFor(mem, value);
  if (!binned) {
    const z = robustZReference(mem, value, windowSize, minHistory);
    return z === undefined ? undefined : verdictOf(z, fire, clear);
  }
  const verdict = binned.n >= minHistory ? decide(binned, mem.window!, value, fire, clear, onlyFire) : undefined;
  slide(mem, binned, value, windowSize);
  return verdict;
}

/** The verdict from the bounds when they decide it, else from the exact z (which re-fits the bins). */
function decide(binned: BinnedWindow, window: readonly number[], value: number, fire: number, clear: number, onlyFire: boolean): Verdict {
  const verdict = binned.verdict(value, fire, clear, onlyFire);
  if (verdict !== undefined) return verdict;
  const z = exactWindowZ(window, value);
  binned.retune(exactM, exactMad);
  return verdictOf(z, fire, clear);
}

/** The median and MAD of the last exactWindowZ. */
let exactM = NaN;
let exactMad = NaN;
let scratch = new Float64Array(128);

/** z of `value` against the window's values (any order, no NaN, at least one), exactly: a sorted copy. */
function exactWindowZ(window: readonly number[], value: number): number {
  const n = window.length;
  if (scratch.length < n) scratch = new Float64Array(n * 2);
  const a = scratch;
  for (let i = 0; i < n; i++) a[i] = window[i]!;
  a.subarray(0, n).sort();
  const m = medianOf(a, n);
  const split = splitAt(a, n, n >> 1, m);
  const mid = n >> 1;
  const cur = kthDeviation(a, n, split, m, mid);
  const mad = n % 2 === 1 ? cur : (kthDeviation(a, n, split, m, mid - 1) + cur) / 2;
  exactM = m;
  exactMad = mad;
  return exactZ(a, n, split, m, value - m);
}

/**
 * The k-th smallest (from 0) of the deviations |x − m| of ascending `sorted`, whose values below m end at
 * `split`: the k-th of two ascending runs (m − sorted[split−1−t] and sorted[split+t] − m), found by a
 * binary search on how many come from the left run — O(log n), the same number the merge of the two runs
 * would reach (m − x equals |x − m| exactly in floating point).
 */
function kthDeviation(sorted: Float64Array, n: number, split: number, m: number, k: number): number {
  // No closures here (hot path): left(t) = m − sorted[split − 1 − t], right(t) = sorted[split + t] − m.
  const a = split; // left run length
  const b = n - split;
  let lo = Math.max(0, k + 1 - b);
  let hi = Math.min(a, k + 1);
  for (;;) {
    const x = (lo + hi) >> 1; // taken from the left run
    const y = k + 1 - x;
    const lastLeft = x > 0 ? m - sorted[split - x]! : -Infinity;
    const lastRight = y > 0 ? sorted[split + y - 1]! - m : -Infinity;
    if (x > 0 && y < b && lastLeft > sorted[split + y]! - m) hi = x - 1;
    else if (y > 0 && x < a && lastRight > m - sorted[split - 1 - x]!) lo = x + 1;
    else return Math.max(lastLeft, lastRight);
  }
}

/** Σ |x − m|, added in ascending order of the deviations (the order robustZReference adds them in). */
function deviationSum(sorted: Float64Array, n: number, split: number, m: number): number {
  let i = split - 1;
  let j = split;
  let sum = 0;
  for (let k = 0; k < n; k++) {
    const left = i >= 0 ? m - sorted[i]! : Infinity;
    const right = j < n ? sorted[j]! - m : Infinity;
    if (left <= right) {
      sum += left;
      i--;
    } else {
      sum += right;
      j++;
    }
  }
  return sum;
}

/** robustZ as first written (sorts copies of the window and of the deviations): the reference it must equal. */
export function robustZReference(mem: SeriesMemory, value: number, windowSize: number, minHistory: number): number | undefined {
  const window = (mem.window ??= []);
  let z: number | undefined;
  if (window.length >= minHistory) {
    const sorted = [...window].sort((a, b) => a - b);
    const m = median(sorted);
    const deviations = sorted.map((x) => Math.abs(x - m)).sort((a, b) => a - b);
    let scale = 1.4826 * median(deviations);
    if (scale === 0) scale = (1.2533 * deviations.reduce((a, b) => a + b, 0)) / deviations.length;
    const d = value - m;
    z = d === 0 ? 0 : scale === 0 ? Math.sign(d) * Infinity : d / scale;
  }
  window.push(value);
  if (window.length > windowSize) window.splice(0, window.length - windowSize);
  return z;
}

/** An anomaly rule's fire and clear levels of |z|. */
export function anomalyLevels(rule: Pick<AlertRuleConfig, 'threshold' | 'clear_threshold'>): { fire: number; clear: number } {
  const fire = rule.threshold ?? ANOMALY_DEFAULTS.threshold;
  return { fire, clear: rule.clear_threshold ?? fire / 2 };
}

export function anomalyVerdict(rule: Pick<AlertRuleConfig, 'threshold' | 'clear_threshold'>, z: number): Verdict {
  const { fire, clear } = anomalyLevels(rule);
  return verdictOf(z, fire, clear);
}

function verdictOf(z: number, fire: number, clear: number): Verdict {
  const a = Math.abs(z);
  if (a > fire) return 'fire';
  return a <= clear ? 'clear' : 'hold';
}
