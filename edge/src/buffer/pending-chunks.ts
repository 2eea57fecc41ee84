// Committed readings not yet sealed, stored as chunks (chunk-codec.ts): one row per group commit and clock
// state, oldest first by id. Shares the buffer's SQLite connection; every method that writes must run inside
// the caller's transaction when it is part of a larger change (seal, drop), so a crash never splits it.
// Reading order is arrival order: chunk by chunk, and inside a chunk as appended.
import type Database from 'better-sqlite3';
import { decodeChunk, encodeChunk } from './chunk-codec.js';
import type { BufferedReading } from './buffer-types.js';

/** A chunk never holds more than this many readings (bounds the work of splitting one). */
export const MAX_CHUNK_READINGS = 10_000;

interface ChunkRow {
  id: number;
  readings: number;
  synced: number;
  data: Buffer;
}

export class PendingChunks {
  // Private, so declaration emit never has to name better-sqlite3's Statement generics (TS4058).
  private readonly stmts;

  constructor(db: Database.Database) {
    this.stmts = {
      insert: db.prepare('INSERT INTO chunks(readings, synced, first_ts, last_ts, data) VALUES (?, ?, ?, ?, ?)'),
      rewrite: db.prepare('UPDATE chunks SET readings = ?, synced = ?, first_ts = ?, last_ts = ?, data = ? WHERE id = ?'),
      deleteRange: db.prepare('DELETE FROM chunks WHERE id >= ? AND id <= ?'),
      deleteOne: db.prepare('DELETE FROM chunks WHERE id = ?'),
      all: db.prepare<[], ChunkRow>('SELECT id, readings, synced, data FROM chunks ORDER BY id'),
      oldest: db.prepare<[number], ChunkRow>('SELECT id, readings, synced, data FROM chunks ORDER BY id LIMIT ?'),
      count: db.prepare<[], { n: number | null }>('SELECT sum(readings) AS n FROM chunks'),
      span: db.prepare<[], { oldest: number | null; newest: number | null }>('SELECT min(first_ts) AS oldest, max(last_ts) AS newest FROM chunks'),
      expiredWhole: db.prepare('DELETE FROM chunks WHERE synced = 1 AND last_ts < ?'),
      expiredWholeCount: db.prepare<[number], { n: number | null }>('SELECT sum(readings) AS n FROM chunks WHERE synced = 1 AND last_ts < ?'),
      straddling: db.prepare<[number, number], ChunkRow>('SELECT id, readings, synced, data FROM chunks WHERE synced = 1 AND first_ts < ? AND last_ts >= ? ORDER BY id'),
      unsynced: db.prepare<[], ChunkRow>('SELECT id, readings, synced, data FROM chunks WHERE synced = 0 ORDER BY id'),
    };
  }

  /** Stores readings (in order) as chunks: one per run of one clock state, at most MAX_CHUNK_READINGS each. */
  insert(readings: readonly BufferedReading[]): void {
    let start = 0;
    while (start < readings.length) {
      const synced = readings[start]!.synced;
      let end = start + 1;
      while (end < readings.length && end - start < MAX_CHUNK_READINGS && readings[end]!.synced === synced) end++;
      this.write(undefined, start === 0 && end === readings.length ? readings : readings.slice(start, end));
      start = end;
    }
  }

  private write(id: number | undefined, readings: readonly BufferedReading[]): void {
    let first = Infinity;
    let last = -Infinity;
    for (let i = 0; i < readings.length; i++) {
      const ts = readings[i]!.ts;
      if (ts < first) first = ts;
      if (ts > last) last = ts;
    }
    const synced = readings[0]!.synced ? 1 : 0;
    const data = encodeChunk(readings);
    if (id === undefined) this.stmts.insert.run(readings.length, synced, first, last, data);
    else this.stmts.rewrite.run(readings.length, synced, first, last, data, id);
  }

  /** Every pending reading, oldest first, and the id range holding them (for deleteUpTo). */
  all(): { readings: BufferedReading[]; lastId: number | undefined } {
    const readings: BufferedReading[] = [];
    let lastId: number | undefined;
    for (const row of this.stmts.all.all()) {
      const decoded = decodeChunk(row.data, row.synced === 1);
      for (let i = 0; i < decoded.length; i++) readings.push(decoded[i]!);
      lastId = row.id;
    }
    return { readings, lastId };
  }

  /** Deletes every chunk with id <= lastId. */
  deleteUpTo(lastId: number): void {
    this.stmts.deleteRange.run(0, lastId);
  }

  /**
   * Removes and returns the oldest readings: at most `max`, and only of the oldest reading's clock state
   * when `oneClockState`. A chunk taken in part keeps the rest, in place (same id, so still oldest).
   */
  take(max: number, oneClockState: boolean): BufferedReading[] {
    const out: BufferedReading[] = [];
    let synced: number | undefined;
    // Chunks are small next to `max` in practice; read a few at a time.
    for (;;) {
      const rows = this.stmts.oldest.all(Math.max(1, Math.ceil((max - out.length) / 100)));
      if (rows.length === 0) return out;
      for (const row of rows) {
        if (synced === undefined) synced = row.synced;
        if (oneClockState && row.synced !== synced) return out;
        const readings = decodeChunk(row.data, row.synced === 1);
        const room = max - out.length;
        if (readings.length <= room) {
          for (let i = 0; i < readings.length; i++) out.push(readings[i]!);
          this.stmts.deleteOne.run(row.id);
        } else {
          for (let i = 0; i < room; i++) out.push(readings[i]!);
          this.write(row.id, readings.slice(room));
        }
        if (out.length >= max) return out;
      }
    }
  }

  /** Number of pending readings (from the stored counts). */
  count(): number {
    return this.stmts.count.get()!.n ?? 0;
  }

  /** Smallest and largest pending event time. */
  span(): { oldest: number | null; newest: number | null } {
    return this.stmts.span.get()!;
  }

  /** Deletes trusted readings with ts < cutoff (whole chunks where possible). Returns how many. */
  dropExpired(cutoff: number): number {
    let dropped = this.stmts.expiredWholeCount.get(cutoff)!.n ?? 0;
    this.stmts.expiredWhole.run(cutoff);
    for (const row of this.stmts.straddling.all(cutoff, cutoff)) {
      const readings = decodeChunk(row.data, true);
      const keep = readings.filter((r) => r.ts >= cutoff);
      dropped += readings.length - keep.length;
      if (keep.length === 0) this.stmts.deleteOne.run(row.id);
      else this.write(row.id, keep);
    }
    return dropped;
  }

  /** Moves every untrusted reading by `stepMs` and marks it trusted. Returns how many. */
  shiftUnsynced(stepMs: number): number {
    let n = 0;
    for (const row of this.stmts.unsynced.all()) {
      const readings = decodeChunk(row.data, true);
      for (const r of readings) r.ts += stepMs;
      this.write(row.id, readings);
      n += readings.length;
    }
    return n;
  }
}
