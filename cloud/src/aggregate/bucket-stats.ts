// Mergeable, numerically stable bucket statistics: Welford's update for one value, Chan et al.'s merge
// for two partial states. first/last are by event time with order-independent tie-breaks (smaller value
// first, larger value last), so the result does not depend on arrival order.

export interface BucketStats {
  count: number;
  sum: number;
  min: number;
  max: number;
  mean: number;
  /** Sum of squared deviations from the mean (population variance = m2 / count). */
  m2: number;
  firstTs: number;
  first: number;
  lastTs: number;
  last: number;
}

export function emptyStats(): BucketStats {
  return { count: 0, sum: 0, min: Infinity, max: -Infinity, mean: 0, m2: 0, firstTs: Infinity, first: 0, lastTs: -Infinity, last: 0 };
}

export function addValue(s: BucketStats, ts: number, value: number): void {
  s.count += 1;
  s.sum += value;
  if (value < s.min) s.min = value;
  if (value > s.max) s.max = value;
  const delta = value - s.mean;
  // |value - mean| can exceed float64 for finite inputs near ±MAX_VALUE; the plain update would then make
  // mean NaN (which the store cannot hold: the aggregator would retry that chunk forever). Weighted form
  // instead; m2 then saturates at +Infinity, which is what the true sum of squares is.
  s.mean = Number.isFinite(delta) ? s.mean + delta / s.count : s.mean - s.mean / s.count + value / s.count;
  s.m2 += delta * (value - s.mean);
  if (ts < s.firstTs || (ts === s.firstTs && value < s.first)) {
    s.firstTs = ts;
    s.first = value;
  }
  if (ts > s.lastTs || (ts === s.lastTs && value > s.last)) {
    s.lastTs = ts;
    s.last = value;
  }
}

export function mergeStats(a: BucketStats, b: BucketStats): BucketStats {
  if (a.count === 0) return { ...b };
  if (b.count === 0) return { ...a };
  const count = a.count + b.count;
  const delta = b.mean - a.mean;
  const out: BucketStats = {
    count,
    sum: a.sum + b.sum,
    min: Math.min(a.min, b.min),
    max: Math.max(a.max, b.max),
    // As in addValue: stay finite for finite inputs near ±MAX_VALUE (delta * b.count alone can overflow).
    mean: Number.isFinite(delta) ? a.mean + delta * (b.count / count) : a.mean * (a.count / count) + b.mean * (b.count / count),
    m2: a.m2 + b.m2 + (delta * delta * a.count * b.count) / count,
    firstTs: a.firstTs,
    first: a.first,
    lastTs: a.lastTs,
    last: a.last,
  };
  if (b.firstTs < out.firstTs || (b.firstTs === out.firstTs && b.first < out.first)) {
    out.firstTs = b.firstTs;
    out.first = b.first;
  }
  if (b.lastTs > out.lastTs || (b.lastTs === out.lastTs && b.last > out.last)) {
    out.lastTs = b.lastTs;
    out.last = b.last;
  }
  return out;
}

export function stddev(s: BucketStats): number {
  return s.count > 0 ? Math.sqrt(Math.max(0, s.m2 / s.count)) : 0;
}

/** UTC-aligned bucket start for a resolution (resolutions divide a day, and epoch days are UTC-aligned). */
export function bucketStart(ts: number, resolutionMs: number): number {
  return ts - (((ts % resolutionMs) + resolutionMs) % resolutionMs);
}
