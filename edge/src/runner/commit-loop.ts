// The runner's group commit and sealing schedule (the agent owns one): a reading a source queued is durable
// within buffer.commit_interval_ms — committed to the buffer, or (persist: unacked, early-send.ts) sent before
// any write and acked by then, else written at that deadline — and waits at most batch.max_delay_ms before its
// batch is sealed for sending. Timers are armed only while something waits: an idle agent does not wake up.
// A commit or deadline timer first has the sources read what already arrived (Source.readNow): that wake-up
// is then also a read, so a source's read timer does not wake the process again moments later (issue 12).
import { guard, type RateLimitedLogger, type Tally } from '@tidemark/shared';
import type { BufferGuard } from '../buffer/buffer-guard.js';
import type { BatchEncoder, EdgeBuffer } from '../buffer/edge-buffer.js';
import type { EdgeConfig } from '../config.js';
import { earlySendLead } from './early-send.js';

export interface CommitLoopParts {
  buffer: EdgeBuffer;
  guard: BufferGuard;
  encode: BatchEncoder;
  /** The sender: its window, the ack round trip it measured, and its pump (after a seal). */
  sender: { readonly inflightCount: number; readonly ackRttMs: number | undefined; pump(): Promise<void> };
  linkUp: () => boolean;
  /** The running config (a reload replaces it). */
  config: () => EdgeConfig;
  /** Wall-clock ms, stamped on sealed batches. */
  now: () => number;
  errors: RateLimitedLogger;
  counters: { committed: Tally; sealed: Tally; sentUnwritten: Tally; writtenLate: Tally };
  /**
   * Has the sources hand over, synchronously, what already arrived (SourceSet.readNow): called when the commit
   * or deadline timer fires, before that tick. Never throws.
   */
  readSources?: () => void;
}

export class CommitLoop {
  /**
   * The group commit of what is queued: armed when the first reading is queued after a commit, for
   * buffer.commit_interval_ms (or the early-send lead), so a reading is durable at most that long after it
   * was read, and an agent with nothing queued does not wake up to commit nothing.
   */
  private commitTimer: NodeJS.Timeout | undefined;
  /** Between start() and stop(): timers may be armed. */
  private ticking = false;
  /** performance.now() when the oldest reading not yet sealed arrived (monotonic: clock steps do not move it). */
  private oldestPendingSince: number | undefined;
  /** Fires a tick when the oldest pending reading reaches batch.max_delay_ms, between regular commit ticks. */
  private deadlineTimer: NodeJS.Timeout | undefined;
  /** persist: unacked — the commit deadline of the oldest volatile batch not known to be acked. */
  private persistTimer: NodeJS.Timeout | undefined;
  private lastTickAt = performance.now();
  /** performance.now() when the oldest reading still queued (not yet committed) arrived. */
  private queuedSince: number | undefined;

  constructor(private readonly p: CommitLoopParts) {}

  start(): void {
    this.ticking = true;
    if (this.p.buffer.queuedCount > 0) this.armCommit();
  }

  /** Readings were just queued (buffer.append). */
  queued(): void {
    this.queuedSince ??= performance.now();
    this.armCommit();
    if (this.oldestPendingSince === undefined) {
      this.oldestPendingSince = performance.now();
      this.armDeadline();
    }
  }

  /** An ack arrived: when every batch sent before a write is acked, no write is due for them. */
  acked(): void {
    if (this.p.buffer.volatileBatches === 0) this.disarmPersist();
  }

  /** batch.max_delay_ms may have changed. */
  reconfigured(): void {
    this.armDeadline();
  }

  /** No more timers; commits and seals everything, and writes what was sent and not acked yet. */
  stop(): void {
    this.ticking = false;
    this.disarmCommit();
    if (this.deadlineTimer) clearTimeout(this.deadlineTimer);
    try {
      this.tick(true);
    } finally {
      this.disarmPersist();
      this.persistVolatile();
    }
  }

  /** Group commit inside the buffer's bounds; a full disk applies on_full instead of failing the agent. */
  private commit(now: number, sealAll = false): number {
    const { buffer, guard } = this.p;
    if (buffer.queuedCount === 0 || !guard.beforeCommit()) return 0;
    const run = () => buffer.commitAndSeal(this.p.config().batch.max_readings, this.p.encode, now, sealAll);
    let result;
    try {
      result = run();
    } catch (err) {
      if (!guard.onCommitError(err)) throw err;
      result = run();
    }
    if (result.committed > 0) this.p.counters.committed.inc(result.committed);
    return result.sealed.length;
  }

  /**
   * One commit tick: group commit (sealing every full batch on the way), then seal the incomplete rest once
   * its oldest reading has waited batch.max_delay_ms (or on shutdown). Runs buffer.commit_interval_ms after
   * the first reading queued since the last commit (the commit timer) and also exactly when that wait is up
   * (the deadline timer), so max_delay_ms bounds how long a reading waits to be sent, not max_delay_ms plus
   * up to one commit interval. A deadline tick commits the queue too, and the commit timer is then disarmed.
   * With persist: unacked and a link that can ack in time, the tick seals and sends the queue instead.
   */
  tick(force = false): void {
    const { buffer } = this.p;
    const now = this.p.now();
    const early = force ? 'no' : this.sendEarly(now);
    if (early === 'sent') return;
    const volatile = buffer.volatileBatches; // every write below also stores these, unacked so far
    const mono = performance.now();
    const { max_readings, max_delay_ms } = this.p.config().batch;
    // 1 ms of slack: a timer set for the deadline may fire a fraction of a millisecond before it. Committed
    // readings kept the queue from going the early way: seal them now, so that the next tick can.
    const due = force || early === 'after-pending' || (this.oldestPendingSince !== undefined && mono - this.oldestPendingSince >= max_delay_ms - 1);
    const queuedSince = this.queuedSince;
    // When due, the commit seals the rest in the same transaction: one fsync per tick (SD-card wear).
    let sealed = this.commit(now, due);
    if (buffer.queuedCount === 0) this.queuedSince = undefined;
    if (buffer.pendingReadings > 0 && due) {
      while (buffer.seal(max_readings, this.p.encode, now)) sealed++;
    }
    if (buffer.pendingReadings === 0 && buffer.queuedCount === 0) this.oldestPendingSince = undefined;
    // Full batches take the oldest readings first, and what was pending before this tick was less than a
    // batch (or it would have been sealed then): what is left was queued, so arrived at queuedSince or later
    // (ticks are sparse when readings are: the previous tick may be long before a burst).
    else if (sealed > 0 || this.oldestPendingSince === undefined) this.oldestPendingSince = queuedSince ?? this.lastTickAt;
    this.lastTickAt = mono;
    // This tick committed the queue (a deadline tick before the commit timer, too): nothing left to commit.
    // What it could not commit (a full buffer under `block`, a failed commit) is tried again an interval later.
    if (buffer.queuedCount === 0) this.disarmCommit();
    else this.armCommit();
    this.armDeadline();
    this.wroteVolatile(volatile);
    if (sealed > 0) {
      this.p.counters.sealed.inc(sealed);
      void this.p.sender.pump();
    }
  }

  /**
   * persist: unacked — seals the whole queue and sends it before any write, when the link can ack it before
   * its readings' commit deadline; the persist timer writes what is still unacked at that deadline. 'no': not
   * now, and 'after-pending': not before the committed readings pending are sealed (the usual path runs).
   */
  private sendEarly(now: number): 'sent' | 'no' | 'after-pending' {
    const queuedSince = this.queuedSince;
    const cfg = this.p.config();
    if (queuedSince === undefined || this.earlyLead() === undefined || this.p.sender.inflightCount >= cfg.uplink.max_inflight) return 'no';
    if (this.p.buffer.pendingReadings > 0) return 'after-pending'; // older readings go first, the usual way
    let sealed;
    try {
      sealed = this.p.buffer.sealVolatile(cfg.batch.max_readings, this.p.encode, now);
    } catch (err) {
      this.p.errors.error('early-send', { err: (err as Error).message }, 'seq reservation failed; committing as usual');
      return 'no';
    }
    if (sealed.length === 0) return 'no';
    this.queuedSince = undefined;
    this.oldestPendingSince = undefined; // nothing pending, nothing queued
    this.disarmCommit();
    this.armDeadline();
    // Armed once, for the oldest deadline: its write stores every volatile batch, younger ones too.
    this.armPersist(queuedSince + cfg.buffer.commit_interval_ms - performance.now());
    this.p.counters.sealed.inc(sealed.length);
    this.p.counters.sentUnwritten.inc(sealed.length);
    void this.p.sender.pump();
    return 'sent';
  }

  /** How long after the first queued reading the queue is sealed and sent (persist: unacked), or undefined. */
  private earlyLead(): number | undefined {
    const { buffer } = this.p.config();
    if (buffer.persist !== 'unacked' || !this.p.linkUp()) return undefined;
    return earlySendLead(buffer.commit_interval_ms, this.p.sender.ackRttMs);
  }

  private armPersist(waitMs: number): void {
    this.persistTimer ??= setTimeout(
      guard(this.p.errors.logger, 'persist deadline', () => {
        this.persistTimer = undefined;
        this.persistVolatile();
      }),
      Math.max(0, waitMs),
    );
  }

  /** A volatile batch's commit deadline came before its ack: write every one still unacked. */
  private persistVolatile(): void {
    const { buffer, guard } = this.p;
    const volatile = buffer.volatileBatches;
    if (volatile === 0) return;
    try {
      try {
        buffer.storeVolatile();
      } catch (err) {
        if (!guard.onCommitError(err)) throw err;
        buffer.storeVolatile();
      }
    } catch (err) {
      this.p.errors.error('persist', { err: (err as Error).message }, 'writing unacked batches failed; retried');
      if (this.ticking) this.armPersist(this.p.config().buffer.commit_interval_ms);
    }
    this.wroteVolatile(volatile);
  }

  /** Counts the volatile batches a write just stored (of `before`); none left: no persist deadline either. */
  private wroteVolatile(before: number): void {
    const left = this.p.buffer.volatileBatches;
    if (before > left) this.p.counters.writtenLate.inc(before - left);
    if (left === 0) this.disarmPersist();
  }

  private disarmPersist(): void {
    clearTimeout(this.persistTimer);
    this.persistTimer = undefined;
  }

  private armCommit(): void {
    if (this.commitTimer !== undefined || !this.ticking) return;
    this.commitTimer = setTimeout(() => this.safeTick('commit'), this.earlyLead() ?? this.p.config().buffer.commit_interval_ms);
  }

  private disarmCommit(): void {
    clearTimeout(this.commitTimer);
    this.commitTimer = undefined;
  }

  private armDeadline(): void {
    if (this.deadlineTimer) clearTimeout(this.deadlineTimer);
    this.deadlineTimer = undefined;
    if (this.oldestPendingSince === undefined || !this.ticking) return;
    const wait = Math.max(0, this.oldestPendingSince + this.p.config().batch.max_delay_ms - performance.now());
    this.deadlineTimer = setTimeout(() => this.safeTick('deadline'), wait);
  }

  /** A timer's tick: the sources read first (readSources), then tick(); a failure is logged and retried. */
  private safeTick(timer: 'commit' | 'deadline'): void {
    try {
      try {
        // While commitTimer is still set, so what this read queues arms no second commit timer (and with a
        // deadline tick, oldestPendingSince is set: it re-arms no deadline).
        this.p.readSources?.();
      } finally {
        if (timer === 'commit') this.commitTimer = undefined;
      }
      this.tick();
    } catch (err) {
      this.p.errors.error('tick', { err: (err as Error).message, queued: this.p.buffer.queuedCount }, 'buffer commit failed; readings kept in memory and retried');
      // Tried again an interval later, whatever failed (a seal may fail with nothing queued).
      this.armCommit();
    }
  }

}
