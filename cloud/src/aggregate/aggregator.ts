// The aggregator: reads the stream store from its checkpoint and folds readings into per-device event-time
// tumbling windows at every configured resolution. One chunk of records = one store commit holding the
// changed buckets, the watermarks and the next offset, so a crash anywhere resumes to the same state.
// Processing is a pure function of the stream order: replay produces identical aggregates.
//
// A partitioned stream (JetStream) is read one chunk of one partition at a time, round robin, each commit
// carrying that partition's offset. A device lives in exactly one partition and watermarks are per device,
// so the result is the same whatever the interleaving of partitions.
//
// Lateness: a device's watermark is the highest trusted event time aggregated from it. A bucket is final
// once watermark >= start + resolution + allowed_lateness. Readings are judged against the watermark as it
// stood before their batch, so a batch is never late for itself; a reading for a final bucket still
// updates it and bumps its revision (once per batch), and is counted as late.
//
// Retention (aggregation.retention, bucket-retention.ts) is wall-clock: a bucket goes once its end is older
// than its resolution's retention. The loop deletes expired buckets between chunks, and a reading for an
// expired bucket does not bring it back (it would be a partial bucket); it is counted and stays in the stream.
import type { Component, Logger, MetricsRegistry } from '@tidemark/shared';
import type { ResourceReporter } from '../health/resource-health.js';
import type { StreamRecord, StreamStore } from '../store/stream-store.js';
import { batchDistrust, decodeRecordColumns, readingTrusted } from '../stream/reading-policy.js';
import type { SharedReads } from '../stream/shared-reads.js';
import { StreamConsumer, type ChunkProcessor } from '../stream/stream-consumer.js';
import { bucketKey, type AggregateStore, type BucketKey, type BucketRecord, type SensorDelta } from './aggregate-store.js';
import { BucketRetention } from './bucket-retention.js';
import { addValue, bucketStart, emptyStats } from './bucket-stats.js';

export interface Resolution {
  label: string;
  ms: number;
}

export interface AggregatorOptions {
  resolutions: readonly Resolution[];
  allowedLatenessMs: number;
  /** Readings stamped further than this after their batch was received are not trusted. */
  maxFutureSkewMs: number;
  /** Stream records per commit. */
  chunkRecords?: number;
  /** Poll interval when caught up and nobody notifies. */
  idleMs?: number;
  /**
   * Replay `--from`: only buckets starting at or after this are built; earlier readings still advance
   * watermarks and the sensor catalogue, so the rebuilt buckets equal those of a full replay.
   */
  bucketsFrom?: number;
  /** Per resolution label: how long buckets are kept, by bucket end (ms); absent or null = forever. */
  retention?: Readonly<Record<string, number | null>>;
  /** How often expired buckets are deleted (default 60 s). */
  retentionIntervalMs?: number;
  now?: () => number;
  /**
   * Resource health (the run loop): a failed stream read is reported on `stream`, a failed aggregate-store
   * load or commit on `aggregates`; the loop then waits their backoff and resumes from the checkpoint.
   */
  health?: { stream: ResourceReporter; aggregates: ResourceReporter };
  /** Stream reads (and decodes) shared with the alert evaluator of the same process (stream/shared-reads.ts). */
  sharedReads?: SharedReads;
}

/** Per batch and sensor: the bucket each resolution last folded into (see fold). */
interface HotSensor {
  starts: number[];
  records: BucketRecord[];
  late: boolean[];
  /** This sensor's entry in the chunk's catalogue delta, once a reading of it was aggregated. */
  catalogue: SensorDelta | undefined;
}

function hotSensor(resolutions: number): HotSensor {
  return { starts: new Array<number>(resolutions).fill(NaN), records: new Array<BucketRecord>(resolutions), late: new Array<boolean>(resolutions).fill(false), catalogue: undefined };
}

export type BucketUpdateListener = (updates: readonly BucketRecord[], watermarks: ReadonlyMap<string, number>) => void;

export class Aggregator implements Component, ChunkProcessor {
  readonly name = 'aggregator';
  /** The read loop (partitions, checkpoints, fencing): the stream's consumer seam, shared with the alert evaluator. */
  private readonly consumer: StreamConsumer;
  private lagRefreshAt = 0;
  private readonly listeners: BucketUpdateListener[] = [];
  private readonly retention: BucketRetention;
  private readonly m;

  constructor(
    stream: StreamStore | readonly StreamStore[],
    private readonly store: AggregateStore,
    private readonly opts: AggregatorOptions,
    private readonly logger: Logger,
    metrics: MetricsRegistry,
  ) {
    this.m = {
      readings: metrics.counter('aggregated_readings_total', 'Readings folded into windows'),
      late: metrics.counter('late_readings_total', 'Readings that changed a bucket already final'),
      unaggregated: metrics.counter('unaggregated_readings_total', 'Readings kept in the stream but not aggregated, by reason', ['reason']),
      lag: metrics.gauge('aggregator_lag_records', 'Stream records not yet aggregated'),
      offset: metrics.gauge('aggregator_offset', 'Next stream offset the aggregator reads, per stream partition', ['partition']),
      expiredUpdates: metrics.counter(
        'bucket_updates_outside_retention_total',
        'Readings not folded into a resolution because its bucket is past retention (aggregation.retention)',
        ['resolution'],
      ),
    };
    this.consumer = new StreamConsumer(
      stream,
      this,
      {
        chunkRecords: opts.chunkRecords ?? 500,
        idleMs: opts.idleMs ?? 200,
        ...(opts.health ? { health: { stream: opts.health.stream, store: opts.health.aggregates } } : {}),
        ...(opts.sharedReads ? { sharedReads: opts.sharedReads } : {}),
      },
      logger,
      'aggregator',
    );
    this.retention = new BucketRetention(store, opts, logger, metrics);
  }

  /** Deletes every bucket past retention now (replay, tests); the run loop does it every retentionIntervalMs. */
  trimExpired(): Promise<number> {
    return this.retention.trimExpired();
  }

  onUpdate(listener: BucketUpdateListener): void {
    this.listeners.push(listener);
  }

  /** Wakes the loop now (the in-process collector calls this after each ingest commit). */
  notify(): void {
    this.consumer.notify();
  }

  start(): Promise<void> {
    return this.consumer.start();
  }

  stop(): Promise<void> {
    return this.consumer.stop();
  }

  /**
   * Processes one chunk of the first partition (round robin) that has records; returns the number of stream
   * records consumed (0: every partition is caught up). Exposed for tests and replay.
   */
  step(): Promise<number> {
    return this.consumer.step();
  }

  /** Drains the stream to its current end (replay and tests). */
  drain(): Promise<void> {
    return this.consumer.drain();
  }

  // ChunkProcessor (called by the consumer loop).

  checkpoint(partition: number): Promise<number> {
    return this.store.checkpoint(partition);
  }

  async beforeStep(): Promise<void> {
    await this.retention.maybeTrim();
  }

  async idle(): Promise<void> {
    this.m.lag.set(0);
  }

  async process(partition: number, records: readonly StreamRecord[], expectedOffset: number, next: number): Promise<void> {
    const result = await this.fold(records);
    // Fenced on the checkpoint the records were read from: if another writer moved it, nothing is written.
    await this.store.commit({ partition, offset: next, expectedOffset, ...result });
    // Committed: count it and tell the listeners now, before anything else can fail or wait.
    this.m.offset.set({ partition: String(partition) }, next);
    for (const [reason, n] of result.unaggregated) this.m.unaggregated.inc({ reason }, n);
    this.m.readings.inc(result.aggregated);
    this.m.late.inc(result.late);
    result.expired.forEach((n, i) => n > 0 && this.m.expiredUpdates.inc({ resolution: this.opts.resolutions[i]!.label }, n));
    if (result.buckets.length > 0) for (const l of this.listeners) l(result.buckets, result.watermarks);
    const offsets = [...(this.consumer.position ?? [])];
    offsets[partition] = next;
    await this.refreshLag(offsets);
  }

  /** endOffset() is a round trip on a remote stream store: the lag gauge is refreshed at most once a second. */
  private async refreshLag(offsets: readonly number[]): Promise<void> {
    if (performance.now() < this.lagRefreshAt) return;
    this.lagRefreshAt = performance.now() + 1000;
    try {
      let lag = 0;
      const streams = this.consumer.streams;
      for (let p = 0; p < streams.length; p++) lag += Math.max(0, (await streams[p]!.endOffset()) - (offsets[p] ?? 0));
      this.m.lag.set(lag);
    } catch (err) {
      this.logger.warn({ err: (err as Error).message }, 'aggregator lag not refreshed');
    }
  }

  private async fold(records: readonly StreamRecord[]) {
    const { resolutions, allowedLatenessMs, maxFutureSkewMs } = this.opts;
    const decoded = decodeRecordColumns(records);

    // Load every bucket and watermark this chunk touches. Readings of a sensor come in time order, so most
    // fall in the bucket of the one before: only a change of bucket start costs a key.
    const keys = new Map<string, BucketKey>();
    const devices = new Set<string>();
    const nres = resolutions.length;
    for (const { batch } of decoded) {
      if (!batch) continue;
      devices.add(batch.deviceId);
      for (const col of batch.series) {
        const last = new Array<number>(nres).fill(NaN);
        const tss = col.ts;
        for (let j = 0; j < tss.length; j++) {
          const ts = tss[j]!;
          if (this.opts.bucketsFrom !== undefined && ts < this.opts.bucketsFrom) continue;
          for (let i = 0; i < nres; i++) {
            const res = resolutions[i]!;
            // Inside the previous bucket (starts are aligned, so this is bucketStart(ts) === that start).
            if (ts >= last[i]! && ts < last[i]! + res.ms) continue;
            const start = bucketStart(ts, res.ms);
            last[i] = start;
            if (start < this.retention.horizons[i]!) continue;
            const k = { device: batch.deviceId, sensor: col.sensor, resolution: res.label, start };
            keys.set(bucketKey(k), k);
          }
        }
      }
    }
    const buckets = await this.store.getBuckets([...keys.values()]);
    const watermarks = await this.store.getWatermarks([...devices]);
    const dirty = new Map<string, BucketRecord>();
    const sensors = new Map<string, SensorDelta>();
    const unaggregated = new Map<string, number>();
    const skip = (reason: string, n: number) => unaggregated.set(reason, (unaggregated.get(reason) ?? 0) + n);
    let aggregated = 0;
    let late = 0;
    const horizons = this.retention.horizons;
    const expired = new Array<number>(nres).fill(0);

    for (const { record, batch } of decoded) {
      if (!batch) {
        skip('undecodable', 0);
        this.logger.error({ offset: record.offset }, 'stream record does not decode; skipped');
        continue;
      }
      const distrust = batchDistrust(batch);
      if (distrust !== undefined) {
        skip(distrust, batch.readingCount);
        continue;
      }
      const device = batch.deviceId;
      const wmBefore = watermarks.get(device) ?? -Infinity;
      let wmAfter = wmBefore;
      const revised = new Set<string>();
      // Per sensor, the bucket each resolution last folded into in this batch. A bucket record, once
      // touched, is the one object in `dirty` for its key, and whether it is late depends only on its start
      // and wmBefore (fixed for the batch), so a reading landing in the same bucket can skip the key lookup
      // and the revision check: same record, same lateness, revision already bumped for this batch.
      const hot = new Map<string, HotSensor>();
      // Series by series: the readings in stream order (the order decodeBatch gives them in).
      for (const col of batch.series) {
        const sensor = col.sensor;
        const tss = col.ts;
        const vals = col.values;
        let h = hot.get(sensor);
        if (!h) hot.set(sensor, (h = hotSensor(nres)));
        for (let j = 0; j < tss.length; j++) {
          const ts = tss[j]!;
          if (!readingTrusted(ts, record.receivedMs, maxFutureSkewMs)) {
            skip('future_timestamp', 1);
            continue;
          }
          let wasLate = false;
          let folded = 0;
          const foldBuckets = this.opts.bucketsFrom === undefined || ts >= this.opts.bucketsFrom;
          for (let i = 0; foldBuckets && i < nres; i++) {
            const res = resolutions[i]!;
            let b: BucketRecord;
            if (ts >= h.starts[i]! && ts < h.starts[i]! + res.ms) {
              b = h.records[i]!;
              if (h.late[i]) wasLate = true;
            } else {
              const start = bucketStart(ts, res.ms);
              if (start < horizons[i]!) {
                expired[i]! += 1;
                continue;
              }
              const key = bucketKey({ device, sensor, resolution: res.label, start });
              b = dirty.get(key) ?? buckets.get(key) ?? { device, sensor, resolution: res.label, start, stats: emptyStats(), revision: 0 };
              const isLate = wmBefore >= start + res.ms + allowedLatenessMs;
              if (isLate) {
                wasLate = true;
                if (!revised.has(key)) {
                  revised.add(key);
                  b.revision += 1;
                }
              }
              dirty.set(key, b);
              h.starts[i] = start;
              h.records[i] = b;
              h.late[i] = isLate;
            }
            addValue(b.stats, ts, vals[j]!);
            folded += 1;
          }
          if (foldBuckets && folded === 0) {
            // Past retention at every resolution: nothing to update (the reading stays in the stream store).
            skip('outside_retention', 1);
            continue;
          }
          if (wasLate) late += 1;
          aggregated += 1;
          if (ts > wmAfter) wmAfter = ts;
          let s = h.catalogue;
          if (!s) {
            const sk = `${device}\u0000${sensor}`;
            s = sensors.get(sk);
            if (!s) sensors.set(sk, (s = { device, sensor, firstTs: ts, lastTs: ts, readings: 0 }));
            h.catalogue = s;
          }
          s.firstTs = Math.min(s.firstTs, ts);
          s.lastTs = Math.max(s.lastTs, ts);
          s.readings += 1;
        }
      }
      if (wmAfter > wmBefore) watermarks.set(device, wmAfter);
    }
    return { buckets: [...dirty.values()], watermarks, sensors: [...sensors.values()], unaggregated, aggregated, late, expired };
  }

}
