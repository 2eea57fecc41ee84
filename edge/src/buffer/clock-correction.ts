// Correcting readings stamped by an unsynchronised wall clock once it syncs and steps. Shares the buffer's
// SQLite connection. Only content nobody has seen is rewritten: queued and pending readings, and sealed
// batches never sent; a sent batch's bytes are fixed (the delivery contract), so it keeps its flagged times.
// Which batches were sent is known from memory (the buffer's first-send marks of this run): only batches of
// this run are ever rewritten, so no earlier run's record is needed.
import type Database from 'better-sqlite3';
import type { PendingChunks } from './pending-chunks.js';
import type { BufferedReading } from './buffer-types.js';

/** Re-encodes a sealed batch's payload with every reading shifted by `stepMs` and marked synced. */
export type BatchReencoder = (payload: Uint8Array, stepMs: number) => { payload: Uint8Array; firstTs: number; lastTs: number; readings: number };

export class ClockCorrection {
  // Private, so declaration emit never has to name better-sqlite3's Statement generics (TS4058).
  private readonly stmts;

  constructor(
    private readonly db: Database.Database,
    private readonly chunks: PendingChunks,
  ) {
    this.stmts = {
      unsentUnsynced: db.prepare<[number], { seq: number; payload: Buffer }>(
        'SELECT seq, payload FROM batches WHERE synced = 0 AND sent_ms IS NULL AND seq >= ? ORDER BY seq',
      ),
      rewriteBatch: db.prepare('UPDATE batches SET payload = ?, synced = 1, first_ts = ?, last_ts = ? WHERE seq = ? AND sent_ms IS NULL'),
    };
  }

  /**
   * Shifts the unsynced readings of `queue` in place, then the pending rows and the unsent unsynced batches
   * from `firstSeq` on (re-encoded: their content was never seen by anyone, so their identity is intact), in
   * one transaction. Batches already sent keep their flagged times. Returns the corrected reading count.
   * Pending readings are all taken to be from this run: the agent seals earlier runs' leftovers at start.
   */
  correct(queue: BufferedReading[], stepMs: number, firstSeq: number, sent: ReadonlySet<number>, reencode: BatchReencoder): number {
    let corrected = 0;
    for (const r of queue) {
      if (!r.synced) {
        r.ts += stepMs;
        r.synced = true;
        corrected++;
      }
    }
    this.db.transaction(() => {
      corrected += this.chunks.shiftUnsynced(stepMs);
      for (const b of this.stmts.unsentUnsynced.all(firstSeq)) {
        if (sent.has(b.seq)) continue;
        const fixed = reencode(new Uint8Array(b.payload), stepMs);
        this.stmts.rewriteBatch.run(Buffer.from(fixed.payload), fixed.firstTs, fixed.lastTs, b.seq);
        corrected += fixed.readings;
      }
    })();
    return corrected;
  }
}
