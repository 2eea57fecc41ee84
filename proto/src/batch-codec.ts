// Batch <-> tidemark.v1.Batch bytes. Readings are grouped into one columnar series per sensor (first
// appearance order, each sensor's order preserved): timestamps as zig-zag deltas, values decimal-scaled when
// that is lossless and smaller (see decimal-scaling.ts), raw doubles otherwise.
// Decoding never lets a raw exception escape: bytes that are not a Batch -> WireFormatError; a decodable
// but invalid batch -> ValidationError naming the field.
import { ValidationError, WireFormatError } from '@tidemark/shared';
import protobuf from 'protobufjs/minimal.js';
import { decodeColumnsFast } from './column-decoder.js';
import { encodeColumnsFast } from './column-encoder.js';
import { pow10, scaleColumn } from './decimal-scaling.js';
import { tidemark } from './gen/telemetry.js';
import { int64ToNumber, safeInt64, unsafeIntegerError } from './int64.js';
import type { Batch, ClockState, Reading } from './model.js';
import { STREAM_ID_BYTES, isValidName } from './names.js';
import { DEFAULT_BATCH_LIMITS, validateBatch, type BatchLimits } from './validate.js';

const pb = tidemark.v1;

interface Column {
  ts: number[];
  values: number[];
}

/**
 * Validates (throws ValidationError), then encodes. The bytes are written by column-encoder.ts, which equals
 * encodeBatchReference byte for byte on every valid batch (property-tested, column-encoder.test.ts) at about
 * a third of its cost at the agent's seal cadence (scripts/bench/encode-batch.bench.ts).
 */
export function encodeBatch(b: Batch): Uint8Array {
  validateBatch(b);
  return encodeColumnsFast(b);
}

/** encodeBatch through the generated encoder: the definition the fast encoder is tested against. */
export function encodeBatchReference(b: Batch): Uint8Array {
  validateBatch(b);
  const columns = new Map<string, Column>();
  for (const r of b.readings) {
    let c = columns.get(r.sensor);
    if (!c) columns.set(r.sensor, (c = { ts: [], values: [] }));
    c.ts.push(r.ts);
    c.values.push(r.value);
  }
  const series: tidemark.v1.Series.$Properties[] = [];
  for (const [sensor, c] of columns) {
    const timestamps = new Array<number>(c.ts.length);
    let prev = 0;
    for (let i = 0; i < c.ts.length; i++) {
      const t = c.ts[i]!;
      timestamps[i] = t - prev; // |delta| <= MAX_SAFE_INTEGER since 0 <= ts <= MAX_SAFE_INTEGER
      prev = t;
    }
    const scaled = scaleColumn(c.values);
    series.push(
      scaled
        ? { sensor, timestamps, decimalExponent: scaled.exponent, scaledValues: scaled.deltas }
        : { sensor, timestamps, values: c.values },
    );
  }
  return pb.Batch.encode({
    deviceId: b.deviceId,
    streamId: b.streamId,
    seq: b.seq,
    clock: { synced: b.clock.synced, anchorWallMs: b.clock.anchorWallMs, anchorMonoMs: b.clock.anchorMonoMs },
    series,
    ...(b.lowWaterSeq ? { lowWaterSeq: b.lowWaterSeq } : {}),
  }).finish();
}

export interface DecodeBatchOptions {
  /** Check the batch contract (default true). Off, only what is needed to build readings is checked. */
  validate?: boolean;
  limits?: BatchLimits;
}

function decodeMessage(bytes: Uint8Array): tidemark.v1.Batch {
  if (!(bytes instanceof Uint8Array)) throw new WireFormatError('not a tidemark.v1.Batch: expected bytes');
  try {
    return pb.Batch.decode(bytes);
  } catch (err) {
    throw new WireFormatError(`not a tidemark.v1.Batch: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
  }
}

export function decodeBatch(bytes: Uint8Array, opts: DecodeBatchOptions = {}): Batch {
  const validate = opts.validate !== false;
  const limits = opts.limits ?? DEFAULT_BATCH_LIMITS;
  const msg = decodeMessage(bytes);
  const series = msg.series ?? [];

  const total = checkShape(series);
  // Before allocating readings: a hostile batch must not make us build a million objects to reject it.
  if (validate && total > limits.maxReadings) {
    throw new ValidationError(`expected at most ${limits.maxReadings} readings, got ${total}`, 'readings');
  }

  const readings: Reading[] = new Array<Reading>(total);
  let at = 0;
  for (let s = 0; s < series.length; s++) {
    const sr = series[s]!;
    const sensor = sr.sensor ?? '';
    const ts = sr.timestamps ?? [];
    const doubles = sr.values ?? [];
    const scaled = sr.scaledValues ?? [];
    const useScaled = scaled.length > 0;
    const p = pow10(sr.decimalExponent ?? 0)!;
    let t = 0;
    let m = 0;
    for (let i = 0; i < ts.length; i++, at++) {
      // int64ToNumber gives NaN beyond the safe range, and a sum of safe integers that leaves the range lands
      // at >= 2^53 in magnitude: either way the check below catches it, never a silently rounded number.
      t += int64ToNumber(ts[i]);
      if (!Number.isSafeInteger(t)) throw unsafeIntegerError(`readings[${at}].ts`);
      let value: number;
      if (useScaled) {
        m += int64ToNumber(scaled[i]);
        if (!Number.isSafeInteger(m)) throw unsafeIntegerError(`readings[${at}].value`);
        value = m / p;
      } else {
        value = doubles[i]!;
      }
      readings[at] = { sensor, ts: t, value };
    }
  }

  const batch: Batch = { ...header(msg), readings };
  const lowWater = msg.lowWaterSeq === undefined || msg.lowWaterSeq === null ? 0 : safeInt64(msg.lowWaterSeq, 'lowWaterSeq');
  if (lowWater > 0) batch.lowWaterSeq = lowWater;
  if (validate) validateBatch(batch, limits);
  return batch;
}

/** The columns must line up before any reading can be built: returns how many readings the batch holds. */
function checkShape(series: readonly tidemark.v1.Series.$Properties[]): number {
  let total = 0;
  for (let s = 0; s < series.length; s++) {
    const sr = series[s]!;
    const nTs = sr.timestamps?.length ?? 0;
    const nDoubles = sr.values?.length ?? 0;
    const nScaled = sr.scaledValues?.length ?? 0;
    if (nDoubles > 0 && nScaled > 0) throw new WireFormatError(`series[${s}]: carries both values and scaled_values`);
    if (nTs !== nDoubles + nScaled) throw new WireFormatError(`series[${s}]: ${nTs} timestamps but ${nDoubles + nScaled} values`);
    if (nScaled > 0 && pow10(sr.decimalExponent ?? 0) === undefined) {
      throw new WireFormatError(`series[${s}]: decimal_exponent ${sr.decimalExponent} out of range`);
    }
    total += nTs;
  }
  return total;
}

/** Everything of a Batch but its readings. */
function header(msg: tidemark.v1.Batch): Omit<Batch, 'readings'> {
  const c = msg.clock;
  const clock: ClockState = {
    synced: c?.synced === true,
    anchorWallMs: safeInt64(c?.anchorWallMs, 'clock.anchorWallMs'),
    anchorMonoMs: safeInt64(c?.anchorMonoMs, 'clock.anchorMonoMs'),
  };
  return {
    deviceId: msg.deviceId ?? '',
    streamId: Uint8Array.from(msg.streamId ?? []), // a copy: the decoder's bytes are a view into the input
    seq: safeInt64(msg.seq, 'seq'),
    clock,
  };
}

/** One sensor's readings of a batch as columns, in the batch's order (the columns of one batch may be views into one buffer). */
export interface SeriesColumns {
  sensor: string;
  ts: Float64Array;
  values: Float64Array;
}

/**
 * A batch as it travels: one column pair per series, the order decodeBatch gives its readings in (series
 * by series). For consumers that walk every reading of a sensor (the alert evaluator): no object per reading.
 */
export interface ColumnarBatch extends Omit<Batch, 'readings' | 'lowWaterSeq'> {
  series: SeriesColumns[];
  /** Readings in all series. */
  readingCount: number;
}

/**
 * Decodes without validating the batch contract (for batches validated before they were stored), to columns.
 * Same readings, same order and same errors for a malformed message as decodeBatch(bytes, {validate: false}).
 * The walk over the bytes in column-decoder.ts takes ordinary batches; anything else (and every error) is
 * left to decodeBatchColumnsReference.
 */
export function decodeBatchColumns(bytes: Uint8Array): ColumnarBatch {
  return decodeColumnsFast(bytes) ?? decodeBatchColumnsReference(bytes);
}

/** decodeBatchColumns through the generated decoder: the definition the fast walk is tested against. */
export function decodeBatchColumnsReference(bytes: Uint8Array): ColumnarBatch {
  const msg = decodeMessage(bytes);
  const series = msg.series ?? [];
  const total = checkShape(series);
  const out: SeriesColumns[] = new Array<SeriesColumns>(series.length);
  let at = 0;
  for (let s = 0; s < series.length; s++) {
    const sr = series[s]!;
    const raw = sr.timestamps ?? [];
    const doubles = sr.values ?? [];
    const scaled = sr.scaledValues ?? [];
    const useScaled = scaled.length > 0;
    const p = pow10(sr.decimalExponent ?? 0)!;
    const ts = new Float64Array(raw.length);
    const values = new Float64Array(raw.length);
    let t = 0;
    let m = 0;
    for (let i = 0; i < raw.length; i++, at++) {
      t += int64ToNumber(raw[i]);
      if (!Number.isSafeInteger(t)) throw unsafeIntegerError(`readings[${at}].ts`);
      ts[i] = t;
      if (useScaled) {
        m += int64ToNumber(scaled[i]);
        if (!Number.isSafeInteger(m)) throw unsafeIntegerError(`readings[${at}].value`);
        values[i] = m / p;
      } else values[i] = doubles[i]!;
    }
    out[s] = { sensor: sr.sensor ?? '', ts, values };
  }
  return { ...header(msg), series: out, readingCount: total };
}

export interface BatchIdentity {
  deviceId: string;
  streamId: Uint8Array;
  seq: number;
}

/**
 * The identity of a batch that may be invalid or even truncated after its header fields, so the collector
 * can ack it `rejected`. Scans only the top-level identity fields; never throws. Undefined unless all three
 * are present and well-formed.
 */
export function peekBatchIdentity(bytes: Uint8Array): BatchIdentity | undefined {
  let deviceId: string | undefined;
  let streamId: Uint8Array | undefined;
  let seq: number | undefined;
  try {
    const reader = protobuf.Reader.create(bytes);
    while (reader.pos < reader.len) {
      const tag = reader.uint32();
      const field = tag >>> 3;
      const wireType = tag & 7;
      if (field === 1 && wireType === 2) deviceId = reader.stringVerify();
      else if (field === 2 && wireType === 2) streamId = Uint8Array.from(reader.bytes());
      else if (field === 3 && wireType === 0) seq = int64ToNumber(reader.uint64());
      else reader.skipType(wireType);
    }
  } catch {
    // Best effort: keep whatever was read before the damage.
  }
  if (deviceId === undefined || !isValidName(deviceId)) return undefined;
  if (streamId === undefined || streamId.length !== STREAM_ID_BYTES) return undefined;
  if (seq === undefined || !Number.isSafeInteger(seq) || seq < 1) return undefined;
  return { deviceId, streamId, seq };
}
