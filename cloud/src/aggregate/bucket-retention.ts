// Aggregate retention (aggregation.retention), owned by the aggregator: per resolution a horizon (the start
// of the bucket holding `now - retention`); buckets starting before it are deleted, and the aggregator does
// not fold readings into them (that would bring back a partial bucket). Deletion runs between chunks, never
// during one, so a chunk never loads a bucket that is deleted before it commits.
import type { Logger, MetricsRegistry } from '@tidemark/shared';
import type { AggregateStore } from './aggregate-store.js';
import { bucketStart } from './bucket-stats.js';

/** Buckets deleted per call: ~12 ms of SQLite work, so a large first pass never stalls ingest. */
const TRIM_BATCH = 10_000;

export interface BucketRetentionOptions {
  resolutions: readonly { label: string; ms: number }[];
  /** Per resolution label: how long buckets are kept, by bucket end (ms); absent or null = forever. */
  retention?: Readonly<Record<string, number | null>>;
  /** How often expired buckets are deleted (default 60 s). */
  retentionIntervalMs?: number;
  now?: () => number;
}

export class BucketRetention {
  /** Per resolution: buckets starting before this are expired; -Infinity keeps everything. */
  readonly horizons: number[];
  private nextTrimAt = 0;
  private readonly trimmed;

  constructor(
    private readonly store: AggregateStore,
    private readonly opts: BucketRetentionOptions,
    private readonly logger: Logger,
    metrics: MetricsRegistry,
  ) {
    this.trimmed = metrics.counter('aggregate_buckets_trimmed_total', 'Buckets deleted by retention (aggregation.retention)', ['resolution']);
    this.horizons = opts.resolutions.map(() => -Infinity);
    this.refresh();
  }

  private refresh(): void {
    const now = (this.opts.now ?? Date.now)();
    this.opts.resolutions.forEach((res, i) => {
      const keep = this.opts.retention?.[res.label];
      this.horizons[i] = keep == null ? -Infinity : bucketStart(now - keep, res.ms);
    });
  }

  /** Moves the horizons to now and deletes every bucket before them; returns how many went. */
  async trimExpired(): Promise<number> {
    this.refresh();
    let total = 0;
    for (let i = 0; i < this.opts.resolutions.length; i++) {
      const horizon = this.horizons[i]!;
      if (horizon === -Infinity) continue;
      const label = this.opts.resolutions[i]!.label;
      let n = 0;
      for (let k = TRIM_BATCH; k === TRIM_BATCH; n += k) {
        k = await this.store.deleteBucketsBefore(label, horizon, TRIM_BATCH);
        await new Promise<void>((resolve) => setImmediate(resolve)); // let ingest and queries in between
      }
      if (n > 0) {
        this.trimmed.inc({ resolution: label }, n);
        this.logger.info({ resolution: label, buckets: n, before: new Date(horizon).toISOString() }, 'aggregate retention deleted buckets');
      }
      total += n;
    }
    return total;
  }

  /** trimExpired() at most every retentionIntervalMs; errors are logged, never thrown. */
  async maybeTrim(): Promise<void> {
    const now = (this.opts.now ?? Date.now)();
    if (now < this.nextTrimAt) return;
    this.nextTrimAt = now + (this.opts.retentionIntervalMs ?? 60_000);
    try {
      await this.trimExpired();
    } catch (err) {
      this.logger.error({ err }, 'aggregate retention failed; will retry');
    }
  }
}
