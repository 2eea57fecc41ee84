// Which stream readings count: the one rule the aggregator, the API's live-stream follower and the alert
// evaluator share, so none of them can disagree on what was aggregated. A batch whose device clock is not
// synced is kept in the stream but not trusted; a reading stamped further ahead of its batch's receipt than
// `maxFutureSkewMs` is not trusted either. Retention (per resolution) is a further, aggregator-only rule.
import { decodeBatch, decodeBatchColumns, type Batch, type ColumnarBatch } from '@tidemark/proto';
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

/** A stream record and its decoded batch; `batch` undefined: the payload does not decode (counted as `undecodable` by its consumer). */
export interface Decoded<B> {
  record: StreamRecord;
  batch: B | undefined;
}
export type DecodedRecord = Decoded<Batch>;
export type DecodedColumns = Decoded<ColumnarBatch>;

function decodeEach<B>(records: readonly StreamRecord[], decode: (payload: Uint8Array) => B): Decoded<B>[] {
  return records.map((record) => {
    try {
      return { record, batch: decode(record.payload) };
    } catch {
      return { record, batch: undefined };
    }
  });
}

/** Decodes stream records without re-validating (ingest validated them before they were stored). */
export function decodeRecords(records: readonly StreamRecord[]): DecodedRecord[] {
  return decodeEach(records, (payload) => decodeBatch(payload, { validate: false }));
}

/** decodeRecords to columns (one ts/value pair per series, no object per reading): for consumers walking every reading. */
export function decodeRecordColumns(records: readonly StreamRecord[]): DecodedColumns[] {
  return decodeEach(records, decodeBatchColumns);
}
