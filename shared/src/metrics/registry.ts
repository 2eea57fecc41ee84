// Prometheus metrics for one process (or one test): a private prom-client Registry, never the global one,
// with every name prefixed (`tidemark_edge_`, `tidemark_cloud_`). Registering a name twice returns the
// existing metric when type and labels agree, so components can declare the counters they use.

import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';

type MetricKind = 'counter' | 'gauge' | 'histogram';

interface Entry {
  kind: MetricKind;
  labelNames: readonly string[];
  metric: Counter<string> | Gauge<string> | Histogram<string>;
}

export interface GaugeOptions {
  /** Called on every scrape to set the gauge's value(s); `this` is the gauge. */
  collect?: (this: Gauge<string>) => void | Promise<void>;
}

const NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;

export class MetricsRegistry {
  readonly registry: Registry;
  readonly prefix: string;
  private readonly entries = new Map<string, Entry>();

  constructor(prefix: 'tidemark_edge' | 'tidemark_cloud' | (string & {}), opts: { defaultMetrics?: boolean } = {}) {
    if (!NAME.test(prefix)) throw new Error(`invalid metric prefix "${prefix}"`);
    this.prefix = prefix;
    this.registry = new Registry();
    if (opts.defaultMetrics) collectDefaultMetrics({ register: this.registry, prefix: `${prefix}_` });
  }

  get contentType(): string {
    return this.registry.contentType;
  }

  /** The full name for `name`: `batches_total` → `tidemark_cloud_batches_total`. */
  fullName(name: string): string {
    return name.startsWith(`${this.prefix}_`) ? name : `${this.prefix}_${name}`;
  }

  counter<L extends string = string>(name: string, help: string, labelNames: readonly L[] = []): Counter<L> {
    return this.getOrCreate('counter', name, labelNames, (full) =>
      new Counter<L>({ name: full, help, labelNames, registers: [this.registry] }),
    ) as Counter<L>;
  }

  gauge<L extends string = string>(name: string, help: string, labelNames: readonly L[] = [], opts: GaugeOptions = {}): Gauge<L> {
    return this.getOrCreate('gauge', name, labelNames, (full) =>
      new Gauge<L>({
        name: full,
        help,
        labelNames,
        registers: [this.registry],
        ...(opts.collect ? { collect: opts.collect as (this: Gauge<L>) => void | Promise<void> } : {}),
      }),
    ) as Gauge<L>;
  }

  histogram<L extends string = string>(
    name: string,
    help: string,
    labelNames: readonly L[] = [],
    buckets?: number[],
  ): Histogram<L> {
    return this.getOrCreate('histogram', name, labelNames, (full) =>
      new Histogram<L>({ name: full, help, labelNames, registers: [this.registry], ...(buckets ? { buckets } : {}) }),
    ) as Histogram<L>;
  }

  /** Prometheus text exposition of every metric in this registry. */
  metrics(): Promise<string> {
    return this.registry.metrics();
  }

  private getOrCreate(
    kind: MetricKind,
    name: string,
    labelNames: readonly string[],
    create: (fullName: string) => Counter<string> | Gauge<string> | Histogram<string>,
  ): Counter<string> | Gauge<string> | Histogram<string> {
    const full = this.fullName(name);
    const existing = this.entries.get(full);
    if (existing) {
      const same =
        existing.kind === kind &&
        existing.labelNames.length === labelNames.length &&
        [...existing.labelNames].sort().every((l, i) => l === [...labelNames].sort()[i]);
      if (!same) {
        throw new Error(
          `metric ${full} is already registered as a ${existing.kind} with labels [${existing.labelNames.join(', ')}]; ` +
            `cannot register it as a ${kind} with labels [${labelNames.join(', ')}]`,
        );
      }
      return existing.metric;
    }
    if (!NAME.test(full)) throw new Error(`invalid metric name "${full}"`);
    const metric = create(full);
    this.entries.set(full, { kind, labelNames: [...labelNames], metric });
    return metric;
  }
}

/**
 * The current value of a counter or gauge, for tests and status pages. With `labels`, sums the series whose
 * labels include all of them; without, sums every series (0 when nothing was recorded).
 */
export async function counterValue<L extends string>(
  metric: Counter<L> | Gauge<L>,
  labels?: Partial<Record<L, string | number>>,
): Promise<number> {
  const { values } = await metric.get();
  let sum = 0;
  for (const v of values) {
    const matches =
      labels === undefined ||
      Object.entries(labels).every(([k, want]) => String((v.labels as Record<string, unknown>)[k]) === String(want));
    if (matches) sum += v.value;
  }
  return sum;
}

/** Same as counterValue, named for gauges. */
export const gaugeValue = counterValue;

/** One series of a counter, for a hot path: see tally(). */
export interface Tally {
  inc(value?: number): void;
}

const TALLIES = Symbol('tidemark.tallies');
interface PendingSeries {
  labels: Record<string, string | number>;
  n: number;
}

/**
 * One series of `counter` (the one with `labels`) for code that runs tens of times a second: inc() adds to a
 * plain number, moved into the counter whenever the counter is read — its collect hook, which prom-client runs
 * on every get(), so on every scrape and every counterValue(). A read sees every inc() made before it. prom-client's
 * own inc() validates and hashes the labels on each call: several µs in code that runs 50 times a second and so
 * stays in V8's lower tiers (issue 12). Several tallies (and plain inc()s) may share one counter.
 */
export function tally<L extends string>(counter: Counter<L>, labels: Partial<Record<L, string | number>> = {}): Tally {
  // Checked now, as prom-client's inc() would: not at the first scrape.
  const names = (counter as unknown as { labelNames: readonly string[] }).labelNames;
  for (const k of Object.keys(labels)) if (!names.includes(k)) throw new Error(`label "${k}" is not one of [${names.join(', ')}]`);
  const c = counter as unknown as { [TALLIES]?: PendingSeries[]; collect?: (this: unknown) => unknown };
  let series = c[TALLIES];
  if (series === undefined) {
    const all: PendingSeries[] = [];
    const previous = c.collect;
    c.collect = function (this: unknown) {
      for (const s of all) {
        if (s.n === 0) continue;
        const n = s.n;
        s.n = 0;
        (counter as Counter<string>).inc(s.labels, n);
      }
      return previous?.call(this);
    };
    c[TALLIES] = series = all;
  }
  const s: PendingSeries = { labels: labels as Record<string, string | number>, n: 0 };
  series.push(s);
  return {
    inc(value = 1) {
      // Checked here, as prom-client would: a bad value must fail its caller, not a later scrape.
      if (!(value >= 0) || !Number.isFinite(value)) throw new TypeError(`a counter cannot be incremented by ${value}`);
      s.n += value;
    },
  };
}
