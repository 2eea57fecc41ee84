import { ValidationError } from '@tidemark/shared';
import { describe, expect, it } from 'vitest';
import { decodeBatch, encodeBatch } from './batch-codec.js';
import { tidemark } from './gen/telemetry.js';
import type { Batch, Reading } from './model.js';
import { DEFAULT_BATCH_LIMITS, validateBatch } from './validate.js';

const STREAM = new Uint8Array(16).fill(7);
const ok = (): Batch => ({
  deviceId: 'press-07',
  streamId: STREAM,
  seq: 1,
  clock: { synced: false, anchorWallMs: 0, anchorMonoMs: 0 },
  readings: [
    { sensor: 'temp_c', ts: 1_741_939_200_000, value: 21.5 },
    { sensor: 'temp_c', ts: 1_741_939_200_100, value: 21.6 },
    { sensor: 'pressure', ts: 1_741_939_200_100, value: 101.3 },
    { sensor: 'door', ts: 0, value: 1 },
  ],
});

function withReading(i: number, over: Partial<Reading>): Batch {
  const b = ok();
  b.readings[i] = { ...b.readings[i]!, ...over };
  return b;
}

/** Asserts that both validateBatch and encodeBatch throw ValidationError with exactly this field and message. */
function expectRejected(b: Batch, field: string, message: RegExp | string, limits = DEFAULT_BATCH_LIMITS): void {
  for (const run of [() => validateBatch(b, limits), () => (limits === DEFAULT_BATCH_LIMITS ? encodeBatch(b) : validateBatch(b, limits))]) {
    let err: unknown;
    try {
      run();
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ValidationError);
    const v = err as ValidationError;
    expect(v.field).toBe(field);
    expect(v.code).toBe('VALIDATION');
    expect(v.message.startsWith(`${field}: `)).toBe(true);
    if (typeof message === 'string') expect(v.message).toBe(message);
    else expect(v.message).toMatch(message);
  }
}

describe('validateBatch', () => {
  it('accepts a valid batch', () => {
    expect(() => validateBatch(ok())).not.toThrow();
  });

  it('rejects non-finite values, naming the reading', () => {
    expectRejected(withReading(3, { value: Number.NaN }), 'readings[3].value', 'readings[3].value: expected a finite number, got NaN');
    expectRejected(withReading(1, { value: Number.POSITIVE_INFINITY }), 'readings[1].value', 'readings[1].value: expected a finite number, got Infinity');
    expectRejected(withReading(0, { value: Number.NEGATIVE_INFINITY }), 'readings[0].value', /got -Infinity$/);
    expectRejected(withReading(0, { value: '1' as unknown as number }), 'readings[0].value', /got "1"$/);
  });

  it('rejects bad timestamps', () => {
    expectRejected(withReading(2, { ts: -1 }), 'readings[2].ts', /expected an integer >= 0/);
    expectRejected(withReading(2, { ts: 1.5 }), 'readings[2].ts', /got 1\.5$/);
    expectRejected(withReading(2, { ts: Number.MAX_SAFE_INTEGER + 1 }), 'readings[2].ts', /expected an integer >= 0/);
  });

  it('rejects invalid device ids and sensor names', () => {
    for (const bad of ['', 'has space', 'a/b', '+', '#', '-leading', '.leading', 'x'.repeat(65), 'ünï']) {
      expectRejected({ ...ok(), deviceId: bad }, 'deviceId', /^deviceId: expected a name matching/);
      expectRejected(withReading(1, { sensor: bad }), 'readings[1].sensor', /^readings\[1\]\.sensor: expected a name matching/);
    }
    expect(() => validateBatch({ ...ok(), deviceId: 'x'.repeat(64) })).not.toThrow();
  });

  it('rejects seq 0, negative, fractional or unsafe', () => {
    for (const seq of [0, -1, 1.5, Number.NaN, Number.MAX_SAFE_INTEGER + 1]) {
      expectRejected({ ...ok(), seq }, 'seq', /^seq: expected an integer >= 1, got /);
    }
    expectRejected({ ...ok(), seq: 0 }, 'seq', 'seq: expected an integer >= 1, got 0');
  });

  it('rejects a stream id that is not 16 bytes', () => {
    expectRejected({ ...ok(), streamId: new Uint8Array(15) }, 'streamId', 'streamId: expected 16 bytes, got 15 bytes');
    expectRejected({ ...ok(), streamId: new Uint8Array(17) }, 'streamId', /expected 16 bytes/);
    expectRejected({ ...ok(), streamId: 'abc' as unknown as Uint8Array }, 'streamId', /expected 16 bytes/);
  });

  it('rejects a bad clock state', () => {
    expectRejected({ ...ok(), clock: { synced: 1 as unknown as boolean, anchorWallMs: 0, anchorMonoMs: 0 } }, 'clock.synced', /expected a boolean/);
    expectRejected({ ...ok(), clock: { synced: true, anchorWallMs: 0.5, anchorMonoMs: 0 } }, 'clock.anchorWallMs', /integer/);
    expectRejected({ ...ok(), clock: { synced: true, anchorWallMs: 0, anchorMonoMs: 2 ** 60 } }, 'clock.anchorMonoMs', /integer/);
    expectRejected({ ...ok(), clock: undefined as unknown as Batch['clock'] }, 'clock', /expected a clock state/);
  });

  it('rejects a batch with zero readings', () => {
    expectRejected({ ...ok(), readings: [] }, 'readings', 'readings: expected at least one reading');
  });

  it('rejects too many readings or sensors', () => {
    const limits = { maxReadings: 3, maxSensors: 2 };
    expectRejected(ok(), 'readings', 'readings: expected at most 3 readings, got 4', limits);
    expectRejected(ok(), 'readings[3].sensor', /at most 2 distinct sensors/, { ...limits, maxReadings: 10 });
    const huge = Array.from({ length: DEFAULT_BATCH_LIMITS.maxReadings + 1 }, (_, i) => ({ sensor: 't', ts: i, value: 0 }));
    expectRejected({ ...ok(), readings: huge }, 'readings', 'readings: expected at most 100000 readings, got 100001');
    const sensors = Array.from({ length: DEFAULT_BATCH_LIMITS.maxSensors + 1 }, (_, i) => ({ sensor: `s${i}`, ts: 1, value: 0 }));
    expectRejected({ ...ok(), readings: sensors }, 'readings[1000].sensor', /at most 1000 distinct sensors/);
  });

  it('applies the same checks when decoding', () => {
    const bytes = tidemark.v1.Batch.encode({
      deviceId: 'press-07',
      streamId: STREAM,
      seq: 3,
      series: [
        { sensor: 'a', timestamps: [1, 1], values: [1, 2] },
        { sensor: 'b', timestamps: [5, -6], values: [1, 2] },
      ],
    }).finish();
    expect(() => decodeBatch(bytes)).toThrow('readings[3].ts: expected an integer >= 0 (ms since the Unix epoch), got -1');
    const empty = tidemark.v1.Batch.encode({ deviceId: 'press-07', streamId: STREAM, seq: 3 }).finish();
    expect(() => decodeBatch(empty)).toThrow('readings: expected at least one reading');
  });
});
