// The stream store contract: the durable, replayable log of accepted batches. Dedup and append are ONE
// atomic step (a duplicate is never stored twice, dedup never forgets). Offsets are dense, ascending
// integers starting at 1. Every backend (SQLite now, NATS JetStream at scale) passes the same contract suite.
import type { Component } from '@tidemark/shared';

export interface AppendItem {
  deviceId: string;
  streamId: Uint8Array;
  seq: number;
  receivedMs: number;
  readings: number;
  /** The batch's low-water mark: seqs below it will never be sent (dedup may fold them). */
  lowWaterSeq?: number;
  /** The batch bytes exactly as received (validated). */
  payload: Uint8Array;
}

export type AppendOutcome = 'ok' | 'duplicate';

export interface StreamRecord {
  offset: number;
  deviceId: string;
  streamId: Uint8Array;
  seq: number;
  receivedMs: number;
  payload: Uint8Array;
}

export interface DeadLetter {
  deviceId: string | null;
  reason: string;
  receivedMs: number;
  payload: Uint8Array;
}

/** The write side of the stream store, all that ingest needs (a partitioned store routes it by device). */
export interface StreamAppender extends Component {
  /**
   * Dedup + append: each item is stored with its dedup record atomically (SQLite: the whole call in one
   * transaction); resolved only once durable. Outcomes in item order.
   */
  append(items: readonly AppendItem[]): Promise<AppendOutcome[]>;
  /** Keeps a refused payload with its reason (bounded retention). */
  deadLetter(entry: DeadLetter): Promise<void>;
  /** The largest payload append() accepts, when the backend has a limit (a NATS message); known once started. */
  readonly maxPayloadBytes?: number | undefined;
}

/** One partition of the stream: a log with dense offsets. */
export interface StreamStore extends StreamAppender {
  /** Records with offset >= fromOffset, ascending, at most `limit`. */
  read(fromOffset: number, limit: number): Promise<StreamRecord[]>;
  /** The offset the next appended record will get. */
  endOffset(): Promise<number>;
  /**
   * Retention: deletes records received before `beforeReceivedMs`, and then the oldest records while the
   * store is larger than `maxBytes` — but never a record at or above `belowOffset` (what the aggregator has
   * not consumed yet). Offsets are never reused. Returns the number of records deleted.
   */
  trim(opts: { beforeReceivedMs: number; belowOffset: number; maxBytes?: number }): Promise<number>;
}
