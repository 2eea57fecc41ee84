// Ingest: decode and validate each batch, then dedup + append a whole group of batches (across devices)
// in ONE stream-store transaction, and only after it commits publish the acks. Bad input never crashes
// the collector: undecodable payloads are dead-lettered and counted; identifiable but invalid batches are
// dead-lettered and acked `rejected` with the reason, so the device stops resending them.
// A stream store that refuses writes (disk full, read-only, NATS down) is a state, not a crash: nothing is
// acked that was not stored (devices keep it buffered and resend), the failure goes to resource health
// (/readyz, metrics, one log line per change), and appends are retried with backoff until the store is back.
// The queue between the broker and the store is bounded in bytes: beyond it a batch is refused unacked.
import { decodeBatch, encodeAck, peekBatchIdentity, streamIdToHex, validateBatch, type AckResult, type Batch } from '@tidemark/proto';
import { guard, isTidemarkError, RateLimitedLogger, safeInterval, type Component, type Logger, type MetricsRegistry } from '@tidemark/shared';
import type { MessageBus } from '../broker/message-bus.js';
import type { ResourceReporter } from '../health/resource-health.js';
import type { AppendItem, AppendOutcome, StreamAppender } from '../store/stream-store.js';
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
  /** Batches waiting for a commit are bounded by their payload bytes (default 64 MiB); beyond, refused unacked. */
  maxQueuedBytes?: number;
  /** Where append and dead-letter failures are reported (resources `stream-store`, `dead-letters`). */
  health?: { stream: ResourceReporter; deadLetters: ResourceReporter };
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
  private queuedBytes = 0;
  /** While the stream store fails, no append is tried before this (backoff); batches meanwhile go unacked. */
  private retryAppendAt = 0;
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
      refused: metrics.counter(
        'ingest_unstored_batches_total',
        'Batches not stored and not acked (the device keeps them and resends), by reason: store_failing, queue_full',
        ['reason'],
      ),
      queuedBytes: metrics.gauge('ingest_queued_bytes', 'Payload bytes of batches waiting for a stream-store commit'),
      groupSize: metrics.histogram('ingest_group_batches', 'Batches per stream-store transaction', [], [1, 2, 5, 10, 20, 50, 100, 200, 500]),
    };
    // One log line per device per minute for bad input; everything is counted in metrics regardless.
    this.warn = new RateLimitedLogger(this.logger, 60_000);
    // Subscribe at construction so nothing that arrives before start() is lost: it queues until the timer runs.
    this.bus.onBatch(guard(this.logger, 'batch handler', (device: string, payload: Uint8Array) => this.enqueue(device, payload)));
  }

  /** Called after each committed group, so an in-process aggregator can catch up at once. */
  onCommit(listener: () => void): void {
    this.listeners.push(listener);
  }

  async start(): Promise<void> {
    this.timer = safeInterval(this.logger, 'ingest commit timer', this.opts.commitIntervalMs, () => this.flush());
  }

  enqueue(device: string, payload: Uint8Array): void {
    if (this.stopped) return;
    if (this.queuedBytes + payload.byteLength > (this.opts.maxQueuedBytes ?? 64 * 1024 * 1024) && this.queue.length > 0) {
      // The store is slower than the devices (or refusing): keep memory bounded; the device resends after its ack timeout.
      this.m.refused.inc({ reason: 'queue_full' });
      this.warn.warn('queue_full', { queued_bytes: this.queuedBytes, queued_batches: this.queue.length }, 'ingest queue full; batches refused unacked until the stream store catches up');
      return;
    }
    this.queue.push({ device, payload, receivedMs: Date.now() });
    this.queuedBytes += payload.byteLength;
    this.m.queuedBytes.set(this.queuedBytes);
    if (this.queue.length >= (this.opts.maxGroup ?? 500)) this.flushSoon();
  }

  private flushSoon(): void {
    this.flush().catch((err: unknown) => this.logger.error({ err }, 'ingest flush failed'));
  }

  /** Commits everything queued; concurrent calls share the running flush, then run again if needed. */
  async flush(): Promise<void> {
    while (this.flushing) await this.flushing;
    if (this.queue.length === 0) return;
    const group = this.queue;
    this.queue = [];
    this.queuedBytes = 0;
    this.m.queuedBytes.set(0);
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
      const deadLettered = await this.store
        .deadLetter({ deviceId: msg.device, reason: `${verdict.reason}: ${verdict.detail}`, receivedMs: msg.receivedMs, payload: kept })
        .then(
          () => (this.opts.health?.deadLetters.ok(), true),
          (err: unknown) => {
            if (this.opts.health) this.opts.health.deadLetters.fail(err);
            else this.logger.error({ err }, 'dead-letter write failed');
            return false;
          },
        );
      // Not kept: not acked either, so the device resends it once the dead letters can be written again.
      if (verdict.identity && deadLettered) {
        addAck(msg.device, verdict.identity.streamId, { seq: verdict.identity.seq, status: 'rejected', reason: `${verdict.reason}: ${verdict.detail}` }, msg.receivedMs);
      }
    }

    const outcomes = accepted.length > 0 ? await this.append(accepted) : undefined;
    if (outcomes) {
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
          this.warn.warn('ack', { device: a.device, err: (err as Error).message }, 'ack publish failed');
        }
      }),
    );
  }

  /** Dedup + append of the group; undefined when it is not stored (refused now, or backing off). */
  private async append(accepted: readonly Accepted[]): Promise<AppendOutcome[] | undefined> {
    const health = this.opts.health?.stream;
    if (health?.failing && Date.now() < this.retryAppendAt) {
      // Backing off: the store refused the last try. Not acked, so each device keeps these and resends.
      this.m.refused.inc({ reason: 'store_failing' }, accepted.length);
      return undefined;
    }
    const endTimer = this.m.commitSeconds.startTimer();
    try {
      const outcomes = await this.store.append(accepted.map((a) => a.item));
      endTimer();
      health?.ok();
      return outcomes;
    } catch (err) {
      // Nothing is acked: every device resends after its ack timeout, and dedup makes that safe.
      this.m.refused.inc({ reason: 'store_failing' }, accepted.length);
      if (health) {
        health.fail(err);
        this.retryAppendAt = Date.now() + health.nextDelayMs();
      } else this.logger.error({ err, batches: accepted.length }, 'stream append failed; batches will be resent by devices');
      return undefined;
    }
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
