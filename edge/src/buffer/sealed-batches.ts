// Sealed batches stored on disk (the `batches` table): the exact bytes sent and resent until the collector
// acks the seq. Shares the buffer's SQLite connection; writes run inside the caller's transaction, so a seal
// (insert batch, delete its readings, move the seq floor) is never split by a crash.
import type Database from 'better-sqlite3';
import type { BatchEncoder, BufferedReading, SealedBatch } from './buffer-types.js';

interface BatchRow {
  seq: number;
  payload: Buffer;
  readings: number;
  synced: number;
  first_ts: number;
  last_ts: number;
  created_ms: number;
}

/** Encodes `readings` (non-empty, one clock state) as batch `seq`: its bytes and what the buffer keeps beside them. */
export function sealBatch(seq: number, readings: BufferedReading[], lowWater: number, encode: BatchEncoder, nowMs: number): SealedBatch {
  let firstTs = Infinity;
  let lastTs = -Infinity;
  for (const r of readings) {
    if (r.ts < firstTs) firstTs = r.ts;
    if (r.ts > lastTs) lastTs = r.ts;
  }
  const synced = readings[0]!.synced;
  return { seq, payload: encode(seq, readings, synced, lowWater), readings: readings.length, synced, firstTs, lastTs, createdMs: nowMs };
}

/**
 * Where `readings` is cut into batches: the end index of each run of one clock state and at most
 * `maxReadings` readings, in order (the last one is readings.length).
 */
export function clockRuns(readings: readonly BufferedReading[], maxReadings: number): number[] {
  const ends: number[] = [];
  let start = 0;
  while (start < readings.length) {
    const synced = readings[start]!.synced;
    let end = start;
    while (end < readings.length && end - start < maxReadings && readings[end]!.synced === synced) end++;
    ends.push(end);
    start = end;
  }
  return ends;
}

export class SealedBatches {
  // Private, so declaration emit never has to name better-sqlite3's Statement generics (TS4058).
  private readonly stmts;
  /**
   * No stored batch has a seq above this (deletes only lower the truth), so a read after it needs no query:
   * the sender asks after every seal, and with `persist: unacked` most batches are never stored.
   */
  private maxSeq: number;
  /**
   * sum(readings), kept until a write may change it: the agent asks every second, and each read query starts
   * a read transaction that dirties the WAL index (-shm) page — a disk write a second on an idle buffer.
   */
  private sum: number | undefined;
  /**
   * min(seq) (null: no batch stored), kept while nothing can have lowered it: every volatile seal asks (the
   * low water of its batch), and each query is a read transaction (two lock system calls). Unknown
   * (undefined) after a delete of the lowest, an insert that is not above it, or another module's write.
   * Stale only ever low (deletes and rolled-back inserts raise the truth): a low water below the truth is safe.
   */
  private min: number | null | undefined;

  constructor(db: Database.Database) {
    this.stmts = {
      insert: db.prepare('INSERT INTO batches(seq, payload, readings, synced, first_ts, last_ts, created_ms) VALUES (?, ?, ?, ?, ?, ?, ?)'),
      after: db.prepare<[number, number], BatchRow>(
        'SELECT seq, payload, readings, synced, first_ts, last_ts, created_ms FROM batches WHERE seq > ? ORDER BY seq LIMIT ?',
      ),
      delete: db.prepare('DELETE FROM batches WHERE seq = ?'),
      readingsOf: db.prepare<[number], number>('SELECT readings FROM batches WHERE seq = ?').pluck(),
      sumReadings: db.prepare<[], number | null>('SELECT sum(readings) FROM batches').pluck(),
      minSeq: db.prepare<[], number | null>('SELECT min(seq) FROM batches').pluck(),
      maxSeq: db.prepare<[], number | null>('SELECT max(seq) FROM batches').pluck(),
      stats: db.prepare<[], { n: number; readings: number | null; oldest: number | null; newest: number | null }>(
        'SELECT count(*) AS n, sum(readings) AS readings, min(first_ts) AS oldest, max(last_ts) AS newest FROM batches',
      ),
    };
    this.maxSeq = this.stmts.maxSeq.get() ?? 0;
  }

  /** Stores a batch (inside the caller's transaction). */
  insert(b: SealedBatch): void {
    this.stmts.insert.run(b.seq, Buffer.from(b.payload.buffer, b.payload.byteOffset, b.payload.byteLength), b.readings, b.synced ? 1 : 0, b.firstTs, b.lastTs, b.createdMs);
    if (b.seq > this.maxSeq) this.maxSeq = b.seq;
    this.sum = undefined;
    if (this.min === null || (this.min !== undefined && b.seq < this.min)) this.min = undefined;
  }

  /** Stored batches with seq > afterSeq, oldest first, at most `limit`. */
  after(afterSeq: number, limit: number): SealedBatch[] {
    if (afterSeq >= this.maxSeq || limit <= 0) return [];
    return this.stmts.after.all(afterSeq, limit).map((r) => ({
      seq: r.seq,
      payload: new Uint8Array(r.payload),
      readings: r.readings,
      synced: r.synced === 1,
      firstTs: r.first_ts,
      lastTs: r.last_ts,
      createdMs: r.created_ms,
    }));
  }

  delete(seq: number): void {
    this.stmts.delete.run(seq);
    this.sum = undefined;
    if (seq === this.min) this.min = undefined;
  }

  /** Another module (drops, clock correction) wrote batches on the same connection. */
  changed(): void {
    this.sum = undefined;
    this.min = undefined;
  }

  /** The readings of stored batch `seq`, or undefined when it is not stored. */
  readingsOf(seq: number): number | undefined {
    return this.stmts.readingsOf.get(seq);
  }

  sumReadings(): number {
    return (this.sum ??= this.stmts.sumReadings.get() ?? 0);
  }

  minSeq(): number | undefined {
    if (this.min === undefined) this.min = this.stmts.minSeq.get() ?? null;
    return this.min ?? undefined;
  }

  stats(): { n: number; readings: number | null; oldest: number | null; newest: number | null } {
    return this.stmts.stats.get()!;
  }
}
