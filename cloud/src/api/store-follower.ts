// Live bucket updates for an API process without an aggregator (`--role api`). The aggregator commits its
// buckets and its stream offset in one transaction, so when the aggregate store's checkpoint moves from A
// to B, the stream records [A, B) are exactly what was folded in between: decoding them names every bucket
// that changed, and their committed state is read back from the aggregate store. A partitioned stream has
// a checkpoint per partition: each is followed the same way. Updates are published
// through the same listener interface the Aggregator offers, so the stream route cannot tell the two apart.
//
// A bucket read back may already hold a later commit's state (the reads are not one snapshot); a later
// poll then publishes it again. Clients see every changed bucket, each state at least as new as the
// previous event for it, never an older one. If records were trimmed before they could be read, or the
// aggregates were rebuilt (checkpoint went back), the follower reports a gap instead of guessing.
import { settleWithin, type Component, type Logger } from '@tidemark/shared';
import { bucketKey, type AggregateStore, type BucketKey } from '../aggregate/aggregate-store.js';
import type { BucketUpdateListener, Resolution } from '../aggregate/aggregator.js';
import { bucketStart } from '../aggregate/bucket-stats.js';
import type { ResourceReporter } from '../health/resource-health.js';
import type { StreamRecord, StreamStore } from '../store/stream-store.js';
import { batchDistrust, decodeRecordColumns, readingTrusted } from '../stream/reading-policy.js';
import type { BucketUpdateSource } from './stream-hub.js';

export interface StoreFollowerOptions {
  resolutions: readonly Resolution[];
  /** As the aggregator's: readings stamped further ahead of their batch's receipt were not aggregated. */
  maxFutureSkewMs: number;
  /** Checkpoint poll interval. Default 250 ms. */
  pollMs?: number;
  /** Stream records read per step. Default 500. */
  chunkRecords?: number;
  /** Where a failed poll is reported (one log line per state change instead of one per poll). */
  health?: ResourceReporter;
}

export class StoreFollower implements Component, BucketUpdateSource {
  readonly name = 'stream-follower';
  private readonly streams: readonly StreamStore[];
  /** Per partition, the checkpoint the follower has published up to. */
  private offsets: number[] | undefined;
  private running = false;
  private timer: NodeJS.Timeout | undefined;
  private inFlight: Promise<unknown> | undefined;
  private readonly listeners: BucketUpdateListener[] = [];
  private readonly gapListeners: ((reason: string) => void)[] = [];
  private wanted: () => boolean = () => true;

  constructor(
    stream: StreamStore | readonly StreamStore[],
    private readonly aggregates: AggregateStore,
    private readonly opts: StoreFollowerOptions,
    private readonly logger: Logger,
  ) {
    this.streams = Array.isArray(stream) ? stream : [stream as StreamStore];
  }

  private async checkpoints(): Promise<number[]> {
    const out: number[] = [];
    for (let p = 0; p < this.streams.length; p++) out.push(await this.aggregates.checkpoint(p));
    return out;
  }

  onUpdate(listener: BucketUpdateListener): void {
    this.listeners.push(listener);
  }

  onGap(listener: (reason: string) => void): void {
    this.gapListeners.push(listener);
  }

  /** While nobody wants updates, the follower only tracks the checkpoint and decodes nothing. */
  setDemand(wanted: () => boolean): void {
    this.wanted = wanted;
  }

  async start(): Promise<void> {
    // Live only: what was committed before this process started is in /api/v1/aggregates.
    this.offsets = await this.checkpoints();
    this.running = true;
    this.schedule();
  }

  private schedule(): void {
    if (!this.running) return;
    // guard-audit: poll() failures end in its catch; schedule() only arms the next timer
    this.timer = setTimeout(() => {
      const h = this.opts.health;
      this.inFlight = this.poll()
        .then(
          () => h?.ok(),
          (err: unknown) => (h ? h.fail(err) : this.logger.error({ err }, 'following the aggregate store failed; retrying')),
        )
        .finally(() => this.schedule());
    }, Math.max(this.opts.pollMs ?? 250, this.opts.health?.nextDelayMs() ?? 0));
  }

  /** Publishes what the aggregator committed since the last poll; returns the stream records covered. */
  async poll(): Promise<number> {
    const offsets = this.offsets ?? (this.offsets = await this.checkpoints());
    let covered = 0;
    for (let p = 0; p < this.streams.length; p++) covered += await this.pollPartition(p, offsets);
    return covered;
  }

  private async pollPartition(p: number, offsets: number[]): Promise<number> {
    let offset = offsets[p]!;
    const target = await this.aggregates.checkpoint(p);
    if (target < offset) {
      offsets[p] = target;
      this.emitGap('the aggregates were rebuilt (checkpoint moved back); re-read them');
      return 0;
    }
    if (offset < target && !this.wanted()) {
      offsets[p] = target;
      return 0;
    }
    let covered = 0;
    while (offset < target) {
      const chunk = await this.streams[p]!.read(offset, Math.min(this.opts.chunkRecords ?? 500, target - offset));
      const records = chunk.filter((r) => r.offset < target);
      const first = records[0];
      if (!first || first.offset > offset) {
        this.emitGap('stream records were trimmed before the API could read them; updates were missed');
        if (!first) {
          offset = target;
          break;
        }
      }
      await this.publish(records);
      offset = records[records.length - 1]!.offset + 1;
      offsets[p] = offset;
      covered += records.length;
    }
    offsets[p] = offset;
    return covered;
  }

  private async publish(records: readonly StreamRecord[]): Promise<void> {
    const { resolutions, maxFutureSkewMs } = this.opts;
    const keys = new Map<string, BucketKey>();
    const devices = new Set<string>();
    for (const { record, batch } of decodeRecordColumns(records)) {
      // The aggregator's own rules (stream/reading-policy.ts): what it skipped changed no bucket.
      if (!batch || batchDistrust(batch) !== undefined) continue;
      for (const col of batch.series) {
        for (const ts of col.ts) {
          if (!readingTrusted(ts, record.receivedMs, maxFutureSkewMs)) continue;
          devices.add(batch.deviceId);
          for (const res of resolutions) {
            const k = { device: batch.deviceId, sensor: col.sensor, resolution: res.label, start: bucketStart(ts, res.ms) };
            keys.set(bucketKey(k), k);
          }
        }
      }
    }
    if (keys.size === 0) return;
    const buckets = [...(await this.aggregates.getBuckets([...keys.values()])).values()];
    const watermarks = await this.aggregates.getWatermarks([...devices]);
    if (buckets.length > 0) for (const l of this.listeners) l(buckets, watermarks);
  }

  private emitGap(reason: string): void {
    this.logger.warn({ reason }, 'live stream gap');
    for (const l of this.gapListeners) l(reason);
  }

  async stop(): Promise<void> {
    this.running = false;
    clearTimeout(this.timer);
    await settleWithin(this.inFlight, 2000); // a poll blocked on an unreachable store only reads
  }
}
