// Per-kind conditions: turn an observation (a reading, a closed bucket, a rate, a robust z-score) into a
// verdict for the series state machine. Each keeps only small, JSON-serialisable memory in the series row, so
// the evaluator's state commits with its stream offset. All functions are pure and depend only on event
// time and values, never on the wall clock.
import { addValue, bucketStart, emptyStats, stddev, type BucketStats } from '../aggregate/bucket-stats.js';
import type { AlertRuleConfig, BucketStat } from './alert-config.js';
import type { Verdict } from './series-machine.js';

/** Kind-specific memory of a series (persisted with it). */
export interface SeriesMemory {
  /** rate: the previous reading. no_data: the last reading's time. */
  prevTs?: number;
  prevValue?: number;
  /** anomaly: the rolling window, oldest first. */
  window?: number[];
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
  const start = bucketStart(ts, resolutionMs);
  const open = mem.bucket;
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
 * Each anomaly window's values in ascending order, kept beside the window (never persisted): robustZ is the only
 * writer of a window, and updates both. A window loaded from the store is a new array, so it gets a new sorted
 * copy; a copy whose length disagrees with its window is rebuilt.
 */
const sortedWindows = new WeakMap<number[], number[]>();

/** First index in `a` (ascending) whose value is > v (after), or ≥ v (not after). */
function bound(a: readonly number[], v: number, after: boolean): number {
  let lo = 0;
  let hi = a.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (a[mid]! < v || (after && a[mid] === v)) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

function sortedOf(window: number[]): number[] | undefined {
  let sorted = sortedWindows.get(window);
  if (sorted && sorted.length === window.length) return sorted;
  for (const x of window) if (x !== x) return undefined; // NaN: no order to keep
  sorted = [...window].sort((a, b) => a - b);
  sortedWindows.set(window, sorted);
  return sorted;
}

/**
 * Robust z-score of `value` against the window before it: (value − median) / (1.4826 · MAD), the MAD
 * replaced by 1.2533 · mean absolute deviation when more than half the window is identical, so a mostly
 * flat signal is not infinitely sensitive. Returns undefined until the window holds `minHistory` readings.
 * The value then joins the window (spikes included: the median and MAD shrug them off).
 *
 * Hot path (every reading of every anomaly series), so no sort per reading: the window's values are kept in
 * order beside it (a binary-search insert and removal per reading), and the MAD is the median of two ascending
 * runs of deviations (left and right of the median), found by binary search in O(log n) (all deviations are
 * walked only for the flat-window fallback). For finite values this gives exactly what robustZReference gives: the same
 * ordered values, the same deviations in the same order, so the same median, MAD and fallback sum (a test
 * checks it). NaN anywhere takes robustZReference.
 */
export function robustZ(mem: SeriesMemory, value: number, windowSize: number, minHistory: number): number | undefined {
  const window = (mem.window ??= []);
  const sorted = value === value ? sortedOf(window) : undefined;
  if (!sorted) {
    sortedWindows.delete(window);
    return robustZReference(mem, value, windowSize, minHistory);
  }
  let z: number | undefined;
  const n = sorted.length;
  if (n >= minHistory) {
    const mid = n >> 1;
    const m = n % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
    // The deviations |x − m| are two ascending runs: m − x leftwards from the split, x − m rightwards.
    const split = bound(sorted, m, false);
    const cur = kthDeviation(sorted, split, m, mid);
    let scale = 1.4826 * (n % 2 === 1 ? cur : (kthDeviation(sorted, split, m, mid - 1) + cur) / 2);
    if (scale === 0) scale = (1.2533 * deviationSum(sorted, split, m)) / n;
    const d = value - m;
    z = d === 0 ? 0 : scale === 0 ? Math.sign(d) * Infinity : d / scale;
  }
  window.push(value);
  sorted.splice(bound(sorted, value, true), 0, value);
  if (window.length > windowSize) {
    const gone = window.splice(0, window.length - windowSize);
    for (const x of gone) sorted.splice(bound(sorted, x, false), 1);
  }
  return z;
}

/**
 * The k-th smallest (from 0) of the deviations |x − m| of ascending `sorted`, whose values below m end at
 * `split`: the k-th of two ascending runs (m − sorted[split−1−t] and sorted[split+t] − m), found by a
 * binary search on how many come from the left run — O(log n), the same number the merge of the two runs
 * would reach (m − x equals |x − m| exactly in floating point).
 */
function kthDeviation(sorted: readonly number[], split: number, m: number, k: number): number {
  // No closures here (hot path): left(t) = m − sorted[split − 1 − t], right(t) = sorted[split + t] − m.
  const a = split; // left run length
  const b = sorted.length - split;
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
function deviationSum(sorted: readonly number[], split: number, m: number): number {
  let i = split - 1;
  let j = split;
  let sum = 0;
  for (let k = 0; k < sorted.length; k++) {
    const left = i >= 0 ? m - sorted[i]! : Infinity;
    const right = j < sorted.length ? sorted[j]! - m : Infinity;
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

export function anomalyVerdict(rule: Pick<AlertRuleConfig, 'threshold' | 'clear_threshold'>, z: number): Verdict {
  const fire = rule.threshold ?? ANOMALY_DEFAULTS.threshold;
  const clear = rule.clear_threshold ?? fire / 2;
  const a = Math.abs(z);
  if (a > fire) return 'fire';
  return a <= clear ? 'clear' : 'hold';
}
