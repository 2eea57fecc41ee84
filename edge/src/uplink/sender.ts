// Moves sealed batches from the buffer to the collector and frees them only on the collector's ack.
// Invariants: a batch is published with the bytes stored at seal time (resends are identical); at most
// `maxInflight` batches await an ack; a lost connection or an ack timeout makes every unacked batch
// eligible again (the collector de-duplicates, so resending is always safe).
// Live data first: batches sealed since the (re)connect go ahead of the backlog, so after an outage the
// backlog drains through the window's free slots while fresh readings still arrive within a batch delay.
import { decodeAck, topics, streamIdToHex } from '@tidemark/proto';
import { tally, type Logger, type MetricsRegistry, type Tally } from '@tidemark/shared';
import type { EdgeBuffer } from '../buffer/edge-buffer.js';
import type { Uplink } from './uplink.js';

/** Weight of the newest sample in the ack round-trip mean. */
const RTT_WEIGHT = 0.2;

export interface SenderOptions {
  maxInflight: number;
  ackTimeoutMs: number;
}

export class BatchSender {
  /** seq -> time sent (ms). */
  private readonly inflight = new Map<number, number>();
  /** seq -> readings, of batches published since the last reset (their ack is counted without a buffer read). */
  private readonly sentReadings = new Map<number, number>();
  /** Batches with seq >= liveStart were sealed since the last reset: they are sent before the backlog. */
  private liveStart = 1;
  /** Highest seq handed to the link per lane since the last reset; the next batch of a lane is above it. */
  private liveCursor = 0;
  private backlogCursor = 0;
  /** The backlog lane found nothing after backlogCursor: it cannot grow until a reset or a failed publish. */
  private backlogDrained = false;
  /** Bumped by reset(): a pump that awaited a publish across a reset must not continue the old window. */
  private epoch = 0;
  private pumping = false;
  /** Mean ack round trip (ms, exponentially weighted), undefined before the first ack of this run. */
  private rttMs: number | undefined;
  private readonly metrics;
  private readonly published: Tally;
  private readonly ackedOk: Tally;

  constructor(
    private readonly buffer: EdgeBuffer,
    private readonly uplink: Uplink,
    private readonly opts: SenderOptions,
    private readonly logger: Logger,
    metrics: MetricsRegistry,
    private readonly now: () => number = Date.now,
  ) {
    const sent = metrics.counter('batches_sent_total', 'Batch publishes, including resends', ['kind']);
    const acked = metrics.counter('batches_acked_total', 'Batches acknowledged by the collector, by status', ['status']);
    // Per batch (tens a second): tallies, not prom-client's inc() with its label hashing.
    this.published = tally(sent, { kind: 'publish' });
    this.ackedOk = tally(acked, { status: 'ok' });
    this.metrics = {
      sent,
      acked,
      ackedReadings: tally(metrics.counter('readings_acked_total', 'Readings in batches the collector acknowledged ok or duplicate')),
      rejectedReadings: metrics.counter('readings_dropped_total', 'Readings dropped by the edge, by reason', ['reason']),
      inflight: metrics.gauge('batches_inflight', 'Batches published and awaiting the collector ack'),
    };
  }

  get inflightCount(): number {
    return this.inflight.size;
  }

  /** How long the collector takes to ack a batch (publish to ack, a moving mean); undefined until known. */
  get ackRttMs(): number | undefined {
    return this.rttMs;
  }

  /** Forget what is in flight: after a reconnect everything unacked is sent again. */
  reset(): void {
    this.epoch++;
    this.inflight.clear();
    this.sentReadings.clear();
    this.backlogDrained = false;
    this.liveStart = this.buffer.nextSequence;
    this.liveCursor = this.liveStart - 1;
    this.backlogCursor = 0;
    this.metrics.inflight.set(0);
  }

  /**
   * Publishes as many eligible batches as the window allows. Safe to call often. Publishes are not awaited:
   * a PUBACK means nothing to delivery, and a publish lost with a dead link must never stall the pump —
   * the reconnect (reset) or the ack timeout makes the batch eligible again.
   */
  async pump(): Promise<void> {
    if (this.pumping) return;
    this.pumping = true;
    try {
      this.expireTimedOut();
      // Live lane first, then the backlog lane with whatever room is left. Every batch has a seq below
      // buffer.nextSequence, so a lane whose cursor is past it has nothing to read (no query per ack).
      while (this.uplink.connected && this.inflight.size < this.opts.maxInflight && this.liveCursor < this.buffer.nextSequence - 1) {
        const live = this.buffer.batchesAfter(this.liveCursor, this.opts.maxInflight - this.inflight.size);
        if (live.length === 0) break;
        for (const b of live) this.send(b.seq, b.payload, b.readings);
      }
      while (this.uplink.connected && this.inflight.size < this.opts.maxInflight && !this.backlogDrained && this.backlogCursor < this.liveStart - 1) {
        const backlog = this.buffer.batchesAfter(this.backlogCursor, this.opts.maxInflight - this.inflight.size).filter((b) => b.seq < this.liveStart);
        if (backlog.length === 0) {
          this.backlogDrained = true;
          break;
        }
        for (const b of backlog) this.send(b.seq, b.payload, b.readings);
      }
    } finally {
      this.pumping = false;
    }
  }

  private send(seq: number, payload: Uint8Array, readings: number): void {
    const epoch = this.epoch;
    const live = seq >= this.liveStart;
    if (live) this.liveCursor = seq;
    else this.backlogCursor = seq;
    this.inflight.set(seq, this.now());
    this.sentReadings.set(seq, readings);
    this.buffer.markSent(seq, this.now()); // from here on the batch's bytes are frozen
    this.metrics.inflight.set(this.inflight.size);
    this.uplink.publish(topics.batch(this.buffer.deviceId), payload).then(
      () => this.published.inc(),
      (err: Error) => {
        // A reset since then already made the batch eligible again in a new window.
        if (this.epoch !== epoch || !this.inflight.has(seq)) return;
        this.logger.debug({ seq, err: err.message }, 'publish failed; the batch goes again');
        this.inflight.delete(seq);
        if (live) this.liveCursor = Math.min(this.liveCursor, seq - 1);
        else {
          this.backlogCursor = Math.min(this.backlogCursor, seq - 1);
          this.backlogDrained = false;
        }
        this.metrics.inflight.set(this.inflight.size);
      },
    );
  }

  private expireTimedOut(): void {
    const now = this.now();
    let expired = false;
    for (const sentAt of this.inflight.values()) {
      if (now - sentAt >= this.opts.ackTimeoutMs) expired = true;
    }
    if (expired) {
      this.logger.warn({ inflight: this.inflight.size }, 'ack timeout: resending unacknowledged batches');
      this.metrics.sent.inc({ kind: 'timeout_reset' });
      this.reset();
    }
  }

  /** Handles an ack payload from the collector. Acks for another stream (an old buffer) are ignored. */
  handleAck(payload: Uint8Array): void {
    let ack;
    try {
      ack = decodeAck(payload);
    } catch (err) {
      this.logger.warn({ err: (err as Error).message }, 'undecodable ack ignored');
      return;
    }
    if (streamIdToHex(ack.streamId) !== this.buffer.streamIdHex) {
      this.logger.debug({ stream: streamIdToHex(ack.streamId) }, 'ack for another stream ignored');
      return;
    }
    for (const r of ack.results) {
      let readings = this.sentReadings.get(r.seq);
      if (readings === undefined) {
        // Sent before the last reset, or not by this run: ask the buffer.
        const batch = this.buffer.batchesAfter(r.seq - 1, 1)[0];
        readings = batch && batch.seq === r.seq ? batch.readings : 0;
      }
      this.sentReadings.delete(r.seq);
      // Counted once: not when the batch is already gone (acked before, or dropped by the buffer's bounds).
      if (!this.buffer.remove(r.seq)) readings = 0;
      if (r.status === 'rejected') {
        this.logger.error({ seq: r.seq, reason: r.reason, readings }, 'collector rejected a batch; it is dropped');
        if (readings > 0) {
          this.buffer.recordDrop(`rejected: ${r.reason ?? 'unspecified'}`, readings);
          this.metrics.rejectedReadings.inc({ reason: 'rejected' }, readings);
        }
      } else if (readings > 0) {
        this.metrics.ackedReadings.inc(readings);
      }
      const sentAt = this.inflight.get(r.seq);
      if (sentAt !== undefined) {
        const rtt = this.now() - sentAt;
        this.rttMs = this.rttMs === undefined ? rtt : this.rttMs + RTT_WEIGHT * (rtt - this.rttMs);
      }
      this.inflight.delete(r.seq);
      if (r.status === 'ok') this.ackedOk.inc();
      else this.metrics.acked.inc({ status: r.status });
    }
    this.metrics.inflight.set(this.inflight.size);
  }
}
