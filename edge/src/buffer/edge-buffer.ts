// The buffer family's contract: what the runner (agent, buffer guard, sender) needs from a durable edge
// buffer. SqliteBuffer is the implementation; tests inject wrappers or other implementations through it, and
// every implementation must pass buffer/edge-buffer.contract.ts. Invariants an implementation keeps: a reading
// is durable once commit() returned (or once the collector acked its volatile batch); seqs grow per stream and
// are never reused (a crash may skip some, never repeat one); a sealed batch's bytes
// never change (except correctUnsynced on batches never sent); the stream id is fixed for the buffer's life.
import type { BatchReencoder } from './clock-correction.js';
import type { BatchEncoder, BufferedReading, BufferStats, SealedBatch, SqliteBuffer } from './sqlite-buffer.js';

export type { BatchEncoder, BatchReencoder, BufferedReading, BufferStats, SealedBatch };

export interface EdgeBuffer {
  readonly deviceId: string;
  readonly streamId: Uint8Array;
  readonly streamIdHex: string;
  /** Readings appended but not yet committed (held in memory). */
  readonly queuedCount: number;
  /** Committed readings not yet sealed into a batch. */
  readonly pendingReadings: number;
  /** The seq the next sealed batch gets. */
  readonly nextSequence: number;

  /** Queues readings for the next commit (memory only). */
  append(readings: readonly BufferedReading[]): void;
  /** Commits the queue durably, and stores the volatile batches still unacked; returns how many queued readings it committed. */
  commit(): number;
  /** Commits the queue and seals every full batch of `maxReadings` in the same transaction. */
  /** sealAll: seal every pending reading too (the max_delay_ms deadline), in the same transaction. */
  commitAndSeal(maxReadings: number, encode: BatchEncoder, nowMs: number, sealAll?: boolean): { committed: number; sealed: SealedBatch[] };
  /**
   * Seals the whole queue into batches WITHOUT writing them (volatile: stored by the next commit unless acked
   * first); [] when committed readings are pending. Their seqs are reserved durably, so never reused.
   */
  sealVolatile(maxReadings: number, encode: BatchEncoder, nowMs: number): SealedBatch[];
  /** Stores the volatile batches still unacked now (their commit deadline came); returns how many. */
  storeVolatile(): number;
  /** Volatile batches not yet acked (nor stored). */
  readonly volatileBatches: number;
  /** Seals up to `maxReadings` of the oldest pending readings into the next batch (undefined: none pending). */
  seal(maxReadings: number, encode: BatchEncoder, nowMs: number): SealedBatch | undefined;
  /** Sealed batches with seq > afterSeq, oldest first, at most `limit`. */
  batchesAfter(afterSeq: number, limit: number): SealedBatch[];
  markSent(seq: number, nowMs: number): void;
  /** The collector stored the batch: delete it. False if it was not there. */
  remove(seq: number): boolean;
  /** Re-stamps unsynced readings of batches from `firstSeq` on that were never sent; returns how many. */
  correctUnsynced(stepMs: number, firstSeq: number, reencode: BatchReencoder): number;

  recordDrop(reason: string, readings: number): void;
  usedBytes(): number;
  /** Deletes batches acked since the last commit now; returns whether there were any. */
  flushAcked(): boolean;
  freeBytes(): number;
  dropOldestBatches(maxBatches: number, reason: string): number;
  dropOldestPending(max: number, reason: string): number;
  dropExpired(cutoffTs: number, reason: string): number;
  discardQueued(maxToKeep: number, reason: string, keep?: 'oldest' | 'newest'): number;

  stats(): BufferStats;
  /** stats().bufferedReadings (pending and sealed, acked batches excluded), cheap enough to ask every second. */
  bufferedReadings(): number;
  close(): void;
}

// SqliteBuffer satisfies the contract (checked at compile time, without touching its file).
const _sqliteIsAnEdgeBuffer = (b: SqliteBuffer): EdgeBuffer => b;
void _sqliteIsAnEdgeBuffer;
