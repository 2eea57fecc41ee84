// The batch contract, checked on both sides of the wire: the edge refuses to send what the collector would
// reject, and the collector never trusts the bytes. Errors name the offending field (`readings[3].value`).
import { ValidationError } from '@tidemark/shared';
import type { Batch } from './model.js';
import { STREAM_ID_BYTES, describeValue, isValidName, nameError } from './names.js';

export interface BatchLimits {
  maxReadings: number;
  maxSensors: number;
}

export const DEFAULT_BATCH_LIMITS: BatchLimits = Object.freeze({ maxReadings: 100_000, maxSensors: 1_000 });

export function validateStreamId(id: unknown, field = 'streamId'): void {
  if (!(id instanceof Uint8Array) || id.length !== STREAM_ID_BYTES) {
    throw new ValidationError(`expected ${STREAM_ID_BYTES} bytes, got ${describeValue(id)}`, field);
  }
}

export function validateSeq(seq: unknown, field = 'seq'): void {
  if (typeof seq !== 'number' || !Number.isSafeInteger(seq) || seq < 1) {
    throw new ValidationError(`expected an integer >= 1, got ${describeValue(seq)}`, field);
  }
}

function validateAnchor(v: unknown, field: string): void {
  if (typeof v !== 'number' || !Number.isSafeInteger(v)) {
    throw new ValidationError(`expected an integer number of ms, got ${describeValue(v)}`, field);
  }
}

/** Throws ValidationError for the first field that breaks the contract. */
export function validateBatch(b: Batch, limits: BatchLimits = DEFAULT_BATCH_LIMITS): void {
  if (typeof b !== 'object' || b === null) throw new ValidationError(`expected a batch object, got ${describeValue(b)}`);
  if (!isValidName(b.deviceId)) throw nameError('deviceId', b.deviceId);
  validateStreamId(b.streamId);
  validateSeq(b.seq);
  if (b.lowWaterSeq !== undefined) {
    validateSeq(b.lowWaterSeq, 'lowWaterSeq');
    // The batch itself is not acknowledged yet, so the low-water mark cannot be above it.
    if (b.lowWaterSeq > b.seq) throw new ValidationError(`must not exceed seq (${b.seq}), got ${b.lowWaterSeq}`, 'lowWaterSeq');
  }
  const clock = b.clock;
  if (typeof clock !== 'object' || clock === null) throw new ValidationError(`expected a clock state, got ${describeValue(clock)}`, 'clock');
  if (typeof clock.synced !== 'boolean') throw new ValidationError(`expected a boolean, got ${describeValue(clock.synced)}`, 'clock.synced');
  validateAnchor(clock.anchorWallMs, 'clock.anchorWallMs');
  validateAnchor(clock.anchorMonoMs, 'clock.anchorMonoMs');

  const readings = b.readings;
  if (!Array.isArray(readings)) throw new ValidationError(`expected an array of readings, got ${describeValue(readings)}`, 'readings');
  // A batch with no readings has no reason to exist, and a seq spent on nothing would hide bugs upstream.
  if (readings.length === 0) throw new ValidationError('expected at least one reading', 'readings');
  if (readings.length > limits.maxReadings) {
    throw new ValidationError(`expected at most ${limits.maxReadings} readings, got ${readings.length}`, 'readings');
  }
  const sensors = new Set<string>();
  for (let i = 0; i < readings.length; i++) {
    const r = readings[i];
    if (typeof r !== 'object' || r === null) throw new ValidationError(`expected a reading, got ${describeValue(r)}`, `readings[${i}]`);
    if (!sensors.has(r.sensor)) {
      if (!isValidName(r.sensor)) throw nameError(`readings[${i}].sensor`, r.sensor);
      sensors.add(r.sensor);
      if (sensors.size > limits.maxSensors) {
        throw new ValidationError(`expected at most ${limits.maxSensors} distinct sensors, this is sensor #${sensors.size}`, `readings[${i}].sensor`);
      }
    }
    const ts = r.ts;
    if (typeof ts !== 'number' || !Number.isSafeInteger(ts) || ts < 0) {
      throw new ValidationError(`expected an integer >= 0 (ms since the Unix epoch), got ${describeValue(ts)}`, `readings[${i}].ts`);
    }
    const value = r.value;
    if (typeof value !== 'number' || !Number.isFinite(value)) {
      throw new ValidationError(`expected a finite number, got ${describeValue(value)}`, `readings[${i}].value`);
    }
  }
}
