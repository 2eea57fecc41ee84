// A valid Batch straight to tidemark.v1.Batch bytes for encodeBatch, without protobufjs, Long/LongBits, a
// Map of per-sensor arrays or a message object per series. The edge calls it a few times a second, so it
// mostly runs cold (interpreted): the aim is few operations and no allocation per reading, not peak speed.
// Invariant: for every batch validateBatch accepts, the bytes equal encodeBatchReference's (the generated
// encoder) byte for byte: same fields in field-number order, same presence rules (proto3 defaults left out),
// same decimal-scaling decision as scaleColumn, same varints. The caller validates first; nothing here checks
// the batch contract again.
//
// How: one pass over the readings finds each reading's series, its timestamp delta and that delta's varint
// size; a counting sort puts timestamps and values in series order in reused scratch columns; each value
// column is decimal-scaled (or not) into another; then the exact size is known, one buffer of that size is
// allocated and every byte written once. Small functions: each compiles (and tiers up) on its own.
import type { Batch, Reading } from './model.js';
import { MAX_ENCODE_EXPONENT, pow10 } from './decimal-scaling.js';

const MAX_SAFE = Number.MAX_SAFE_INTEGER;
const TWO_32 = 4294967296;
const TWO_56 = 2 ** 56;
const TWO_63 = 2 ** 63;
/** The same powers scaleColumn multiplies by (pow10 reads its table), so every product rounds identically. */
const POW10: readonly number[] = Array.from({ length: MAX_ENCODE_EXPONENT + 1 }, (_, k) => pow10(k)!);
/** Packed doubles are copied from a Float64Array byte for byte, which holds them in platform order. */
const LITTLE_ENDIAN = new Uint8Array(new Float64Array([1]).buffer)[7] === 0x3f;

/** protobufjs's BufferWriter returns a Buffer (pooled when small); so does this, where Buffer exists. */
const allocate: (size: number) => Uint8Array =
  typeof Buffer === 'function' ? (size) => Buffer.allocUnsafe(size) : (size) => new Uint8Array(size);

// Tags: (field number << 3) | wire type. All are below 128, so one byte each.
const TAG_DEVICE_ID = 10; // Batch.device_id, length-delimited
const TAG_STREAM_ID = 18; // Batch.stream_id
const TAG_SEQ = 24; // Batch.seq, varint
const TAG_CLOCK = 34; // Batch.clock
const TAG_SERIES = 42; // Batch.series
const TAG_LOW_WATER = 48; // Batch.low_water_seq
const TAG_SYNCED = 8; // ClockState.synced
const TAG_WALL = 16; // ClockState.anchor_wall_ms
const TAG_MONO = 24; // ClockState.anchor_mono_ms
const TAG_SENSOR = 10; // Series.sensor
const TAG_TIMESTAMPS = 18; // Series.timestamps, packed sint64
const TAG_VALUES = 26; // Series.values, packed double
const TAG_EXPONENT = 32; // Series.decimal_exponent, uint32
const TAG_SCALED = 42; // Series.scaled_values, packed sint64

// ---- scratch, reused from one batch to the next (encoding is synchronous); a rare giant batch's is not kept ----

const SCRATCH_INITIAL = 1024;
const SCRATCH_KEEP = 1 << 16;

/** Columns of n entries. Functions copy the ones they use into locals: a module binding costs a load and a check per use. */
interface Scratch {
  /** Per reading, in reading order: its series. */
  seriesOf: Int32Array;
  /** Per reading, in reading order, then (after the sort) in series order: timestamp delta, value. */
  tsIn: Float64Array;
  valuesIn: Float64Array;
  tsCol: Float64Array;
  valuesCol: Float64Array;
  /** Mantissa deltas of the decimal-scaled series, in series order. */
  scaledCol: Float64Array;
  /** Per series (at most one per reading): reading count, last timestamp, packed timestamp bytes, first index, sort cursor. */
  counts: Int32Array;
  lastTs: Float64Array;
  tsBytes: Float64Array;
  starts: Int32Array;
  cursor: Int32Array;
}

function newScratch(size: number): Scratch {
  return {
    seriesOf: new Int32Array(size),
    tsIn: new Float64Array(size),
    valuesIn: new Float64Array(size),
    tsCol: new Float64Array(size),
    valuesCol: new Float64Array(size),
    scaledCol: new Float64Array(size),
    counts: new Int32Array(size),
    lastTs: new Float64Array(size),
    tsBytes: new Float64Array(size),
    starts: new Int32Array(size),
    cursor: new Int32Array(size),
  };
}

let scratch = newScratch(SCRATCH_INITIAL);

/** Scratch for n readings; a large one is dropped again after its batch (see encodeColumnsFast). */
function reserveScratch(n: number): Scratch {
  if (n > scratch.seriesOf.length) scratch = newScratch(n);
  return scratch;
}

// ---- varints ----

/**
 * Bytes of the varint of a non-negative integer below 2^64 held exactly as a number. The zig-zag sizes
 * below pass t = z - (z & 1), which is exact (even, below 2^54) and has the same size as z: every size
 * boundary 2^(7j) is even.
 */
function varintSize(t: number): number {
  if (t < 128) return 1;
  if (t < 16384) return 2;
  if (t < 2097152) return 3;
  if (t < 268435456) return 4;
  if (t < 34359738368) return 5;
  if (t < 4398046511104) return 6;
  if (t < 562949953421312) return 7;
  if (t < TWO_56) return 8;
  if (t < TWO_63) return 9;
  return 10;
}

/**
 * Writes the varint of lo + hi * 2^32 (both unsigned 32-bit), 7 bits at a time: protobufjs's writeVarint64.
 * Integer operations only: % and / on numbers beyond 2^32 cost a floating-point remainder each.
 */
function writeVarint64(buf: Uint8Array, pos: number, lo: number, hi: number): number {
  while (hi > 0) {
    buf[pos++] = (lo & 127) | 128;
    lo = ((lo >>> 7) | (hi << 25)) >>> 0;
    hi >>>= 7;
  }
  while (lo > 127) {
    buf[pos++] = (lo & 127) | 128;
    lo >>>= 7;
  }
  buf[pos++] = lo;
  return pos;
}

/** Writes the varint of a non-negative safe integer; returns the next position. */
function writeVarint(buf: Uint8Array, pos: number, v: number): number {
  const lo = v >>> 0; // v mod 2^32, exact for any integer
  return writeVarint64(buf, pos, lo, (v - lo) / TWO_32);
}

/**
 * Writes the zig-zag varint of a safe integer d (what protobufjs's LongBits.fromNumber(d).zzEncode() writes).
 * z = 2d or -2d - 1 reaches 2^54 - 3, which a number cannot hold; z = t + bit with t = 2d or -2d - 2 (exact:
 * even and below 2^54) and bit = 0 or 1: t's low 32 bits are even, so the bit is their lowest.
 */
function writeZigZag(buf: Uint8Array, pos: number, d: number): number {
  const t = d < 0 ? -2 * d - 2 : 2 * d;
  const lo = t >>> 0;
  return writeVarint64(buf, pos, d < 0 ? lo + 1 : lo, (t - lo) / TWO_32);
}

/** Bytes of an int64 field's varint: negative values are 10 bytes (64-bit two's complement). */
function int64Size(v: number): number {
  return v < 0 ? 10 : varintSize(v);
}

/** Writes an int64 varint the way protobufjs does (LongBits.fromNumber, then 7 bits at a time). */
function writeInt64(buf: Uint8Array, pos: number, v: number): number {
  if (v >= 0) return writeVarint(buf, pos, v);
  // Two's complement of |v| in two 32-bit halves (|v| <= 2^53, so both halves are exact).
  const a = -v;
  const lo = a >>> 0;
  const hi = (a - lo) / TWO_32;
  const negLo = (~lo + 1) >>> 0;
  return writeVarint64(buf, pos, negLo, (~hi + (negLo === 0 ? 1 : 0)) >>> 0);
}

function writeAscii(buf: Uint8Array, pos: number, s: string): number {
  // Names match NAME_PATTERN (validated): ASCII, at most 64 characters, so one length byte and a byte each.
  buf[pos++] = s.length;
  for (let i = 0; i < s.length; i++) buf[pos++] = s.charCodeAt(i);
  return pos;
}

// ---- the batch ----

/** The bytes of a batch that validateBatch accepted. */
export function encodeColumnsFast(b: Batch): Uint8Array {
  const readings = b.readings;
  const n = readings.length;
  const { tsCol, valuesCol, scaledCol, counts, tsBytes, starts } = reserveScratch(n);

  const sensors: string[] = [];
  const nSeries = groupReadings(readings, sensors);
  sortColumns(n, nSeries);

  // Per series: the value encoding, and the sizes.
  const exponents = new Array<number>(nSeries); // -1: raw doubles
  const valueBytes = new Array<number>(nSeries);
  const seriesBytes = new Array<number>(nSeries);
  const clock = b.clock;
  const wall = clock.anchorWallMs;
  const mono = clock.anchorMonoMs;
  // Presence as the generated encoder decides it: proto3 defaults (false, 0, -0 too) are left out.
  const clockBytes = (clock.synced ? 2 : 0) + (wall !== 0 ? 1 + int64Size(wall) : 0) + (mono !== 0 ? 1 + int64Size(mono) : 0);
  let size = 2 + b.deviceId.length + 2 + b.streamId.length + 1 + varintSize(b.seq) + 2 + clockBytes;
  if (b.lowWaterSeq) size += 1 + varintSize(b.lowWaterSeq);
  for (let k = 0; k < nSeries; k++) {
    const count = counts[k]!;
    const scaled = scaleSeries(valuesCol, scaledCol, starts[k]!, count);
    const exponent = scaled < 0 ? -1 : scaledExponent;
    exponents[k] = exponent;
    const vb = scaled < 0 ? 8 * count : scaled;
    valueBytes[k] = vb;
    const tb = tsBytes[k]!;
    const sb = 2 + sensors[k]!.length + 1 + varintSize(tb) + tb + (exponent > 0 ? 2 : 0) + 1 + varintSize(vb) + vb;
    seriesBytes[k] = sb;
    size += 1 + varintSize(sb) + sb;
  }

  // The bytes, in field-number order.
  const buf = allocate(size);
  let pos = 0;
  buf[pos++] = TAG_DEVICE_ID;
  pos = writeAscii(buf, pos, b.deviceId);
  buf[pos++] = TAG_STREAM_ID;
  buf[pos++] = b.streamId.length; // 16 (validated)
  buf.set(b.streamId, pos);
  pos += b.streamId.length;
  buf[pos++] = TAG_SEQ;
  pos = writeVarint(buf, pos, b.seq);
  buf[pos++] = TAG_CLOCK;
  buf[pos++] = clockBytes; // at most 24
  if (clock.synced) {
    buf[pos++] = TAG_SYNCED;
    buf[pos++] = 1;
  }
  if (wall !== 0) {
    buf[pos++] = TAG_WALL;
    pos = writeInt64(buf, pos, wall);
  }
  if (mono !== 0) {
    buf[pos++] = TAG_MONO;
    pos = writeInt64(buf, pos, mono);
  }
  for (let k = 0; k < nSeries; k++) {
    const first = starts[k]!;
    const end = first + counts[k]!;
    buf[pos++] = TAG_SERIES;
    pos = writeVarint(buf, pos, seriesBytes[k]!);
    buf[pos++] = TAG_SENSOR;
    pos = writeAscii(buf, pos, sensors[k]!);
    buf[pos++] = TAG_TIMESTAMPS;
    pos = writeVarint(buf, pos, tsBytes[k]!);
    pos = writeZigZags(buf, pos, tsCol, first, end);
    const exponent = exponents[k]!;
    if (exponent < 0) {
      buf[pos++] = TAG_VALUES;
      pos = writeVarint(buf, pos, valueBytes[k]!);
      pos = writeDoubles(buf, pos, valuesCol, first, end);
    } else {
      if (exponent > 0) {
        buf[pos++] = TAG_EXPONENT;
        buf[pos++] = exponent;
      }
      buf[pos++] = TAG_SCALED;
      pos = writeVarint(buf, pos, valueBytes[k]!);
      pos = writeZigZags(buf, pos, scaledCol, first, end);
    }
  }
  if (b.lowWaterSeq) {
    buf[pos++] = TAG_LOW_WATER;
    pos = writeVarint(buf, pos, b.lowWaterSeq);
  }
  if (n > SCRATCH_KEEP) scratch = newScratch(SCRATCH_INITIAL);
  if (pos !== size) throw new Error(`column-encoder: wrote ${pos} bytes of ${size}`); // a bug here, never the input
  return buf;
}

/**
 * Finds each reading's series (new sensors appended to `sensors`, first-appearance order), its timestamp
 * delta and the packed size of each series' timestamps; returns the number of series. Readings from a csv
 * line arrive sensor after sensor, so the series after the previous reading's is tried before the Map.
 */
function groupReadings(readings: readonly Reading[], sensors: string[]): number {
  const { seriesOf, tsIn, valuesIn, counts, lastTs, tsBytes } = scratch;
  const index = new Map<string, number>();
  let nSeries = 0;
  let s = -1;
  for (let i = 0; i < readings.length; i++) {
    const r = readings[i]!;
    const sensor = r.sensor;
    s = s + 1 < nSeries ? s + 1 : 0;
    if (s >= nSeries || sensors[s] !== sensor) {
      const known = index.get(sensor);
      if (known === undefined) {
        s = nSeries++;
        sensors.push(sensor);
        index.set(sensor, s);
        counts[s] = 0;
        lastTs[s] = 0;
        tsBytes[s] = 0;
      } else s = known;
    }
    seriesOf[i] = s;
    counts[s] = counts[s]! + 1;
    const ts = r.ts;
    const d = ts - lastTs[s]!; // |d| <= MAX_SAFE_INTEGER since 0 <= ts <= MAX_SAFE_INTEGER
    lastTs[s] = ts;
    tsIn[i] = d;
    const t = d < 0 ? -2 * d - 2 : 2 * d;
    tsBytes[s] = tsBytes[s]! + (t < 128 ? 1 : varintSize(t));
    valuesIn[i] = r.value;
  }
  return nSeries;
}

/** Counting sort of the timestamp deltas and values into series order; sets each series' first index. */
function sortColumns(n: number, nSeries: number): void {
  const { seriesOf, tsIn, valuesIn, tsCol, valuesCol, counts, starts, cursor } = scratch;
  let at = 0;
  for (let k = 0; k < nSeries; k++) {
    starts[k] = at;
    cursor[k] = at;
    at += counts[k]!;
  }
  for (let i = 0; i < n; i++) {
    const k = seriesOf[i]!;
    const p = cursor[k]!;
    cursor[k] = p + 1;
    tsCol[p] = tsIn[i]!;
    valuesCol[p] = valuesIn[i]!;
  }
}

/** Packed sint64 of col[first, end): deltas within ±8191 (1-2 bytes, nearly all of them) written inline. */
function writeZigZags(buf: Uint8Array, pos: number, col: Float64Array, first: number, end: number): number {
  for (let i = first; i < end; i++) {
    const d = col[i]!;
    if (d < 8192 && d >= -8192) {
      const z = d < 0 ? -2 * d - 1 : 2 * d; // -0 gives -0, stored as 0
      if (z < 128) buf[pos++] = z;
      else {
        buf[pos++] = (z & 127) | 128;
        buf[pos++] = z >>> 7;
      }
    } else pos = writeZigZag(buf, pos, d);
  }
  return pos;
}

/** Packed doubles of col[first, end): one copy on little-endian platforms. */
function writeDoubles(buf: Uint8Array, pos: number, col: Float64Array, first: number, end: number): number {
  if (LITTLE_ENDIAN) {
    buf.set(new Uint8Array(col.buffer, first * 8, (end - first) * 8), pos);
    return pos + (end - first) * 8;
  }
  const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  for (let i = first; i < end; i++, pos += 8) view.setFloat64(pos, col[i]!, true);
  return pos;
}

/** The exponent of the last scaleSeries that answered >= 0 (module state rather than an object per series). */
let scaledExponent = 0;

/**
 * scaleColumn's decision for values[first, first + n), without its arrays and calls: the packed bytes of the
 * mantissa deltas (written to scaled[first, first + n)) with the exponent in scaledExponent, or -1 for raw
 * doubles. Same exponent: k starts at 0 and grows, value after value, until the value round-trips, exactly
 * as scaleColumn's first loop. Same verdict: scaleColumn then re-checks every value at the final exponent;
 * values from the one where k last grew were checked at that exponent already, so only those before it are.
 * "Round-trips" is scaleColumn's roundTrips inlined: m = Math.round(v * 10^k) + 0 is a safe integer and
 * m / 10^k is v, -0 excluded (m is never -0, so m / 10^k === v with v === 0 holds for -0 as well).
 */
function scaleSeries(values: Float64Array, scaled: Float64Array, first: number, n: number): number {
  const end = first + n;
  let k = 0;
  let p = 1;
  let checkedFrom = first;
  for (let i = first; i < end; i++) {
    const v = values[i]!;
    let m = Math.round(v * p) + 0;
    if (!(m <= MAX_SAFE && m >= -MAX_SAFE && m / p === v && (m !== 0 || 1 / v > 0))) {
      do {
        if (++k > MAX_ENCODE_EXPONENT) return -1;
        p = POW10[k]!;
        m = Math.round(v * p) + 0;
      } while (!(m <= MAX_SAFE && m >= -MAX_SAFE && m / p === v && (m !== 0 || 1 / v > 0)));
      checkedFrom = i;
    }
    scaled[i] = m;
  }
  for (let i = first; i < checkedFrom; i++) {
    const v = values[i]!;
    const m = Math.round(v * p) + 0;
    if (!(m <= MAX_SAFE && m >= -MAX_SAFE && m / p === v && (m !== 0 || 1 / v > 0))) return -1;
    scaled[i] = m;
  }
  // Mantissas to deltas, and their packed size (scaleColumn: smaller than 8 bytes per value, or raw).
  let prev = 0;
  let bytes = 0;
  for (let i = first; i < end; i++) {
    const m = scaled[i]!;
    const d = m - prev; // an integer; beyond ±MAX_SAFE_INTEGER exactly when scaleColumn's isSafeInteger fails
    if (d > MAX_SAFE || d < -MAX_SAFE) return -1;
    scaled[i] = d;
    prev = m;
    const t = d < 0 ? -2 * d - 2 : 2 * d;
    bytes += t < 128 ? 1 : t < 16384 ? 2 : varintSize(t);
  }
  if (bytes >= 8 * n) return -1;
  scaledExponent = k;
  return bytes;
}
