// tidemark.v1.Batch bytes straight to Float64Array columns for the alert evaluator, with no Long, boxed
// value or per-series message object in between. It takes only the ordinary shape (packed columns, 64-bit
// values within ±(2^53 - 1), columns that line up) and answers undefined for anything else, so that the
// reference decoder in batch-codec.ts runs and owns every error. Invariant: whenever this returns a batch, it
// equals what the reference gives for the same bytes (proto3 rules included: unknown fields skipped, the last
// scalar wins, packed occurrences concatenate, a repeated clock merges).
import protobuf from 'protobufjs/minimal.js';
import type { ColumnarBatch, SeriesColumns } from './batch-codec.js';
import { pow10 } from './decimal-scaling.js';
import { int64ToNumber } from './int64.js';

type Reader = protobuf.Reader;

const MAX_SAFE = Number.MAX_SAFE_INTEGER;
/** Packed doubles are copied byte for byte into a Float64Array, which reads them in platform order. */
const LITTLE_ENDIAN = new Uint8Array(new Float64Array([1]).buffer)[7] === 0x3f;

// Field numbers of telemetry.proto that are read here.
const F_TIMESTAMPS = 2;
const F_VALUES = 3;
const F_SCALED = 5;

interface Clock {
  synced: boolean;
  anchorWallMs: number;
  anchorMonoMs: number;
}

/** The batch as columns, or undefined when the bytes need the reference decoder (unusual or malformed). */
export function decodeColumnsFast(bytes: Uint8Array): ColumnarBatch | undefined {
  if (!LITTLE_ENDIAN || !(bytes instanceof Uint8Array)) return undefined;
  try {
    return walkBatch(protobuf.Reader.create(bytes));
  } catch {
    // A truncated or malformed field the Reader refused: the reference decoder reports it.
    return undefined;
  }
}

// Reader calls below mirror the generated Batch/ClockState/Series.decode (same reads, same depth for
// skipType), so a field they accept or refuse is accepted or refused here too.
function walkBatch(r: Reader): ColumnarBatch | undefined {
  let deviceId = '';
  let streamId: Uint8Array | undefined;
  let seq = 0;
  const clock: Clock = { synced: false, anchorWallMs: 0, anchorMonoMs: 0 };
  const sensors: string[] = [];
  const counts: number[] = [];
  let readingCount = 0;
  while (r.pos < r.len) {
    const tag = r.tag();
    const field = tag >>> 3;
    const wireType = tag & 7;
    if (field === 5 && wireType === 2) {
      const n = walkSeries(r, readingCount, sensors);
      if (n < 0) return undefined;
      counts.push(n);
      readingCount += n;
    } else if (field === 1 && wireType === 2) deviceId = r.stringVerify();
    else if (field === 2 && wireType === 2) streamId = r.bytes();
    else if (field === 3 && wireType === 0) seq = int64ToNumber(r.uint64());
    else if (field === 4 && wireType === 2) {
      if (!walkClock(r, clock)) return undefined;
    } else if (field === 6 && wireType === 0) r.uint64(); // low_water_seq: not part of a ColumnarBatch
    else r.skipType(wireType, 0, field);
  }
  // NaN: a 64-bit value beyond the safe range, which the reference turns into a ValidationError.
  if (Number.isNaN(seq) || Number.isNaN(clock.anchorWallMs) || Number.isNaN(clock.anchorMonoMs)) return undefined;
  return {
    deviceId,
    streamId: Uint8Array.from(streamId ?? []), // a copy: the Reader's bytes are a view into the input
    seq,
    clock: { synced: clock.synced, anchorWallMs: clock.anchorWallMs, anchorMonoMs: clock.anchorMonoMs },
    series: columns(sensors, counts, readingCount),
    readingCount,
  };
}

/**
 * The scratch columns cut into the batch's columns: one ArrayBuffer for the whole batch (all timestamps, then
 * all values), since allocating an ArrayBuffer costs far more than filling it.
 */
function columns(sensors: readonly string[], counts: readonly number[], total: number): SeriesColumns[] {
  const block = new ArrayBuffer(total * 16);
  new Float64Array(block, 0, total).set(scratchTs.subarray(0, total));
  new Float64Array(block, total * 8, total).set(scratchValues.subarray(0, total));
  if (scratchTs.length > SCRATCH_KEEP) resetScratch();
  const out = new Array<SeriesColumns>(counts.length);
  let at = 0;
  for (let s = 0; s < counts.length; s++) {
    const n = counts[s]!;
    out[s] = { sensor: sensors[s]!, ts: new Float64Array(block, at * 8, n), values: new Float64Array(block, (total + at) * 8, n) };
    at += n;
  }
  return out;
}

/** Merges one ClockState occurrence into `clock`; false when it does not end where its length says. */
function walkClock(r: Reader, clock: Clock): boolean {
  const end = r.size() + r.pos;
  if (end > r.len) return false;
  const outer = r.len;
  r.len = end;
  while (r.pos < end) {
    const tag = r.tag();
    const field = tag >>> 3;
    const wireType = tag & 7;
    if (field === 1 && wireType === 0) clock.synced = r.bool();
    else if (field === 2 && wireType === 0) clock.anchorWallMs = int64ToNumber(r.int64());
    else if (field === 3 && wireType === 0) clock.anchorMonoMs = int64ToNumber(r.int64());
    else r.skipType(wireType, 1, field);
  }
  if (r.pos !== end) return false;
  r.len = outer;
  return true;
}

// The batch's columns as they are decoded, series after series from index 0; reused from one batch to the
// next (decoding is synchronous). A rare giant batch's scratch is not kept.
const SCRATCH_INITIAL = 4096;
const SCRATCH_KEEP = 1 << 17;
let scratchTs = new Float64Array(SCRATCH_INITIAL);
let scratchValues = new Float64Array(SCRATCH_INITIAL);

function resetScratch(): void {
  scratchTs = new Float64Array(SCRATCH_INITIAL);
  scratchValues = new Float64Array(SCRATCH_INITIAL);
}

/** Room for `size` entries in both scratch columns, keeping what they hold. */
function reserveScratch(size: number): void {
  if (size <= scratchTs.length) return;
  const n = Math.max(size, 2 * scratchTs.length);
  const ts = new Float64Array(n);
  const values = new Float64Array(n);
  ts.set(scratchTs);
  values.set(scratchValues);
  scratchTs = ts;
  scratchValues = values;
}

/**
 * One Series into the scratch columns from index `first`; its sensor onto `sensors`. Returns its reading
 * count, or -1 for anything the reference decoder must handle. Its packed columns are only located on the way
 * through (field, start, end triples, in order), then decoded and checked as checkShape would.
 */
function walkSeries(r: Reader, first: number, sensors: string[]): number {
  const end = r.size() + r.pos;
  if (end > r.len) return -1;
  const outer = r.len;
  r.len = end;
  const buf = r.buf;
  let sensor = '';
  let exponent = 0;
  const ranges: number[] = [];
  let tsBytes = 0;
  let doubleBytes = 0;
  let scaledBytes = 0;
  while (r.pos < end) {
    const tag = r.tag();
    const field = tag >>> 3;
    const wireType = tag & 7;
    if (wireType === 2 && (field === F_TIMESTAMPS || field === F_VALUES || field === F_SCALED)) {
      const len = r.size();
      const start = r.pos;
      const stop = start + len;
      if (stop > end) return -1;
      if (field === F_VALUES) {
        if (len % 8 !== 0) return -1;
        doubleBytes += len;
      } else {
        // The last varint ends inside the range, hence every one does: readZigZagSums needs no bounds check.
        if (len > 0 && buf[stop - 1]! >= 128) return -1;
        if (field === F_TIMESTAMPS) tsBytes += len;
        else scaledBytes += len;
      }
      ranges.push(field, start, stop);
      r.pos = stop;
    } else if (field === 1 && wireType === 2) sensor = r.stringVerify();
    else if (field === 4 && wireType === 0) exponent = r.uint32();
    else if ((wireType === 0 && (field === F_TIMESTAMPS || field === F_SCALED)) || (wireType === 1 && field === F_VALUES)) {
      return -1; // an unpacked element: left to the reference decoder
    } else r.skipType(wireType, 1, field);
  }
  if (r.pos !== end) return -1;
  r.len = outer;
  if (doubleBytes > 0 && scaledBytes > 0) return -1; // checkShape: both values and scaled_values

  // A varint takes at least one byte: byte counts bound value counts.
  reserveScratch(first + Math.max(tsBytes, scaledBytes, doubleBytes / 8));
  const ts = scratchTs;
  const values = scratchValues;
  let tsEnd = first;
  let valuesEnd = first;
  for (let k = 0; k < ranges.length; k += 3) {
    const field = ranges[k]!;
    const start = ranges[k + 1]!;
    const stop = ranges[k + 2]!;
    if (field === F_TIMESTAMPS) {
      tsEnd = readZigZagSums(buf, start, stop, ts, first, tsEnd);
      if (tsEnd < 0) return -1;
    } else if (field === F_SCALED) {
      valuesEnd = readZigZagSums(buf, start, stop, values, first, valuesEnd);
      if (valuesEnd < 0) return -1;
    } else {
      new Uint8Array(values.buffer, valuesEnd * 8, stop - start).set(buf.subarray(start, stop));
      valuesEnd += (stop - start) / 8;
    }
  }
  // checkShape's other rules; the reference names the violation.
  if (tsEnd !== valuesEnd) return -1;
  if (scaledBytes > 0) {
    const p = pow10(exponent);
    if (p === undefined) return -1;
    for (let i = first; i < valuesEnd; i++) values[i] = values[i]! / p;
  }
  sensors.push(sensor);
  return tsEnd - first;
}

/**
 * Decodes the zig-zag varints of buf[pos, to) as deltas into running sums in out from index i (the sum
 * continues from out[i - 1] unless i is the column's first index) and returns the next index; -1 for a value
 * or sum beyond ±(2^53 - 1) (the reference throws there) or a varint longer than 8 bytes (beyond it anyway
 * unless padded). No varint may run past `to`.
 */
function readZigZagSums(buf: Uint8Array, pos: number, to: number, out: Float64Array, first: number, i: number): number {
  let sum = i > first ? out[i - 1]! : 0;
  while (pos < to) {
    let b = buf[pos++]!;
    let v: number;
    if (b < 128) v = (b >>> 1) ^ -(b & 1);
    else {
      let lo = b & 127;
      b = buf[pos++]!;
      lo |= (b & 127) << 7;
      if (b >= 128) {
        b = buf[pos++]!;
        lo |= (b & 127) << 14;
        if (b >= 128) {
          b = buf[pos++]!;
          lo |= (b & 127) << 21;
        }
      }
      if (b < 128) v = (lo >>> 1) ^ -(lo & 1);
      else {
        v = wideZigZag(buf, pos, lo);
        if (v !== v) return -1; // NaN
        pos += wideBytes;
      }
    }
    sum += v;
    if (sum > MAX_SAFE || sum < -MAX_SAFE) return -1;
    out[i++] = sum;
  }
  return i;
}

/** Bytes wideZigZag consumed (module state rather than an allocation per wide varint). */
let wideBytes = 0;

/**
 * A zig-zag varint of 5 to 8 bytes whose first 4 gave `lo` (28 bits) and whose 5th is at `pos`, as a number;
 * NaN when longer or beyond ±(2^53 - 1).
 */
function wideZigZag(buf: Uint8Array, pos: number, lo: number): number {
  // The varint is hi * 2^28 + lo with hi < 2^28.
  let hi = 0;
  let scale = 1;
  for (let k = 0; ; k++) {
    if (k === 4) return Number.NaN;
    const b = buf[pos + k]!;
    hi += (b & 127) * scale;
    if (b < 128) {
      wideBytes = k + 1;
      break;
    }
    scale *= 128;
  }
  // floor(varint / 2): exact below 2^53, and >= 2^53 whenever the exact value is (rounding is monotonic).
  const half = hi * 134217728 + (lo >>> 1);
  if (lo & 1) return half >= MAX_SAFE ? Number.NaN : -half - 1; // -(half + 1) would be -2^53 or beyond
  return half > MAX_SAFE ? Number.NaN : half;
}
