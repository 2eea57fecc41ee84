// Retention for a JetStream partition: only PREFIXES are purged (offsets stay dense above the first one), and
// never at or above `belowOffset` (not yet aggregated), above the dedup snapshot's S (the rebuild reads the
// messages after S), or past the last message (a purge up to a sequence beyond it would move the stream's
// last sequence, and with it every future offset).
import type { JetStreamManager } from 'nats';
import { H } from './record-headers.js';

export interface TrimRequest {
  beforeReceivedMs: number;
  belowOffset: number;
  maxBytes?: number;
}

/** Purges for max_bytes give up after this many steps (each step re-reads the stream's size). */
const BYTE_STEPS = 20;

/** Returns the number of records purged. `snapshotSeq` = S of the last written dedup snapshot. */
export async function trimStream(jsm: JetStreamManager, stream: string, req: TrimRequest, snapshotSeq: number): Promise<number> {
  let { state } = await jsm.streams.info(stream);
  const bound = Math.min(Math.floor(req.belowOffset), snapshotSeq + 1, state.last_seq + 1);
  let purged = 0;
  const purgeBelow = async (seq: number): Promise<void> => {
    if (seq <= state.first_seq) return;
    purged += (await jsm.streams.purge(stream, { seq })).purged;
    state = (await jsm.streams.info(stream)).state;
  };

  // By age: the records received before the cutoff form a prefix (one writer stamps receivedMs in order).
  if (bound > state.first_seq) await purgeBelow(await firstReceivedAtOrAfter(jsm, stream, state.first_seq, bound, req.beforeReceivedMs));

  // By size: the oldest records, in steps sized from the mean record size.
  if (req.maxBytes !== undefined) {
    for (let step = 0; step < BYTE_STEPS && state.bytes > req.maxBytes && state.messages > 0 && state.first_seq < bound; step++) {
      const mean = state.bytes / state.messages;
      const excess = Math.max(1, Math.ceil((state.bytes - req.maxBytes) / mean));
      await purgeBelow(Math.min(bound, state.first_seq + excess));
    }
  }
  return purged;
}

/** The first sequence in [lo, hi) whose record was received at or after `cutoffMs`, else hi (binary search). */
async function firstReceivedAtOrAfter(jsm: JetStreamManager, stream: string, lo: number, hi: number, cutoffMs: number): Promise<number> {
  const receivedAt = async (seq: number): Promise<number> => {
    const m = await jsm.streams.getMessage(stream, { seq });
    const v = Number(m.header?.get(H.received));
    // A record without a receive time is kept (treated as new).
    return Number.isFinite(v) && m.header?.get(H.received) !== '' ? v : Number.POSITIVE_INFINITY;
  };
  while (lo < hi) {
    const mid = lo + Math.floor((hi - lo) / 2);
    if ((await receivedAt(mid)) >= cutoffMs) hi = mid;
    else lo = mid + 1;
  }
  return lo;
}
