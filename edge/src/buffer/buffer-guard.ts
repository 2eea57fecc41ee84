// Keeps the buffer inside its bounds (buffer.max_bytes, buffer.max_age) and applies the on_full policy,
// also when the disk itself is full (SQLITE_FULL). Every reading given up is counted with its reason, in
// the buffer's drops table (shown by `buffer stats`) and in tidemark_edge_readings_dropped_total.
//   drop_oldest: delete the oldest batches (then the oldest unsealed readings) to make room;
//   drop_newest: refuse new readings while full;
//   block:       hold new readings in memory (up to a cap) until there is room, committing nothing.
import type { Logger, MetricsRegistry } from '@tidemark/shared';
import type { EdgeBuffer } from './edge-buffer.js';

export type OnFull = 'drop_oldest' | 'drop_newest' | 'block';

export interface BufferLimits {
  maxBytes: number;
  maxAgeMs: number;
  onFull: OnFull;
  /** With `block`: readings held in memory at most; beyond that they are dropped as blocked_overflow. */
  maxBlockedReadings?: number;
}

/** Batches dropped per step while freeing room; small steps keep the drop close to the minimum needed. */
const DROP_STEP_BATCHES = 4;
const DROP_STEP_READINGS = 1000;
const MAX_DROP_STEPS = 10_000;

export class BufferGuard {
  private readonly dropped;
  private readonly fullGauge;
  private full = false;

  constructor(
    private readonly buffer: EdgeBuffer,
    private readonly limits: BufferLimits,
    private readonly logger: Logger,
    metrics: MetricsRegistry,
  ) {
    this.dropped = metrics.counter('readings_dropped_total', 'Readings dropped by the edge, by reason', ['reason']);
    this.fullGauge = metrics.gauge('buffer_full', '1 while the buffer is at buffer.max_bytes (or the disk is full)');
  }

  get isFull(): boolean {
    return this.full;
  }

  private count(reason: string, n: number): void {
    if (n > 0) this.dropped.inc({ reason }, n);
  }

  private setFull(full: boolean): void {
    if (full !== this.full) {
      this.full = full;
      this.fullGauge.set(full ? 1 : 0);
      if (full) this.logger.warn({ max_bytes: this.limits.maxBytes, policy: this.limits.onFull }, 'buffer full: applying on_full policy');
      else this.logger.info('buffer has room again');
    }
  }

  /**
   * Called before each group commit. Returns false when nothing may be committed now (`block` while full).
   */
  beforeCommit(): boolean {
    let full = this.buffer.usedBytes() >= this.limits.maxBytes;
    // Acked batches leave the file with the next commit; when they decide whether it may happen, now.
    if (full && this.buffer.flushAcked()) full = this.buffer.usedBytes() >= this.limits.maxBytes;
    this.setFull(full);
    if (!full) return true;
    switch (this.limits.onFull) {
      case 'drop_oldest':
        this.makeRoom();
        return true;
      case 'drop_newest':
        this.count('buffer_full', this.buffer.discardQueued(0, 'buffer_full'));
        return false;
      case 'block':
        this.count('blocked_overflow', this.buffer.discardQueued(this.limits.maxBlockedReadings ?? 200_000, 'blocked_overflow'));
        return false;
    }
  }

  /** Frees room by deleting the oldest data until under max_bytes (drop_oldest). */
  makeRoom(): void {
    for (let step = 0; step < MAX_DROP_STEPS && this.buffer.usedBytes() >= this.limits.maxBytes; step++) {
      let n = this.buffer.dropOldestBatches(DROP_STEP_BATCHES, 'buffer_full');
      if (n === 0) n = this.buffer.dropOldestPending(DROP_STEP_READINGS, 'buffer_full');
      if (n === 0) break; // nothing left to drop: max_bytes is below the empty database's size
      this.count('buffer_full', n);
    }
  }

  /** Drops readings older than max_age (trusted clock only). */
  expire(nowMs: number): void {
    this.count('max_age', this.buffer.dropExpired(nowMs - this.limits.maxAgeMs, 'max_age'));
  }

  /**
   * A commit failed. When the disk is full, apply the policy so the agent keeps running: drop_oldest frees
   * pages inside the database file (SQLite reuses them), drop_newest discards the readings, block holds them.
   * Returns true when a retry makes sense.
   */
  onCommitError(err: unknown): boolean {
    const code = (err as { cause?: { code?: string } }).cause?.code;
    if (code !== 'SQLITE_FULL') return false;
    this.setFull(true);
    try {
      return this.applyOnDiskFull();
    } catch (inner) {
      // Even deleting needs a little room; keep the readings in memory and try again next tick.
      this.logger.error({ err: (inner as Error).message }, 'disk full and no room to drop either');
      return false;
    }
  }

  private applyOnDiskFull(): boolean {
    switch (this.limits.onFull) {
      case 'drop_oldest': {
        // Free roughly what the waiting readings need (a row costs ~20 bytes before sealing; pages are 4 KiB).
        const need = this.buffer.queuedCount * 24 + 4 * 4096;
        const before = this.buffer.freeBytes();
        let total = 0;
        for (let step = 0; step < MAX_DROP_STEPS && this.buffer.freeBytes() - before < need; step++) {
          const n = this.buffer.dropOldestBatches(DROP_STEP_BATCHES, 'disk_full') || this.buffer.dropOldestPending(DROP_STEP_READINGS, 'disk_full');
          if (n === 0) break;
          total += n;
        }
        this.count('disk_full', total);
        return total > 0;
      }
      case 'drop_newest':
        this.count('disk_full', this.buffer.discardQueued(0, 'disk_full'));
        return false;
      case 'block':
        this.count('blocked_overflow', this.buffer.discardQueued(this.limits.maxBlockedReadings ?? 200_000, 'blocked_overflow'));
        return false;
    }
  }
}
