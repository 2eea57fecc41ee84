// Giving readings up, and measuring what the buffer holds: the operations buffer-guard.ts uses to keep the
// buffer inside its bounds. Shares the buffer's SQLite connection. Every reading deleted here is added to
// the drops table under its reason in the same transaction, so nothing leaves the buffer uncounted.
import type Database from 'better-sqlite3';
import type { PendingChunks } from './pending-chunks.js';

export class BufferDrops {
  // Private, so declaration emit never has to name better-sqlite3's Statement generics (TS4058).
  private readonly stmts;
  /** Fixed once the file exists; read once instead of on every commit's size check. */
  private readonly pageSize: number;

  constructor(
    private readonly db: Database.Database,
    private readonly chunks: PendingChunks,
  ) {
    this.stmts = {
      drops: db.prepare<[], { reason: string; readings: number }>('SELECT reason, readings FROM drops'),
      addDrop: db.prepare('INSERT INTO drops(reason, readings) VALUES (?, ?) ON CONFLICT(reason) DO UPDATE SET readings = readings + excluded.readings'),
      deleteBatch: db.prepare('DELETE FROM batches WHERE seq = ?'),
      // Prepared once: the guard asks for the size before every group commit (one statement, so one read
      // snapshot and one round of WAL locks, not two).
      usedPages: db.prepare<[], number>('SELECT p.page_count - f.freelist_count FROM pragma_page_count() AS p, pragma_freelist_count() AS f').pluck(),
      pageCount: db.prepare<[], number>('PRAGMA page_count').pluck(),
      freelistCount: db.prepare<[], number>('PRAGMA freelist_count').pluck(),
      oldestBatches: db.prepare<[number], { seq: number; readings: number }>('SELECT seq, readings FROM batches ORDER BY seq LIMIT ?'),
      expiredBatches: db.prepare<[number], { seq: number; readings: number }>('SELECT seq, readings FROM batches WHERE synced = 1 AND last_ts < ?'),
    };
    this.pageSize = db.pragma('page_size', { simple: true }) as number;
  }

  /** Counts `readings` given up under `reason`. */
  record(reason: string, readings: number): void {
    if (readings > 0) this.stmts.addDrop.run(reason, readings);
  }

  /** Readings given up so far, by reason. */
  counts(): Record<string, number> {
    const drops: Record<string, number> = {};
    for (const d of this.stmts.drops.all()) drops[d.reason] = d.readings;
    return drops;
  }

  /** Deletes up to `maxBatches` of the oldest sealed batches. Returns the readings they held. */
  dropOldestBatches(maxBatches: number, reason: string): number {
    return this.db.transaction(() => {
      let readings = 0;
      for (const b of this.stmts.oldestBatches.all(maxBatches)) {
        this.stmts.deleteBatch.run(b.seq);
        readings += b.readings;
      }
      this.record(reason, readings);
      return readings;
    })();
  }

  /** Deletes up to `max` of the oldest committed, unsealed readings. Returns how many were deleted. */
  dropOldestPending(max: number, reason: string): number {
    return this.db.transaction(() => {
      const n = this.chunks.take(max, false).length;
      this.record(reason, n);
      return n;
    })();
  }

  /**
   * Deletes readings with a trusted event time before `cutoffTs` (sealed batches by their newest reading).
   * Readings with an untrusted clock carry no meaningful age and are bounded by size only.
   * Returns all readings deleted and, of those, the unsealed ones.
   */
  dropExpired(cutoffTs: number, reason: string): { readings: number; pending: number } {
    return this.db.transaction(() => {
      let readings = 0;
      for (const b of this.stmts.expiredBatches.all(cutoffTs)) {
        this.stmts.deleteBatch.run(b.seq);
        readings += b.readings;
      }
      const pending = this.chunks.dropExpired(cutoffTs);
      readings += pending;
      this.record(reason, readings);
      return { readings, pending };
    })();
  }

  /** Bytes the database uses (pages in use, excluding free pages that deletes left for reuse). */
  usedBytes(): number {
    return this.stmts.usedPages.get()! * this.pageSize;
  }

  /** Bytes of free pages inside the database file (reusable without growing it). */
  freeBytes(): number {
    return this.stmts.freelistCount.get()! * this.pageSize;
  }

  /** Size of the database file, free pages included. */
  fileBytes(): number {
    return this.stmts.pageCount.get()! * this.pageSize;
  }
}
