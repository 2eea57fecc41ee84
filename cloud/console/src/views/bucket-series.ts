// The chart's data in the shape uPlot draws fastest: one pass over the buckets fills typed columns (start ms,
// min, max, avg) with no nulls, plus the runs and indices that say which buckets are final, provisional or
// revised. The series then draw only their own runs and points (path builders below) instead of scanning
// 10,000-long arrays that are mostly null, and only min and max feed the y range (avg lies between them).
import uPlot from 'uplot';
import type { Bucket } from '../api.js';

/** [first, last] index, inclusive. */
export type Run = readonly [number, number];

export interface BucketColumns {
  n: number;
  xs: Float64Array;
  min: Float64Array;
  max: Float64Array;
  avg: Float64Array;
  /** 1 where the bucket is final: a solid avg line. */
  final: Uint8Array;
  /** 1 where the dashed provisional line has a point: a provisional bucket, or the final one just before it. */
  provisional: Uint8Array;
  /** 1 where a late reading revised the bucket (revision > 0, or revised while shown). */
  revised: Uint8Array;
  finalRuns: Run[];
  provisionalRuns: Run[];
  provisionalIdx: number[];
  revisedIdx: number[];
  provisionalCount: number;
  readings: number;
}

/** `starts[i]` is `buckets[i].start` in ms (parsed once, when the bucket arrived). */
export function toColumns(buckets: readonly Bucket[], starts: readonly number[], revisedLive: ReadonlySet<number>): BucketColumns {
  const n = buckets.length;
  const c: BucketColumns = {
    n,
    xs: new Float64Array(n),
    min: new Float64Array(n),
    max: new Float64Array(n),
    avg: new Float64Array(n),
    final: new Uint8Array(n),
    provisional: new Uint8Array(n),
    revised: new Uint8Array(n),
    finalRuns: [],
    provisionalRuns: [],
    provisionalIdx: [],
    revisedIdx: [],
    provisionalCount: 0,
    readings: 0,
  };
  let finFrom = -1;
  let provFrom = -1;
  for (let i = 0; i < n; i++) {
    const b = buckets[i]!;
    const t = starts[i]!;
    c.xs[i] = t;
    c.min[i] = b.min;
    c.max[i] = b.max;
    c.avg[i] = b.avg;
    c.readings += b.count;
    if (b.final) {
      c.final[i] = 1;
      if (finFrom < 0) finFrom = i;
    } else {
      c.provisionalCount++;
      if (finFrom >= 0) c.finalRuns.push([finFrom, i - 1]);
      finFrom = -1;
    }
    // The dashed line starts at the last final point so the two read as one line.
    const next = buckets[i + 1];
    if (!b.final || (next !== undefined && !next.final)) {
      c.provisional[i] = 1;
      c.provisionalIdx.push(i);
      if (provFrom < 0) provFrom = i;
    } else if (provFrom >= 0) {
      c.provisionalRuns.push([provFrom, i - 1]);
      provFrom = -1;
    }
    if (b.revision > 0 || revisedLive.has(t)) {
      c.revised[i] = 1;
      c.revisedIdx.push(i);
    }
  }
  if (finFrom >= 0) c.finalRuns.push([finFrom, n - 1]);
  if (provFrom >= 0) c.provisionalRuns.push([provFrom, n - 1]);
  return c;
}

const linear = uPlot.paths.linear!();

/** uPlot's own (pixel-decimating) line, drawn only over the given runs: a line breaks where a run ends. */
export function runsPath(runs: () => readonly Run[]): uPlot.Series.PathBuilder {
  return (u, seriesIdx, idx0, idx1) => {
    let out: uPlot.Series.Paths | null = null;
    for (const [a, b] of runs()) {
      const from = Math.max(a, idx0);
      const to = Math.min(b, idx1);
      if (to < from) continue;
      const p = linear(u, seriesIdx, from, to);
      if (!p?.stroke) continue;
      if (!out) out = { ...p, clip: null, band: null, gaps: [] };
      else (out.stroke as Path2D).addPath(p.stroke as Path2D);
    }
    return out;
  };
}

/**
 * The min–max band as one filled shape: per canvas pixel column the highest max and the lowest min, forward
 * along the top, back along the bottom. One pass over the visible buckets, whatever their number. The series
 * this is set on holds max; `minIdx` is the series holding min. Both scales are linear (time and value).
 */
export function bandPath(minIdx: number): uPlot.Series.PathBuilder {
  return (u, seriesIdx, idx0, idx1) => {
    const xs = u.data[0] as ArrayLike<number>;
    const hi = u.data[seriesIdx] as ArrayLike<number>;
    const lo = u.data[minIdx] as ArrayLike<number>;
    const sx = u.scales.x!;
    const sy = u.scales[u.series[seriesIdx]!.scale ?? 'y']!;
    const { left, top, width, height } = u.bbox;
    if (sx.min == null || sx.max == null || sy.min == null || sy.max == null || idx1 < idx0) return null;
    const kx = width / (sx.max - sx.min || 1);
    const ky = height / (sy.max - sy.min || 1);
    const x0 = sx.min;
    const yTop = sy.max;
    const cols: number[] = [];
    const tops: number[] = [];
    const bottoms: number[] = [];
    let col = Number.NaN;
    let k = -1;
    for (let i = idx0; i <= idx1; i++) {
      const x = Math.round(left + (xs[i]! - x0) * kx);
      const yHi = top + (yTop - hi[i]!) * ky;
      const yLo = top + (yTop - lo[i]!) * ky;
      if (x !== col) {
        col = x;
        k++;
        cols[k] = x;
        tops[k] = yHi;
        bottoms[k] = yLo;
      } else {
        if (yHi < tops[k]!) tops[k] = yHi;
        if (yLo > bottoms[k]!) bottoms[k] = yLo;
      }
    }
    const fill = new Path2D();
    fill.moveTo(cols[0]!, tops[0]!);
    for (let j = 1; j <= k; j++) fill.lineTo(cols[j]!, tops[j]!);
    for (let j = k; j >= 0; j--) fill.lineTo(cols[j]!, bottoms[j]!);
    fill.closePath();
    return { stroke: null, fill, clip: null, band: null, gaps: [], flags: 0 };
  };
}
