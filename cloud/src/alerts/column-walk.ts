// One sensor column of a batch through one sensor-level rule (threshold, rate, anomaly, no_data), its readings
// in order. Invariant: the verdicts that reach the series are those a reading-by-reading walk gives. In
// `normal` or `resolved` only a fire verdict can change the state (series-machine.ts), so other verdicts skip
// the machine there, and a threshold or rate rule whose fire condition the column's span rules out skips the
// column (column-shortcuts.ts).
import type { AlertRuleConfig } from './alert-config.js';
import { rateMayExceed, mayExceed, type ColumnFolds, type ColumnSpan } from './column-shortcuts.js';
import { ANOMALY_DEFAULTS, anomalyLevels, anomalyQuietRun, anomalyStep, bucketStatValue, ratePerMinute, thresholdVerdict, type SeriesMemory } from './conditions.js';
import type { SeriesState, Verdict } from './series-machine.js';

/** Where a column's verdicts go: the evaluator's series it is walked for. */
export interface ColumnOut {
  /** Feeds a verdict at event time `t` to the series' state machine (it may move `machine.s`). */
  observe(verdict: Verdict, t: number, value: number): void;
  /** The series' memory changed: it is committed with the next checkpoint. */
  touched(): void;
  /** Readings older than a bucket rule's open bucket (the aggregates still count them). */
  tooLate(n: number): void;
}

/** In these states only a fire verdict can move the machine (series-machine.ts). */
export function quiet(s: SeriesState): boolean {
  return s.state === 'normal' || s.state === 'resolved';
}

export function walkColumn(
  rule: AlertRuleConfig,
  machine: { s: SeriesState; mem: SeriesMemory },
  ts: Float64Array,
  values: Float64Array,
  span: ColumnSpan,
  folds: ColumnFolds,
  out: ColumnOut,
): void {
  const mem = machine.mem;
  const n = ts.length;
  const st = machine.s; // the series' state machine (observe() moves it)
  switch (rule.kind) {
    case 'threshold': {
      if (rule.on.kind === 'reading') {
        if (quiet(st) && !mayExceed(rule, span.min, span.max)) return;
        for (let i = 0; i < n; i++) {
          const v = values[i]!;
          const verdict = thresholdVerdict(rule, v);
          if (verdict !== 'fire' && quiet(st)) continue;
          out.observe(verdict, ts[i]!, v);
        }
        return;
      }
      const res = rule.on.resolution.ms;
      out.touched();
      const fold = folds.fold(mem, res, ts, values);
      for (const closed of fold.closed) {
        const v = bucketStatValue(closed.stats, rule.on.stat);
        out.observe(thresholdVerdict(rule, v), closed.start + res, v);
      }
      if (fold.late > 0) out.tooLate(fold.late);
      return;
    }
    case 'rate': {
      out.touched();
      if (quiet(st) && !rateMayExceed(rule, mem, ts[0]!, span)) {
        // ratePerMinute's memory after the column: its last reading, whatever its time.
        mem.prevTs = ts[n - 1]!;
        mem.prevValue = values[n - 1]!;
        return;
      }
      for (let i = 0; i < n; i++) {
        const rate = ratePerMinute(mem, ts[i]!, values[i]!);
        if (rate === undefined) continue;
        const verdict = thresholdVerdict(rule, rate);
        if (verdict !== 'fire' && quiet(st)) continue;
        out.observe(verdict, ts[i]!, rate);
      }
      return;
    }
    case 'anomaly': {
      out.touched();
      const window = rule.window ?? ANOMALY_DEFAULTS.window;
      const minHistory = rule.min_history ?? ANOMALY_DEFAULTS.minHistory;
      const { fire, clear } = anomalyLevels(rule);
      for (let i = 0; i < n; i++) {
        if (quiet(st)) {
          // Only a fire moves a quiet series: the readings up to the first that fires in one call.
          i = anomalyQuietRun(mem, values, i, n, window, minHistory, fire, clear);
          if (i < n) out.observe('fire', ts[i]!, values[i]!);
          continue;
        }
        const verdict = anomalyStep(mem, values[i]!, window, minHistory, fire, clear, false);
        if (verdict !== undefined) out.observe(verdict, ts[i]!, values[i]!);
      }
      return;
    }
    case 'no_data': {
      out.touched();
      // The first reading ends a silence that fired; the series remembers the newest reading's time.
      if (st.state === 'firing') out.observe('clear', ts[0]!, values[0]!);
      let newest = mem.prevTs ?? -Infinity;
      for (let i = 0; i < n; i++) if (ts[i]! > newest) newest = ts[i]!;
      if (n > 0) mem.prevTs = newest;
      return;
    }
    default:
      return;
  }
}
