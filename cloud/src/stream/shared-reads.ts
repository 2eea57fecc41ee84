// Stream reads shared by the consumers of one process (the aggregator and the alert evaluator): the newest
// records read from each stream stay in memory, so a consumer a little behind another gets the very same
// record objects without a second store read — and, since reading-policy.ts memoises a record's decoded
// columns on the record object, without a second decode. Invariant: the cache holds, for one contiguous
// offset range [from, to) per stream, every record of that range, in order; it is only ever extended by a
// store read that starts exactly at `to`. Correct because a stream record never changes once appended (a
// cached record is what the store would return for its offset) and trimming only removes records below every
// consumer's checkpoint. Records and their columns are shared: consumers must treat them as read-only.
import type { StreamRecord, StreamStore } from '../store/stream-store.js';

/**
 * Default memory budget, counted as payload bytes × 5: the payload, plus its decoded columns (16 bytes per
 * reading against 3–5 on the wire). Enough for a consumer a whole chunk behind another (500 records of
 * 1,000-reading batches ≈ 8 MB counted); the tail is kept up to it, so it is also what the cache costs.
 */
const DEFAULT_MAX_BYTES = 16 * 1024 * 1024;
const COST_PER_PAYLOAD_BYTE = 5;

class Tail {
  records: StreamRecord[] = [];
  /** The first record kept (index into `records`; the array is compacted now and then). */
  head = 0;
  /** Every record with an offset in [from, to) is in records[head…]. */
  from = 0;
  to = 0;
  bytes = 0;

  /** Index of the first kept record with offset ≥ `offset` (records are in offset order). */
  indexOf(offset: number): number {
    let lo = this.head;
    let hi = this.records.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.records[mid]!.offset < offset) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  reset(from: number): void {
    this.records = [];
    this.head = 0;
    this.bytes = 0;
    this.from = this.to = from;
  }

  append(records: readonly StreamRecord[]): void {
    for (const r of records) {
      this.records.push(r);
      this.bytes += r.payload.byteLength * COST_PER_PAYLOAD_BYTE;
    }
    if (records.length > 0) this.to = records[records.length - 1]!.offset + 1;
  }

  evict(maxBytes: number): void {
    while (this.bytes > maxBytes && this.head < this.records.length) {
      const r = this.records[this.head++]!;
      this.bytes -= r.payload.byteLength * COST_PER_PAYLOAD_BYTE;
      this.from = r.offset + 1;
    }
    if (this.head > 1024 && this.head * 2 > this.records.length) {
      this.records = this.records.slice(this.head);
      this.head = 0;
    }
  }
}

export class SharedReads {
  private readonly tails = new Map<StreamStore, Tail>();
  /** Records served from memory / read from a store (for tests and the benchmark). */
  hits = 0;
  misses = 0;

  constructor(private readonly maxBytes = DEFAULT_MAX_BYTES) {}

  /** stream.read(from, limit), served from the cached tail where it covers `from`. */
  async read(stream: StreamStore, from: number, limit: number): Promise<StreamRecord[]> {
    let tail = this.tails.get(stream);
    if (!tail) this.tails.set(stream, (tail = new Tail()));
    if (from < tail.from || from > tail.to || tail.to === tail.from) {
      // Outside the cached range. Behind it: a consumer catching up reads past the cache (the tail stays
      // where the leading consumer is). At or past its end, or nothing cached: this read starts a new tail.
      const records = await stream.read(from, limit);
      this.misses += records.length;
      if (from >= tail.to || tail.to === tail.from) {
        tail.reset(from);
        tail.append(records);
        tail.evict(this.maxBytes);
      }
      return records;
    }
    const i = tail.indexOf(from);
    const hit = tail.records.slice(i, Math.min(tail.records.length, i + limit));
    this.hits += hit.length;
    if (hit.length === limit) return hit;
    // The cache ends before `limit` records: extend it from its end (the one place records are added).
    const to = tail.to;
    const more = await stream.read(to, limit - hit.length);
    this.misses += more.length;
    if (tail.to === to) {
      tail.append(more);
      tail.evict(this.maxBytes);
    }
    return more.length === 0 ? hit : hit.concat(more);
  }
}
