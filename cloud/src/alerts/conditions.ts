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
 * Robust z-score of `value` against the window before it: (value − median) / (1.4826 · MAD), the MAD
 * replaced by 1.2533 · mean absolute deviation when more than half the window is identical, so a mostly
 * flat signal is not infinitely sensitive. Returns undefined until the window holds `minHistory` readings.
 * The value then joins the window (spikes included: the median and MAD shrug them off).
 */
export function robustZ(mem: SeriesMemory, value: number, windowSize: number, minHistory: number): number | undefined {
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
