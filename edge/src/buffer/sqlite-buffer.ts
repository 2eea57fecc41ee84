// The edge's durable buffer: readings are appended in memory and group-committed to SQLite (WAL,
// synchronous=FULL) by the runner's commit tick; committed readings survive kill -9 and power cuts.
// Readings are sealed into batches whose bytes are stored, so a batch's content is fixed from the moment
// it is first sent (the delivery contract). A batch is deleted only when the collector acks it.
// Disk writes are the SD card's wear: a commit stores one chunk per clock state (pending-chunks.ts), not a
// row per reading; bookkeeping that needs no durability of its own is not a write of its own: first-send
// marks stay in memory, and an acked batch is deleted inside the next group commit (hidden until then).
// With `persist: unacked` the runner may seal the queue without writing it (sealVolatile): those batches are
// stored only if the collector has not acked them by the next commit (volatile-batches.ts).
import type Database from 'better-sqlite3';
import { streamIdToHex } from '@tidemark/proto';
import { StorageError } from '@tidemark/shared';
import { BufferDrops } from './buffer-drops.js';
import { BufferMeta, openBufferDatabase } from './buffer-file.js';
import type { BatchEncoder, BufferedReading, BufferStats, SealedBatch, SqliteBufferOptions } from './buffer-types.js';
import { ClockCorrection, type BatchReencoder } from './clock-correction.js';
import { PendingChunks } from './pending-chunks.js';
import { clockRuns, sealBatch, SealedBatches } from './sealed-batches.js';
import { SeqCounter } from './seq-counter.js';
import { VolatileBatches } from './volatile-batches.js';

export { SEQ_BLOCK } from './seq-counter.js';

export type { BatchEncoder, BufferedReading, BufferStats, SealedBatch, SqliteBufferOptions } from './buffer-types.js';

export class SqliteBuffer {
  readonly path: string;
  readonly deviceId: string;
  readonly streamId: Uint8Array;
  private readonly db: Database.Database;
  private queue: BufferedReading[] = [];
  private pendingCount: number;
  private readonly seqs: SeqCounter;
  private readonly stmts;
  private readonly meta: BufferMeta;
  private readonly batches: SealedBatches;
  private readonly volatile = new VolatileBatches();
  private readonly drops: BufferDrops; // bounds and drops (buffer-guard.ts decides when), same connection
  private readonly clock: ClockCorrection;
  private readonly chunks: PendingChunks;
  /** Seqs first published in this run (their bytes are frozen); only this run's batches are ever rewritten. */
  private readonly sentThisRun = new Set<number>();
  /**
   * Acked seqs not yet deleted on disk: deleted inside the next transaction (usually the next group commit),
   * invisible to every read until then. Losing them to a crash only resends those batches, which the
   * collector acks again as duplicates.
   */
  private readonly acked = new Map<number, number>(); // seq -> readings

  private constructor(db: Database.Database, opts: SqliteBufferOptions) {
    this.db = db;
    this.path = opts.path;
    this.deviceId = opts.deviceId;
    this.chunks = new PendingChunks(db);
    this.batches = new SealedBatches(db);
    this.drops = new BufferDrops(db, this.chunks);
    this.clock = new ClockCorrection(db, this.chunks);
    this.meta = new BufferMeta(db);
    this.stmts = {
      syncNormal: db.prepare('PRAGMA synchronous = NORMAL'),
      syncFull: db.prepare('PRAGMA synchronous = FULL'),
    };
    this.streamId = this.meta.identity(opts.path, opts.deviceId);
    this.seqs = new SeqCounter(db, this.meta);
    this.pendingCount = this.chunks.count();
  }

  static open(opts: SqliteBufferOptions): SqliteBuffer {
    const db = openBufferDatabase(opts);
    try {
      return new SqliteBuffer(db, opts);
    } catch (err) {
      db.close();
      throw err;
    }
  }

  get streamIdHex(): string {
    return streamIdToHex(this.streamId);
  }

  /** Queues readings for the next commit. Not durable until commit() returns. */
  append(readings: readonly BufferedReading[]): void {
    for (const r of readings) this.queue.push(r);
  }

  get queuedCount(): number {
    return this.queue.length;
  }

  /** The seq the next sealed batch will get. */
  get nextSequence(): number {
    return this.seqs.next;
  }

  get pendingReadings(): number {
    return this.pendingCount;
  }

  /** Batches sealed without a write (sealVolatile) that the collector has not acked yet. */
  get volatileBatches(): number {
    return this.volatile.size;
  }

  /**
   * Group commit: writes every queued reading, and stores every volatile batch still unacked, in one
   * transaction. Returns how many queued readings were committed. Nothing to write: no transaction.
   */
  commit(): number {
    if (this.queue.length === 0 && this.volatile.size === 0) return 0;
    const rows = this.queue;
    this.queue = [];
    const volatile = this.volatile.takeAll();
    try {
      this.db.transaction(() => {
        this.deleteAcked();
        this.storeBatches(volatile);
        if (rows.length > 0) this.chunks.insert(rows);
      })();
    } catch (err) {
      // Put the readings back so nothing accepted is lost; the runner decides what to do (on_full policy).
      this.queue = rows.concat(this.queue);
      this.volatile.restore(volatile);
      throw new StorageError(`buffer commit failed: ${(err as Error).message}`, { cause: err });
    }
    this.acked.clear();
    this.pendingCount += rows.length;
    return rows.length;
  }

  /**
   * Group commit that seals batches on the way: pending readings and the queue, in order, are cut into
   * batches of `maxReadings` (never mixing clock states) that are encoded from memory and stored with their
   * seqs; only the incomplete tail stays pending — unless `sealAll`, when the tail is sealed too (the
   * runner's max_delay_ms is up). One transaction (volatile batches still unacked are stored by it too), so
   * every queued reading is durable — in a batch or pending — when this returns, and a tick costs one fsync
   * however much it seals. Returns the readings committed and the batches sealed.
   */
  commitAndSeal(maxReadings: number, encode: BatchEncoder, nowMs: number, sealAll = false): { committed: number; sealed: SealedBatch[] } {
    const queued = this.queue.length;
    if (queued === 0 && !(sealAll && this.pendingCount > 0)) return { committed: 0, sealed: [] };
    if (!sealAll && this.pendingCount + queued < maxReadings) return { committed: this.commit(), sealed: [] };
    const rows = this.queue;
    this.queue = [];
    const volatile = this.volatile.takeAll();
    const sealed: SealedBatch[] = [];
    let tail: BufferedReading[] = [];
    try {
      this.db.transaction(() => {
        this.deleteAcked();
        this.storeBatches(volatile);
        const loaded = this.pendingCount > 0 ? this.chunks.all() : { readings: [], lastId: undefined };
        const all = loaded.readings;
        for (const r of rows) all.push(r);
        if (loaded.lastId !== undefined) this.chunks.deleteUpTo(loaded.lastId);
        let seq = this.seqs.next;
        const lowWater = this.batches.minSeq() ?? seq;
        const runs = clockRuns(all, maxReadings);
        let start = 0;
        for (const end of runs) {
          if (!sealAll && end - start < maxReadings && end === all.length) break; // the incomplete tail
          sealed.push(this.storeBatch(seq++, all.slice(start, end), lowWater, encode, nowMs));
          start = end;
        }
        tail = all.slice(start);
        if (tail.length > 0) this.chunks.insert(tail);
        this.seqs.storing(seq);
      })();
    } catch (err) {
      this.queue = rows.concat(this.queue);
      this.volatile.restore(volatile);
      throw new StorageError(`buffer commit failed: ${(err as Error).message}`, { cause: err });
    }
    this.acked.clear();
    if (sealed.length > 0) this.seqs.stored(sealed[sealed.length - 1]!.seq + 1);
    this.pendingCount = tail.length;
    return { committed: queued, sealed };
  }

  /**
   * Seals the whole queue into batches of at most `maxReadings` (one clock state each) WITHOUT writing them:
   * they are volatile (volatile-batches.ts) until acked, or stored by the next commit. For the runner's
   * `persist: unacked` path, which sends them at once and commits by their readings' deadline. Only when no
   * committed reading is pending (those are older, and go first through the normal path): returns [] then.
   * Their seqs come from a durably reserved block; reserving one is the only write this may make.
   */
  sealVolatile(maxReadings: number, encode: BatchEncoder, nowMs: number): SealedBatch[] {
    if (this.queue.length === 0 || this.pendingCount > 0) return [];
    const rows = this.queue;
    const runs = clockRuns(rows, maxReadings);
    const first = this.seqs.reserve(runs.length);
    this.queue = [];
    // Every unacked batch, stored (a backlog) or volatile, is below the low water: the collector takes every seq
    // below it as done, and would treat a batch sent later below it as a duplicate.
    const lowWater = Math.min(this.volatile.minSeq() ?? first, this.batches.minSeq() ?? first, first);
    const sealed: SealedBatch[] = [];
    let start = 0;
    try {
      for (const end of runs) {
        const readings = rows.slice(start, end);
        const seq = first + sealed.length;
        const b = sealBatch(seq, readings, lowWater, encode, nowMs);
        this.volatile.add(b);
        sealed.push(b);
        start = end;
      }
    } catch (err) {
      this.queue = rows.slice(start).concat(this.queue); // not sealed: back in the queue (its reserved seqs stay unused)
      throw err;
    }
    return sealed;
  }

  /** Stores batches sealed in memory (inside the caller's transaction). */
  private storeBatches(volatile: readonly SealedBatch[]): void {
    for (const b of volatile) this.batches.insert(b);
  }

  /** Stores the volatile batches still unacked, now (their deadline came); returns how many. */
  storeVolatile(): number {
    if (this.volatile.size === 0) return 0;
    const volatile = this.volatile.takeAll();
    try {
      this.db.transaction(() => {
        this.deleteAcked();
        this.storeBatches(volatile);
      })();
    } catch (err) {
      this.volatile.restore(volatile);
      throw new StorageError(`buffer commit failed: ${(err as Error).message}`, { cause: err });
    }
    this.acked.clear();
    return volatile.length;
  }


  /** Encodes and inserts one batch (inside the caller's transaction). */
  private storeBatch(seq: number, readings: BufferedReading[], lowWater: number, encode: BatchEncoder, nowMs: number): SealedBatch {
    const b = sealBatch(seq, readings, lowWater, encode, nowMs);
    this.batches.insert(b);
    return b;
  }

  /**
   * Seals up to `maxReadings` of the oldest committed readings into one batch with the next seq, in one
   * transaction (insert batch, delete readings, bump next_seq). A batch holds readings of one clock state only.
   * Returns the sealed batch, or undefined when nothing is pending.
   */
  seal(maxReadings: number, encode: BatchEncoder, nowMs: number): SealedBatch | undefined {
    if (this.pendingCount === 0) return undefined;
    const seq = this.seqs.next;
    const volatile = this.volatile.takeAll();
    let batch: SealedBatch | undefined;
    try {
      batch = this.db.transaction(() => {
        this.deleteAcked();
        this.storeBatches(volatile);
        const readings = this.chunks.take(maxReadings, true);
        if (readings.length === 0) return undefined;
        const b = this.storeBatch(seq, readings, this.batches.minSeq() ?? seq, encode, nowMs);
        this.seqs.storing(seq + 1);
        return b;
      })();
    } catch (err) {
      this.volatile.restore(volatile);
      throw err;
    }
    this.acked.clear();
    if (batch === undefined) {
      this.pendingCount = 0;
      return undefined;
    }
    this.seqs.stored(seq + 1);
    this.pendingCount -= batch.readings;
    return batch;
  }

  /** Sealed, unacknowledged batches (stored or volatile) with seq > afterSeq, oldest first. */
  batchesAfter(afterSeq: number, limit: number): SealedBatch[] {
    let rows = this.batches.after(afterSeq, limit + this.acked.size);
    if (this.acked.size > 0) rows = rows.filter((r) => !this.acked.has(r.seq)).slice(0, limit);
    if (this.volatile.size === 0) return rows;
    const volatile = this.volatile.after(afterSeq, limit);
    if (volatile.length === 0) return rows;
    return rows.concat(volatile).sort((a, b) => a.seq - b.seq).slice(0, limit);
  }

  /**
   * Records the first publish of `seq`: its payload is frozen from now on. Idempotent. Kept in memory, not
   * written (a write per batch is SD-card wear): it only matters to clock correction, which rewrites batches
   * of this run only (an earlier run's batches count as sent).
   */
  markSent(seq: number, _nowMs: number): void {
    this.sentThisRun.add(seq);
  }

  /** Deletes the acked batches on disk; inside the caller's transaction. */
  private deleteAcked(): void {
    for (const seq of this.acked.keys()) this.batches.delete(seq);
  }

  /**
   * Deletes acked batches now, before an operation that reads or drops batches itself. A small write with
   * synchronous=NORMAL: crash-consistent (WAL), durable with the next FULL commit — its loss only resends.
   * Returns whether there was anything to delete.
   */
  flushAcked(): boolean {
    if (this.acked.size === 0) return false;
    this.stmts.syncNormal.run();
    try {
      this.db.transaction(() => this.deleteAcked())();
    } finally {
      this.stmts.syncFull.run();
    }
    this.acked.clear();
    return true;
  }

  /**
   * The wall clock became synchronised and stepped by `stepMs`: corrects this run's untrusted readings that
   * nobody has seen yet (clock-correction.ts). Returns the corrected reading count. Volatile batches were
   * sent when sealed: they keep their flagged times.
   */
  correctUnsynced(stepMs: number, firstSeq: number, reencode: BatchReencoder): number {
    this.flushAcked();
    this.batches.changed();
    return this.clock.correct(this.queue, stepMs, firstSeq, this.sentThisRun, reencode);
  }

  /** The collector acknowledged `seq`: the batch may now be forgotten. Idempotent. */
  remove(seq: number): boolean {
    this.sentThisRun.delete(seq);
    if (this.volatile.remove(seq)) return true; // never written: nothing to delete
    if (this.acked.has(seq)) return false;
    const readings = this.batches.readingsOf(seq);
    if (readings === undefined) return false;
    this.acked.set(seq, readings); // deleted with the next transaction (a write of its own per ack is SD-card wear)
    return true;
  }

  recordDrop(reason: string, readings: number): void {
    this.drops.record(reason, readings);
  }

  /** Bytes the database uses (pages in use, excluding free pages that deletes left for reuse). */
  usedBytes(): number {
    return this.drops.usedBytes();
  }

  /** Bytes of free pages inside the database file (reusable without growing it). */
  freeBytes(): number {
    return this.drops.freeBytes();
  }

  /** Deletes up to `maxBatches` of the oldest sealed batches, counting their readings under `reason`. */
  dropOldestBatches(maxBatches: number, reason: string): number {
    this.flushAcked(); // an acked batch is not dropped, and its readings are not counted as dropped
    this.batches.changed();
    return this.drops.dropOldestBatches(maxBatches, reason);
  }

  /** Deletes up to `max` of the oldest committed, unsealed readings, counting them under `reason`. */
  dropOldestPending(max: number, reason: string): number {
    this.flushAcked();
    const dropped = this.drops.dropOldestPending(max, reason);
    this.pendingCount -= dropped;
    return dropped;
  }

  /** Deletes readings with a trusted event time before `cutoffTs`, counting them under `reason`. */
  dropExpired(cutoffTs: number, reason: string): number {
    this.flushAcked();
    this.batches.changed();
    const { readings, pending } = this.drops.dropExpired(cutoffTs, reason);
    this.pendingCount -= pending;
    return readings;
  }

  /** Drops readings queued for the next commit (never committed), counting them under `reason`. */
  discardQueued(maxToKeep: number, reason: string, keep: 'oldest' | 'newest' = 'oldest'): number {
    const excess = this.queue.length - maxToKeep;
    if (excess <= 0) return 0;
    this.queue = keep === 'oldest' ? this.queue.slice(0, maxToKeep) : this.queue.slice(excess);
    try {
      this.recordDrop(reason, excess);
    } catch {
      // Disk full: the drop is still counted in metrics by the caller.
    }
    return excess;
  }

  /**
   * stats().bufferedReadings without its cost: one read, and no write (stats() first deletes acked batches,
   * a transaction of its own). For the agent's per-second backlog gauge.
   */
  bufferedReadings(): number {
    let acked = 0;
    for (const n of this.acked.values()) acked += n;
    return this.batches.sumReadings() - acked + this.volatile.readings + this.pendingCount;
  }

  stats(): BufferStats {
    this.flushAcked();
    const b = this.batches.stats();
    const p = this.chunks.span();
    const v = this.volatile.span();
    const oldest = [b.oldest, p.oldest, v.oldest].filter((x): x is number => x !== null);
    const newest = [b.newest, p.newest, v.newest].filter((x): x is number => x !== null);
    const sealedReadings = (b.readings ?? 0) + this.volatile.readings;
    return {
      deviceId: this.deviceId,
      streamId: this.streamIdHex,
      nextSeq: this.seqs.next,
      pendingReadings: this.pendingCount,
      sealedBatches: b.n + this.volatile.size,
      sealedReadings,
      bufferedReadings: sealedReadings + this.pendingCount,
      oldestTs: oldest.length ? Math.min(...oldest) : null,
      newestTs: newest.length ? Math.max(...newest) : null,
      fileBytes: this.drops.fileBytes(),
      drops: this.drops.counts(),
    };
  }

  /**
   * Stores what is still volatile and deletes what was acked, then closes. With nothing volatile left, a
   * reserved seq block is given back (meta.next_seq = the next unused seq), so a clean restart leaves no gap.
   */
  close(): void {
    if (!this.db.open) return;
    try {
      this.storeVolatile();
    } catch {
      // Those batches were sent; not stored, they are lost only if the collector never got them.
    }
    try {
      this.flushAcked();
      if (this.volatile.size === 0) this.seqs.release();
    } catch {
      // Acked batches stay and are resent after the restart (acked again as duplicates); the gap stays.
    }
    this.db.close();
  }
}
