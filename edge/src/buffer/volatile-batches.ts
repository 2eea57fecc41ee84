// Batches sealed straight from the commit queue, never written unless they must be: the runner sends them at
// once, and one the collector acks before its readings' commit deadline is forgotten without touching the disk
// (`buffer.persist: unacked`; SD-card wear — a reading the collector already stored needs no copy on the card).
// Invariants: a volatile batch's seq was reserved durably before the batch existed (seq-reservation.ts), so a
// crash never lets a seq be reused for other readings; its bytes are fixed when sealed, and if it is stored
// later (not acked in time, or a clean stop) the same bytes are stored; every volatile batch still here when
// the buffer next commits is stored by that commit (sqlite-buffer.ts), and the runner commits no later than
// the oldest one's deadline.
import type { SealedBatch } from './buffer-types.js';

export class VolatileBatches {
  /** Sealed order is seq order: a Map iterates in insertion order. */
  private readonly bySeq = new Map<number, SealedBatch>();
  private readingCount = 0;

  get size(): number {
    return this.bySeq.size;
  }

  /** Readings in volatile batches. */
  get readings(): number {
    return this.readingCount;
  }

  add(batch: SealedBatch): void {
    this.bySeq.set(batch.seq, batch);
    this.readingCount += batch.readings;
  }

  has(seq: number): boolean {
    return this.bySeq.has(seq);
  }

  /** Forgets `seq` (acked); returns its batch, or undefined when it is not volatile. */
  remove(seq: number): SealedBatch | undefined {
    const b = this.bySeq.get(seq);
    if (b === undefined) return undefined;
    this.bySeq.delete(seq);
    this.readingCount -= b.readings;
    return b;
  }

  /** Every volatile batch, oldest first, and none left (they are being stored). */
  takeAll(): SealedBatch[] {
    const all = [...this.bySeq.values()];
    this.bySeq.clear();
    this.readingCount = 0;
    return all;
  }

  /** Puts batches back after a failed store (oldest first, as takeAll gave them). */
  restore(batches: readonly SealedBatch[]): void {
    const newer = [...this.bySeq.values()];
    this.bySeq.clear();
    this.readingCount = 0;
    for (const b of batches) this.add(b);
    for (const b of newer) this.add(b);
  }

  /** Volatile batches with seq > afterSeq, oldest first, at most `limit`. */
  after(afterSeq: number, limit: number): SealedBatch[] {
    const out: SealedBatch[] = [];
    if (limit <= 0) return out;
    for (const b of this.bySeq.values()) {
      if (b.seq <= afterSeq) continue;
      out.push(b);
      if (out.length === limit) break;
    }
    return out;
  }

  minSeq(): number | undefined {
    for (const seq of this.bySeq.keys()) return seq;
    return undefined;
  }

  /** Smallest first and largest last event time inside, or nulls when empty. */
  span(): { oldest: number | null; newest: number | null } {
    let oldest: number | null = null;
    let newest: number | null = null;
    for (const b of this.bySeq.values()) {
      if (oldest === null || b.firstTs < oldest) oldest = b.firstTs;
      if (newest === null || b.lastTs > newest) newest = b.lastTs;
    }
    return { oldest, newest };
  }
}
