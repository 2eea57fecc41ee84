// The alerts_firing gauge: how many alert series are firing, per rule and severity. Counted as series enter
// and leave `firing` (a transition), so a chunk sets only the gauges it changed; recounted from the series
// whenever the evaluator reloads them from the store (the committed state is the truth).
import type { Gauge } from '@tidemark/shared';
import type { SeriesItem } from './alert-store-model.js';

const SEVERITIES = ['info', 'warning', 'critical'] as const;

export class FiringGauge {
  private readonly counts = new Map<string, { rule: string; severity: string; n: number }>();
  /** Keys counted since the gauge was last set. */
  private readonly touched = new Set<string>();

  constructor(private readonly gauge: Gauge<'rule' | 'severity'>) {}

  /** Counts from scratch and sets every gauge (every rule gets its zeros too). */
  recount(rules: Iterable<string>, items: Iterable<SeriesItem>): void {
    this.counts.clear();
    for (const rule of rules) for (const severity of SEVERITIES) this.counts.set(`${rule}\u0000${severity}`, { rule, severity, n: 0 });
    for (const item of items) if (item.state === 'firing') this.count(item, 1);
    this.touched.clear();
    for (const e of this.counts.values()) this.gauge.set({ rule: e.rule, severity: e.severity }, e.n);
  }

  /** A series' item is about to change state from `from` to `to`. */
  transition(item: SeriesItem, to: string): void {
    if (item.state === 'firing') this.count(item, -1);
    if (to === 'firing') this.count(item, 1);
  }

  /** Sets the gauges counted since the last publish. */
  publish(): void {
    for (const k of this.touched) {
      const e = this.counts.get(k)!;
      this.gauge.set({ rule: e.rule, severity: e.severity }, e.n);
    }
    this.touched.clear();
  }

  private count(item: SeriesItem, delta: number): void {
    const k = `${item.rule}\u0000${item.severity}`;
    const e = this.counts.get(k);
    if (!e) return; // a rule no longer configured
    e.n += delta;
    this.touched.add(k);
  }
}
