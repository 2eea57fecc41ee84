// The JSON shape of one bucket, shared by /api/v1/aggregates items and /api/v1/stream events so that a
// streamed bucket and a queried one are the same object, key for key.
import type { BucketRecord } from '../aggregate/aggregate-store.js';
import { stddev } from '../aggregate/bucket-stats.js';

export interface BucketItem {
  device: string;
  sensor: string;
  resolution: string;
  start: string;
  count: number;
  sum: number;
  min: number;
  max: number;
  avg: number;
  stddev: number;
  first: number;
  last: number;
  final: boolean;
  revision: number;
}

/**
 * `final` is judged against the device's watermark as it stands now (undefined = none yet):
 * watermark >= start + resolution + allowed_lateness.
 */
export function toBucketItem(b: BucketRecord, resolutionMs: number, watermark: number | undefined, allowedLatenessMs: number): BucketItem {
  return {
    device: b.device,
    sensor: b.sensor,
    resolution: b.resolution,
    start: new Date(b.start).toISOString(),
    count: b.stats.count,
    sum: b.stats.sum,
    min: b.stats.min,
    max: b.stats.max,
    avg: b.stats.mean,
    stddev: stddev(b.stats),
    first: b.stats.first,
    last: b.stats.last,
    final: (watermark ?? -Infinity) >= b.start + resolutionMs + allowedLatenessMs,
    revision: b.revision,
  };
}
