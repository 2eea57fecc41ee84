// The buffer's seqs: the next one to hand out, and its durable floor (meta.next_seq) below which no seq is ever
// handed out again, even after a crash. A stored batch moves the floor inside the transaction that stores it.
// A volatile batch (sent before any write) needs the floor above it before it exists, so reserve() raises the
// floor a block at a time with a commit of its own: one small fsync per SEQ_BLOCK volatile batches, and a crash
// skips at most that many seqs (the collector's dedup folds the gap: the next batch's lowWaterSeq). A clean
// close with nothing volatile left gives the unused block back.
import type Database from 'better-sqlite3';
import { StorageError } from '@tidemark/shared';
import type { BufferMeta } from './buffer-file.js';

/** Seqs a volatile seal reserves at once. */
export const SEQ_BLOCK = 1024;

export class SeqCounter {
  private nextSeq: number;
  /** meta.next_seq: equal to nextSeq, or above it while volatile seals use a reserved block. */
  private floor: number;

  constructor(
    private readonly db: Database.Database,
    private readonly meta: BufferMeta,
  ) {
    this.nextSeq = meta.seqFloor();
    this.floor = this.nextSeq;
  }

  /** The seq the next batch gets. */
  get next(): number {
    return this.nextSeq;
  }

  /** Inside the transaction that stores batches below `next`: the floor follows, unless a reserved block covers it. */
  storing(next: number): void {
    if (next > this.floor) this.meta.setSeqFloor(next);
  }

  /** That transaction committed: seqs below `next` are used. */
  stored(next: number): void {
    this.nextSeq = Math.max(this.nextSeq, next);
    this.floor = Math.max(this.floor, this.nextSeq);
  }

  /** Hands out `n` seqs for volatile batches, first raising the durable floor above them when it is not yet. */
  reserve(n: number): number {
    const first = this.nextSeq;
    if (first + n > this.floor) {
      const floor = first + n + SEQ_BLOCK;
      try {
        this.db.transaction(() => this.meta.setSeqFloor(floor))();
      } catch (err) {
        throw new StorageError(`buffer seq reservation failed: ${(err as Error).message}`, { cause: err });
      }
      this.floor = floor;
    }
    this.nextSeq += n;
    return first;
  }

  /** A clean close with no volatile batch left: the floor back to the next unused seq (no gap on restart). */
  release(): void {
    if (this.floor > this.nextSeq) this.meta.setSeqFloor(this.nextSeq);
  }
}
