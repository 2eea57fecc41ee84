// Ingest: decode and validate each batch, then dedup + append a whole group of batches (across devices)
// in ONE stream-store transaction, and only after it commits publish the acks. Bad input never crashes
// the collector: undecodable payloads are dead-lettered and counted; identifiable but invalid batches are
// dead-lettered and acked `rejected` with the reason, so the device stops resending them.
import { decodeBatch, encodeAck, peekBatchIdentity, streamIdToHex, validateBatch, type AckResult, type Batch } from '@tidemark/proto';
import { isTidemarkError, RateLimitedLogger, type Component, type Logger, type MetricsRegistry } from '@tidemark/shared';
import type { MessageBus } from '../broker/message-bus.js';
import type { AppendItem, StreamAppender } from '../store/stream-store.js';
import type { DeviceRegistry } from './device-registry.js';

export interface IngestOptions {
  maxBatchReadings: number;
  commitIntervalMs: number;
  /** Groups larger than this are committed at once rather than waiting for the timer. */
  maxGroup?: number;
  /**
   * Fault injection for tests (TIDEMARK_FAULT_KILL_AFTER_COMMIT): SIGKILL this process right after the
   * N-th stream commit, before its acks are published — the worst moment for the delivery contract.
   */
  faultKillAfterCommit?: number;
}

interface Incoming {
  device: string;
  payload: Uint8Array;
  receivedMs: number;
}

interface Accepted {
  item: AppendItem;
}

export class Ingestor implements Component {
  readonly name = 'ingest';
  private queue: Incoming[] = [];
  private timer: NodeJS.Timeout | undefined;
  private flushing: Promise<void> | undefined;
  private stopped = false;
  private commits = 0;
  private readonly listeners: (() => void)[] = [];
  private readonly m;
  private readonly warn;

  constructor(
    private readonly store: StreamAppender,
    private readonly bus: MessageBus,
    private readonly registry: DeviceRegistry | undefined,
    private readonly opts: IngestOptions,
    private readonly logger: Logger,
    metrics: MetricsRegistry,
  ) {
    this.m = {
      batches: metrics.counter('batches_total', 'Batches received, by outcome', ['status']),
      readings: metrics.counter('readings_total', 'Readings received, by outcome', ['status']),
      rejected: metrics.counter('rejected_total', 'Batches rejected or dead-lettered, by reason', ['reason']),
      duplicates: metrics.counter('duplicates_total', 'Duplicate batches (acked again, not stored)'),
      commitSeconds: metrics.histogram('ingest_commit_seconds', 'Stream-store commit time per group', [], [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1]),
      ackSeconds: metrics.histogram('ack_latency_seconds', 'From batch receipt to ack publish', [], [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1, 2.5]),
      groupSize: metrics.histogram('ingest_group_batches', 'Batches per stream-store transaction', [], [1, 2, 5, 10, 20, 50, 100, 200, 500]),
    };
    // One log line per device per minute for bad input; everything is counted in metrics regardless.
    this.warn = new RateLimitedLogger(this.logger, 60_000);
    // Subscribe at construction so nothing that arrives before start() is lost: it queues until the timer runs.
    this.bus.onBatch((device, payload) => this.enqueue(device, payload));
  }

  /** Called after each committed group, so an in-process aggregator can catch up at once. */
  onCommit(listener: () => void): void {
    this.listeners.push(listener);
  }

  async start(): Promise<void> {
    this.timer = setInterval(() => void this.flush(), this.opts.commitIntervalMs);
  }

  enqueue(device: string, payload: Uint8Array): void {
    if (this.stopped) return;
    this.queue.push({ device, payload, receivedMs: Date.now() });
    if (this.queue.length >= (this.opts.maxGroup ?? 500)) void this.flush();
  }

  /** Commits everything queued; concurrent calls share the running flush, then run again if needed. */
  async flush(): Promise<void> {
    while (this.flushing) await this.flushing;
    if (this.queue.length === 0) return;
    const group = this.queue;
    this.queue = [];
    this.flushing = this.process(group).finally(() => {
      this.flushing = undefined;
    });
    await this.flushing;
  }

  private async process(group: Incoming[]): Promise<void> {
    const accepted: Accepted[] = [];
    const acks = new Map<string, { device: string; streamId: Uint8Array; results: AckResult[]; receivedMs: number }>();
    const addAck = (device: string, streamId: Uint8Array, result: AckResult, receivedMs: number) => {
      const key = `${device}/${streamIdToHex(streamId)}`;
      let a = acks.get(key);
      if (!a) acks.set(key, (a = { device, streamId, results: [], receivedMs }));
      a.results.push(result);
      a.receivedMs = Math.min(a.receivedMs, receivedMs);
    };

    for (const msg of group) {
      const verdict = this.check(msg);
      if ('batch' in verdict) {
        // Only the identity and counts are kept: the decoded readings (about 1,000 objects per batch) must die
        // young. Holding them for the whole group made every scavenge copy them and promoted most to old space.
        accepted.push({
          item: {
            deviceId: verdict.batch.deviceId,
            streamId: verdict.batch.streamId,
            seq: verdict.batch.seq,
            receivedMs: msg.receivedMs,
            readings: verdict.batch.readings.length,
            ...(verdict.batch.lowWaterSeq !== undefined ? { lowWaterSeq: verdict.batch.lowWaterSeq } : {}),
            payload: msg.payload,
          },
        });
        continue;
      }
      this.m.rejected.inc({ reason: verdict.reason });
      this.registry?.rejected(msg.device);
      this.m.batches.inc({ status: verdict.identity ? 'rejected' : 'undecodable' });
      this.warn.warn(msg.device, { device: msg.device, reason: verdict.reason, detail: verdict.detail }, 'batch refused');
      // A payload too large for the store is kept cut to what fits: its identity and first series.
      const max = this.store.maxPayloadBytes;
      const kept = max !== undefined && msg.payload.byteLength > max ? msg.payload.subarray(0, max) : msg.payload;
      await this.store
        .deadLetter({ deviceId: msg.device, reason: `${verdict.reason}: ${verdict.detail}`, receivedMs: msg.receivedMs, payload: kept })
        .catch((err) => this.logger.error({ err }, 'dead-letter write failed'));
      if (verdict.identity) {
        addAck(msg.device, verdict.identity.streamId, { seq: verdict.identity.seq, status: 'rejected', reason: `${verdict.reason}: ${verdict.detail}` }, msg.receivedMs);
      }
    }

    if (accepted.length > 0) {
      const endTimer = this.m.commitSeconds.startTimer();
      let outcomes;
      try {
        outcomes = await this.store.append(accepted.map((a) => a.item));
      } catch (err) {
        // Nothing is acked: every device resends after its ack timeout, and dedup makes that safe.
        this.logger.error({ err, batches: accepted.length }, 'stream append failed; batches will be resent by devices');
        return;
      }
      endTimer();
      if (this.opts.faultKillAfterCommit !== undefined && ++this.commits === this.opts.faultKillAfterCommit) {
        this.logger.warn({ commit: this.commits }, 'fault injection: SIGKILL between commit and ack');
        process.kill(process.pid, 'SIGKILL');
      }
      this.m.groupSize.observe(accepted.length);
      accepted.forEach((a, i) => {
        const outcome = outcomes[i]!;
        if (outcome === 'duplicate') this.m.duplicates.inc();
        this.m.batches.inc({ status: outcome });
        this.m.readings.inc({ status: outcome }, a.item.readings);
        if (outcome === 'ok') this.registry?.seen(a.item.deviceId, a.item.receivedMs, a.item.readings);
        addAck(a.item.deviceId, a.item.streamId, { seq: a.item.seq, status: outcome }, a.item.receivedMs);
      });
      for (const l of this.listeners) l();
    }

    const now = Date.now();
    await Promise.all(
      [...acks.values()].map(async (a) => {
        try {
          await this.bus.publishAck(a.device, encodeAck({ deviceId: a.device, streamId: a.streamId, results: a.results }));
          this.m.ackSeconds.observe((now - a.receivedMs) / 1000);
        } catch (err) {
          // The device resends and gets a `duplicate` ack: still correct, just later.
          this.logger.warn({ device: a.device, err: (err as Error).message }, 'ack publish failed');
        }
      }),
    );
  }

  private check(
    msg: Incoming,
  ): { batch: Batch } | { reason: string; detail: string; identity?: { streamId: Uint8Array; seq: number } } {
    const identity = peekBatchIdentity(msg.payload);
    const id = identity && identity.deviceId === msg.device && identity.streamId.length === 16 && identity.seq >= 1 ? identity : undefined;
    // A backend limit (JetStream: one NATS message) refuses the batch on its own, not the whole group.
    const max = this.store.maxPayloadBytes;
    if (max !== undefined && msg.payload.byteLength > max) {
      return {
        reason: 'too_large',
        detail: `${msg.payload.byteLength} bytes is more than the stream store takes in one record (${max}); send smaller batches (batch.max_readings)`,
        ...(id ? { identity: id } : {}),
      };
    }
    let batch: Batch;
    try {
      batch = decodeBatch(msg.payload, { validate: false });
    } catch (err) {
      return { reason: 'undecodable', detail: isTidemarkError(err) ? err.message : String(err), ...(id ? { identity: id } : {}) };
    }
    if (batch.deviceId !== msg.device) {
      return { reason: 'device_mismatch', detail: `payload device_id "${batch.deviceId}" does not match topic device "${msg.device}"` };
    }
    try {
      validateBatch(batch, { maxReadings: this.opts.maxBatchReadings, maxSensors: 1000 });
    } catch (err) {
      return { reason: 'invalid', detail: isTidemarkError(err) ? err.message : String(err), ...(id ? { identity: id } : {}) };
    }
    return { batch };
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
    await this.flush();
  }
}
