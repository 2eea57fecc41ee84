// Enforces store.retention / store.max_bytes on the stream store in the background. Runs beside the
// aggregator, because only records it has consumed (below its checkpoint) may go: retention never loses a
// reading that has not reached the aggregates. Records trimmed away can no longer be replayed.
import { safeInterval, settleWithin, type Component, type Logger, type MetricsRegistry } from '@tidemark/shared';
import type { ResourceReporter } from '../health/resource-health.js';
import type { StreamStore } from './stream-store.js';

export interface RetentionOptions {
  retentionMs: number;
  maxBytes?: number;
  intervalMs?: number;
  /** The aggregator's next offset in a partition: everything below it is consumed. */
  consumedBelow: (partition: number) => Promise<number>;
  now?: () => number;
  /** Where a failed pass is reported (resource health); without it, each failure is logged. */
  health?: ResourceReporter;
}

export class StreamRetention implements Component {
  readonly name = 'stream-retention';
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private readonly trimmed;

  private readonly streams: readonly StreamStore[];

  constructor(
    stream: StreamStore | readonly StreamStore[],
    private readonly opts: RetentionOptions,
    private readonly logger: Logger,
    metrics: MetricsRegistry,
  ) {
    this.streams = Array.isArray(stream) ? stream : [stream as StreamStore];
    this.trimmed = metrics.counter('stream_trimmed_records_total', 'Stream records deleted by retention (store.retention, store.max_bytes)');
  }

  async start(): Promise<void> {
    // runOnce() never rejects; the guard is for the audit and for whatever a later change adds.
    this.timer = safeInterval(this.logger, 'stream retention timer', this.opts.intervalMs ?? 60_000, () => this.runOnce());
    this.timer.unref();
  }

  /** One retention pass; concurrent calls share it. Errors are logged, never thrown. */
  runOnce(): Promise<void> {
    this.running ??= (async () => {
      try {
        const now = (this.opts.now ?? Date.now)();
        let n = 0;
        // store.max_bytes bounds the whole stream: each partition gets its share.
        const maxBytes = this.opts.maxBytes === undefined ? undefined : Math.floor(this.opts.maxBytes / this.streams.length);
        for (const [p, stream] of this.streams.entries()) {
          n += await stream.trim({
            beforeReceivedMs: now - this.opts.retentionMs,
            belowOffset: await this.opts.consumedBelow(p),
            ...(maxBytes !== undefined ? { maxBytes } : {}),
          });
        }
        this.opts.health?.ok();
        if (n > 0) {
          this.trimmed.inc(n);
          this.logger.info({ records: n }, 'stream retention trimmed records');
        }
      } catch (err) {
        if (this.opts.health) this.opts.health.fail(err);
        else this.logger.error({ err: (err as Error).message }, 'stream retention failed; will retry');
      } finally {
        this.running = undefined;
      }
    })();
    return this.running;
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    // A trim blocked on an unreachable store is left to fail on its own: a trim is one atomic delete or purge.
    await settleWithin(this.running, 2000);
  }
}
