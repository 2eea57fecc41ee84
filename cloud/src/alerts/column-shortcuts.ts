// Whole-column work for the alert evaluator (alert-evaluator.ts): what every rule of one sensor's batch column
// may ask of it is computed once per column, and lets a rule skip the column when it provably cannot fire
// (its series is normal or resolved, where only a fire moves the state machine), or take the bucket fold
// another rule already made. Every shortcut gives exactly the transitions of the per-reading walk
// (alert-evaluator.test.ts compares a batch of many readings with the same readings one per batch, and each
// bucket rule with the same rule alone).
import type { AlertRuleConfig } from './alert-config.js';
import { foldBucket, type SeriesMemory } from './conditions.js';

/**
 * What every rule of a column may ask of it, computed once per column: the smallest and largest value (NaN
 * ignored: it never fires) and the smallest positive step between consecutive timestamps.
 */
export interface ColumnSpan {
  min: number;
  max: number;
  minGap: number;
}

export function columnSpan(ts: Float64Array, values: Float64Array, out: ColumnSpan): ColumnSpan {
  let min = Infinity;
  let max = -Infinity;
  let minGap = Infinity;
  for (let i = 0; i < values.length; i++) {
    const v = values[i]!;
    if (v < min) min = v;
    if (v > max) max = v;
    if (i > 0) {
      const gap = ts[i]! - ts[i - 1]!;
      if (gap > 0 && gap < minGap) minGap = gap;
    }
  }
  out.min = min;
  out.max = max;
  out.minGap = minGap;
  return out;
}

/** Whether some value in [min, max] is a fire verdict of thresholdVerdict (false proves none is). */
export function mayExceed(rule: Pick<AlertRuleConfig, 'above' | 'below'>, min: number, max: number): boolean {
  if (rule.above !== undefined) return !(max <= rule.above);
  if (rule.below !== undefined) return !(min >= rule.below);
  return false;
}

/**
 * Whether a rate computed over this column (ratePerMinute: each reading against the one before it, the
 * series' last reading first) may fire. Every such rate is at most (largest − smallest value) / (smallest
 * positive time step) per minute in magnitude; rounding is monotone, so the float bound holds too.
 */
export function rateMayExceed(rule: Pick<AlertRuleConfig, 'above' | 'below'>, mem: SeriesMemory, firstTs: number, span: ColumnSpan): boolean {
  let { min, max, minGap } = span;
  const { prevTs, prevValue } = mem;
  if (prevTs !== undefined && prevValue !== undefined) {
    if (prevValue < min) min = prevValue;
    if (prevValue > max) max = prevValue;
    const gap = firstTs - prevTs;
    if (gap > 0 && gap < minGap) minGap = gap;
  }
  if (!(max >= min)) return false; // no two numbers: every rate is NaN or undefined
  const bound = ((max - min) / minGap) * 60_000;
  return mayExceed(rule, -bound, bound);
}

type OpenBucket = NonNullable<SeriesMemory['bucket']>;

/** One fold of a column into an open bucket: the bucket before and after, the buckets it closed, readings too late. */
export interface ColumnFold {
  res: number;
  before: OpenBucket | undefined;
  after: OpenBucket | undefined;
  closed: OpenBucket[];
  late: number;
}

function copyBucket(b: OpenBucket): OpenBucket {
  return { start: b.start, stats: { ...b.stats } };
}

function sameBucket(a: OpenBucket | undefined, b: OpenBucket | undefined): boolean {
  if (!a || !b) return a === b;
  if (a.start !== b.start) return false;
  const x = a.stats as unknown as Record<string, number>;
  const y = b.stats as unknown as Record<string, number>;
  for (const k in x) if (!Object.is(x[k], y[k])) return false;
  return true;
}

/**
 * The bucket folds of the current column. Bucket rules of one sensor on one resolution usually hold the same
 * open bucket (they started together): the first one folds the column, and every other whose open bucket
 * equals what the first one's was takes the result — same state in, same readings, same state and closed
 * buckets out — instead of folding every reading again.
 */
export class ColumnFolds {
  private readonly folds: ColumnFold[] = [];

  /** A new column. */
  reset(): void {
    this.folds.length = 0;
  }

  /** Folds the column into the rule's open bucket (`mem.bucket`), or gives it an equal rule's result. */
  fold(mem: SeriesMemory, res: number, ts: Float64Array, values: Float64Array): ColumnFold {
    for (const f of this.folds) {
      if (f.res === res && sameBucket(mem.bucket, f.before)) {
        if (f.after) mem.bucket = copyBucket(f.after);
        return f;
      }
    }
    const before = mem.bucket && copyBucket(mem.bucket);
    const closed: OpenBucket[] = [];
    let late = 0;
    for (let i = 0; i < ts.length; i++) {
      const r = foldBucket(mem, res, ts[i]!, values[i]!);
      if (r === 'late') late++;
      else if (r) closed.push(r);
    }
    const fold: ColumnFold = { res, before, after: mem.bucket && copyBucket(mem.bucket), closed, late };
    this.folds.push(fold);
    return fold;
  }
}
