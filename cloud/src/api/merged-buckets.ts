// `GET /api/v1/aggregates?tag=…`: the buckets of every device with the tags, merged per bucket start into one
// series (`device` "*"). Statistics merge exactly as partial aggregates do (mergeStats: counts and sums add,
// min/max/first/last by value and time, the variance by the parallel formula). A merged bucket is `final`
// only when every device's part of it is, and its `revision` is the sum of theirs, so it grows whenever a
// late reading changes any part.
//
// Paging: each device's query asks for `limit + 1` buckets after the cursor. The page is the first `limit`
// distinct starts of their union; no device can hold a bucket at or before the last of them that it did not
// return (a device that returned limit + 1 buckets has limit + 1 distinct starts of its own, so its last one
// lies beyond the page), so every merged bucket on the page is whole.
import type { BucketRecord } from '../aggregate/aggregate-store.js';
import { mergeStats } from '../aggregate/bucket-stats.js';
import { toBucketItem, type BucketItem } from './bucket-item.js';

export interface DeviceBuckets {
  /** One device's buckets after the cursor, oldest first, at most limit + 1 of them. */
  rows: readonly BucketRecord[];
  /** That device's watermark (undefined: none yet). */
  watermark: number | undefined;
}

export interface MergedPage {
  items: BucketItem[];
  /** The last start on the page when there is more, else undefined. */
  lastStart: number | undefined;
}

export function mergeDeviceBuckets(parts: readonly DeviceBuckets[], limit: number, resolutionMs: number, allowedLatenessMs: number): MergedPage {
  const byStart = new Map<number, { record: BucketRecord; final: boolean }>();
  for (const { rows, watermark } of parts) {
    for (const b of rows) {
      const final = toBucketItem(b, resolutionMs, watermark, allowedLatenessMs).final;
      const m = byStart.get(b.start);
      if (!m) byStart.set(b.start, { record: { ...b, device: '*', stats: { ...b.stats } }, final });
      else {
        m.record.stats = mergeStats(m.record.stats, b.stats);
        m.record.revision += b.revision;
        m.final = m.final && final;
      }
    }
  }
  const starts = [...byStart.keys()].sort((a, b) => a - b);
  const page = starts.slice(0, limit);
  const items = page.map((start) => {
    const m = byStart.get(start)!;
    // `final` is decided above per part; toBucketItem's watermark test is bypassed with ±Infinity.
    return toBucketItem(m.record, resolutionMs, m.final ? Infinity : -Infinity, allowedLatenessMs);
  });
  return { items, lastStart: starts.length > limit ? page[page.length - 1] : undefined };
}
