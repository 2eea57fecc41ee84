// Which stream readings count: the one rule the aggregator, the API's live-stream follower and the alert
// evaluator share, so none of them can disagree on what was aggregated. A batch whose device clock is not
// synced is kept in the stream but not trusted; a reading stamped further ahead of its batch's receipt than
// `maxFutureSkewMs` is not trusted either. Retention (per resolution) is a further, aggregator-only rule.
import { decodeBatchColumns, type Batch, type ColumnarBatch } from '@tidemark/proto';
import type { StreamRecord } from '../store/stream-store.js';

export type UntrustedReason = 'clock_unsynced' | 'future_timestamp';

/** Why a whole batch is not trusted, or undefined when its readings may count. */
export function batchDistrust(batch: Pick<Batch, 'clock'>): UntrustedReason | undefined {
  return batch.clock.synced ? undefined : 'clock_unsynced';
}

/** Whether one reading's event time is trusted, given when its batch was received. */
export function readingTrusted(ts: number, receivedMs: number, maxFutureSkewMs: number): boolean {
  return ts <= receivedMs + maxFutureSkewMs;
}

/**
 * readingTrusted over one series' columns: the trusted readings and the newest of their times, or undefined
 * when none is trusted. The columns themselves when all are (the usual case).
 */
export function trustedColumns(ts: Float64Array, values: Float64Array, receivedMs: number, maxFutureSkewMs: number): [Float64Array, Float64Array, number] | undefined {
  let newest = -Infinity;
  let kept = 0;
  for (let i = 0; i < ts.length; i++) {
    if (!readingTrusted(ts[i]!, receivedMs, maxFutureSkewMs)) continue;
    kept++;
    if (ts[i]! > newest) newest = ts[i]!;
  }
  if (kept === 0) return undefined;
  if (kept === ts.length) return [ts, values, newest];
  const t2 = new Float64Array(kept);
  const v2 = new Float64Array(kept);
  for (let i = 0, j = 0; i < ts.length; i++) {
    if (!readingTrusted(ts[i]!, receivedMs, maxFutureSkewMs)) continue;
    t2[j] = ts[i]!;
    v2[j++] = values[i]!;
  }
  return [t2, v2, newest];
}

/** A stream record and its decoded columns; `batch` undefined: the payload does not decode (counted as `undecodable` by its consumer). */
export interface DecodedColumns {
  record: StreamRecord;
  batch: ColumnarBatch | undefined;
}

/**
 * Decoded columns per record object. Consumers that share their reads (shared-reads.ts) hand each other the
 * same record objects, so a record is decoded once however many consumers walk it. The columns are shared:
 * read-only for every consumer.
 */
const decodedColumns = new WeakMap<StreamRecord, ColumnarBatch | null>();

/** A record's batch as columns (one ts/value pair per series), decoded without re-validating (ingest validated it). */
export function recordColumns(record: StreamRecord): ColumnarBatch | undefined {
  let batch = decodedColumns.get(record);
  if (batch === undefined) {
    try {
      batch = decodeBatchColumns(record.payload);
    } catch {
      batch = null;
    }
    decodedColumns.set(record, batch);
  }
  return batch ?? undefined;
}

/** recordColumns of each record: for consumers walking every reading (no object per reading). */
export function decodeRecordColumns(records: readonly StreamRecord[]): DecodedColumns[] {
  return records.map((record) => ({ record, batch: recordColumns(record) }));
}
