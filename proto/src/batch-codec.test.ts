import fc from 'fast-check';
import { ValidationError, WireFormatError } from '@tidemark/shared';
import { describe, expect, it } from 'vitest';
import { decodeBatch, decodeBatchColumns, encodeBatch, peekBatchIdentity, type ColumnarBatch } from './batch-codec.js';
import { tidemark } from './gen/telemetry.js';
import type { Batch, Reading } from './model.js';
import { batchArb, groupBySensor, readingsArb, timeSeriesReadingsArb } from './testing/arbitraries.js';

const STREAM = Uint8Array.from({ length: 16 }, (_, i) => i + 1);
const CLOCK = { synced: true, anchorWallMs: 1_741_939_200_000, anchorMonoMs: 123_456 };

function batch(readings: Reading[], over: Partial<Batch> = {}): Batch {
  return { deviceId: 'press-07', streamId: STREAM, seq: 1, clock: CLOCK, readings, ...over };
}

/** Same sensors in first-appearance order, same (ts, value) sequence per sensor, values compared bit-exactly. */
function expectSameReadings(actual: readonly Reading[], expected: readonly Reading[]): void {
  const a = groupBySensor(actual);
  const e = groupBySensor(expected);
  expect([...a.keys()]).toEqual([...e.keys()]);
  for (const [sensor, list] of e) {
    const got = a.get(sensor)!;
    expect(got.length).toBe(list.length);
    list.forEach((r, i) => {
      expect(got[i]!.ts).toBe(r.ts);
      if (!Object.is(got[i]!.value, r.value)) throw new Error(`${sensor}[${i}]: ${got[i]!.value} is not ${r.value}`);
    });
  }
  // Decoded readings come back grouped: all of one sensor, then the next.
  const order = actual.map((r) => r.sensor).filter((s, i, all) => i === 0 || all[i - 1] !== s);
  expect(order).toEqual([...e.keys()]);
}

function roundTrip(b: Batch): void {
  const bytes = encodeBatch(b);
  expect(bytes).toBeInstanceOf(Uint8Array);
  const d = decodeBatch(bytes);
  expect(d.deviceId).toBe(b.deviceId);
  expect(Array.from(d.streamId)).toEqual(Array.from(b.streamId));
  expect(d.seq).toBe(b.seq);
  expect(d.clock).toEqual(b.clock);
  expectSameReadings(d.readings, b.readings);
}

describe('batch round trip (property)', () => {
  it('any valid batch decodes to the same readings, per sensor, bit-exact', () => {
    fc.assert(fc.property(batchArb(readingsArb()), roundTrip), { numRuns: 400 });
  });

  it('time series with negative and zero deltas, decimal and raw values', () => {
    fc.assert(fc.property(batchArb(timeSeriesReadingsArb()), roundTrip), { numRuns: 300 });
  });

  it('extreme values and timestamps', () => {
    const extremes = [Number.MAX_VALUE, -Number.MAX_VALUE, Number.MIN_VALUE, -Number.MIN_VALUE, -0, 0, 1e-7, 12.345678];
    const readings = extremes.flatMap((value, i) => [
      { sensor: `s${i}`, ts: 0, value },
      { sensor: `s${i}`, ts: Number.MAX_SAFE_INTEGER, value },
      { sensor: `s${i}`, ts: 0, value },
    ]);
    roundTrip(batch(readings, { seq: Number.MAX_SAFE_INTEGER }));
  });
});

describe('encoding choices', () => {
  const seriesOf = (b: Batch) => tidemark.v1.Batch.decode(encodeBatch(b)).series!;

  it('groups readings by sensor in first-appearance order, keeping each sensor order', () => {
    const series = seriesOf(
      batch([
        { sensor: 'b', ts: 30, value: 1 },
        { sensor: 'a', ts: 10, value: 2 },
        { sensor: 'b', ts: 20, value: 3 },
        { sensor: 'a', ts: 10, value: 4 },
      ]),
    );
    expect(series.map((s) => s.sensor)).toEqual(['b', 'a']);
    // First timestamp absolute, then deltas (negative and zero allowed).
    expect(series[0]!.timestamps!.map(Number)).toEqual([30, -10]);
    expect(series[1]!.timestamps!.map(Number)).toEqual([10, 0]);
  });

  it('decimal-scales fixed-precision values and falls back to doubles when that is not lossless', () => {
    const [dec, raw, negZero] = seriesOf(
      batch([
        { sensor: 'dec', ts: 1, value: 21.47 },
        { sensor: 'dec', ts: 2, value: 21.5 },
        { sensor: 'raw', ts: 1, value: Math.PI },
        { sensor: 'negzero', ts: 1, value: -0 },
      ]),
    );
    expect(dec!.decimalExponent).toBe(2);
    expect(dec!.scaledValues!.map(Number)).toEqual([2147, 3]);
    expect(dec!.values ?? []).toEqual([]);
    expect(raw!.values).toEqual([Math.PI]);
    expect(raw!.scaledValues ?? []).toEqual([]);
    expect(Object.is(negZero!.values![0], -0)).toBe(true);
  });

  it('validates before encoding', () => {
    expect(() => encodeBatch(batch([{ sensor: 't', ts: 1, value: Number.NaN }]))).toThrow(ValidationError);
  });
});

describe('decodeBatch', () => {
  const good = encodeBatch(batch([{ sensor: 't', ts: 5, value: 1.5 }]));

  it('reports an invalid but decodable batch as ValidationError, or returns it with validate: false', () => {
    const bytes = tidemark.v1.Batch.encode({ deviceId: 'bad/id', streamId: STREAM, seq: 0, series: [{ sensor: 't', timestamps: [5], values: [Number.NaN] }] }).finish();
    expect(() => decodeBatch(bytes)).toThrow(/deviceId/);
    const d = decodeBatch(bytes, { validate: false });
    expect(d.deviceId).toBe('bad/id');
    expect(d.seq).toBe(0);
    expect(d.readings[0]!.value).toBeNaN();
    expect(d.clock).toEqual({ synced: false, anchorWallMs: 0, anchorMonoMs: 0 });
  });

  it('applies limits before building readings', () => {
    const many = encodeBatch(batch(Array.from({ length: 11 }, (_, i) => ({ sensor: 't', ts: i, value: i }))));
    expect(() => decodeBatch(many, { limits: { maxReadings: 10, maxSensors: 5 } })).toThrow(/readings: expected at most 10 readings, got 11/);
    expect(decodeBatch(many, { validate: false, limits: { maxReadings: 10, maxSensors: 5 } }).readings).toHaveLength(11);
  });

  it('rejects 64-bit values beyond the safe range as ValidationError', () => {
    const big = (over: object) => tidemark.v1.Batch.encode({ deviceId: 'd', streamId: STREAM, seq: 1, series: [{ sensor: 't', timestamps: [5], values: [1] }], ...over }).finish();
    expect(() => decodeBatch(big({ seq: 2 ** 53 }), { validate: false })).toThrow(/^seq: /);
    expect(() => decodeBatch(big({ series: [{ sensor: 't', timestamps: [Number.MAX_SAFE_INTEGER, 1], values: [1, 2] }] }))).toThrow(/readings\[1\]\.ts/);
    expect(() => decodeBatch(big({ series: [{ sensor: 't', timestamps: [1, 1], scaledValues: [-Number.MAX_SAFE_INTEGER, -1] }] }))).toThrow(/readings\[1\]\.value/);
    expect(() => decodeBatch(big({ clock: { anchorMonoMs: -(2 ** 60) } }))).toThrow(/clock\.anchorMonoMs/);
    for (const over of [{ seq: 2 ** 53 }, { clock: { anchorWallMs: 2 ** 63 } }]) {
      try {
        decodeBatch(big(over));
        expect.unreachable();
      } catch (err) {
        expect(err).toBeInstanceOf(ValidationError);
      }
    }
  });

  it('reports misaligned columns as WireFormatError', () => {
    const bad = (series: object) => tidemark.v1.Batch.encode({ deviceId: 'd', streamId: STREAM, seq: 1, series: [series] }).finish();
    expect(() => decodeBatch(bad({ sensor: 't', timestamps: [1, 2], values: [1] }))).toThrow(WireFormatError);
    expect(() => decodeBatch(bad({ sensor: 't', timestamps: [1, 2], values: [1], scaledValues: [1] }))).toThrow(WireFormatError);
    expect(() => decodeBatch(bad({ sensor: 't', timestamps: [1], scaledValues: [1], decimalExponent: 23 }))).toThrow(WireFormatError);
  });

  it('returns a stream id that does not alias the input bytes', () => {
    const bytes = Uint8Array.from(good);
    const d = decodeBatch(bytes);
    bytes.fill(0);
    expect(Array.from(d.streamId)).toEqual(Array.from(STREAM));
  });

  it('accepts a Buffer as well as a Uint8Array', () => {
    expect(decodeBatch(Buffer.from(good)).readings).toEqual([{ sensor: 't', ts: 5, value: 1.5 }]);
  });
});

/** The columns back as readings, in their order. */
const rows = (c: ColumnarBatch): Reading[] => c.series.flatMap((s) => Array.from(s.ts, (ts, i) => ({ sensor: s.sensor, ts, value: s.values[i]! })));

describe('decodeBatchColumns', () => {
  it("gives decodeBatch's readings, in its order, and its header (property)", () => {
    const same = (b: Batch) => {
      const bytes = encodeBatch(b);
      const { readings, ...head } = decodeBatch(bytes, { validate: false });
      const { series, readingCount, ...colHead } = decodeBatchColumns(bytes);
      expect(colHead).toEqual(head);
      expect(readingCount).toBe(readings.length);
      expect(rows({ ...colHead, series, readingCount })).toEqual(readings);
    };
    fc.assert(fc.property(batchArb(readingsArb()), same), { numRuns: 300 });
    fc.assert(fc.property(batchArb(timeSeriesReadingsArb()), same), { numRuns: 200 });
  });

  it('keeps two series of one sensor apart, in message order', () => {
    const bytes = tidemark.v1.Batch.encode({
      deviceId: 'd',
      streamId: STREAM,
      seq: 1,
      series: [
        { sensor: 'a', timestamps: [5, 1], values: [1, 2] },
        { sensor: 'b', timestamps: [7], scaledValues: [15], decimalExponent: 1 },
        { sensor: 'a', timestamps: [2], values: [3] },
      ],
    }).finish();
    expect(rows(decodeBatchColumns(bytes))).toEqual(decodeBatch(bytes, { validate: false }).readings);
    expect(decodeBatchColumns(bytes).series.map((s) => s.sensor)).toEqual(['a', 'b', 'a']);
  });

  it('fails as decodeBatch does on malformed or unsafe input', () => {
    const enc = (over: object) => tidemark.v1.Batch.encode({ deviceId: 'd', streamId: STREAM, seq: 1, ...over }).finish();
    const bad = [
      enc({ series: [{ sensor: 't', timestamps: [1, 2], values: [1] }] }),
      enc({ series: [{ sensor: 't', timestamps: [1], scaledValues: [1], decimalExponent: 23 }] }),
      enc({ series: [{ sensor: 't', timestamps: [Number.MAX_SAFE_INTEGER, 1], values: [1, 2] }] }),
      enc({ series: [{ sensor: 't', timestamps: [1, 1], scaledValues: [-Number.MAX_SAFE_INTEGER, -1] }] }),
      enc({ seq: 2 ** 53 }),
      Uint8Array.from([0xff, 0xff, 0xff]),
    ];
    for (const bytes of bad) {
      let expected: unknown;
      try {
        decodeBatch(bytes, { validate: false });
      } catch (err) {
        expected = err;
      }
      expect(expected).toBeInstanceOf(Error);
      expect(() => decodeBatchColumns(bytes)).toThrow(expected as Error);
    }
  });
});

describe('peekBatchIdentity', () => {
  const b = batch([{ sensor: 't', ts: 5, value: 1.5 }], { seq: 77 });
  const bytes = encodeBatch(b);

  it('reads the identity of a valid batch', () => {
    expect(peekBatchIdentity(bytes)).toEqual({ deviceId: 'press-07', streamId: STREAM, seq: 77 });
  });

  it('reads the identity of an invalid or truncated batch', () => {
    const invalid = tidemark.v1.Batch.encode({ deviceId: 'press-07', streamId: STREAM, seq: 9, series: [{ sensor: 'x', timestamps: [1], values: [Number.NaN] }] }).finish();
    expect(() => decodeBatch(invalid)).toThrow(ValidationError);
    expect(peekBatchIdentity(invalid)?.seq).toBe(9);
    const truncated = bytes.subarray(0, bytes.length - 3);
    expect(() => decodeBatch(truncated)).toThrow(WireFormatError);
    expect(peekBatchIdentity(truncated)).toEqual({ deviceId: 'press-07', streamId: STREAM, seq: 77 });
  });

  it('is undefined when the identity is missing or malformed', () => {
    expect(peekBatchIdentity(new Uint8Array())).toBeUndefined();
    expect(peekBatchIdentity(Uint8Array.of(0xff, 0xff, 0xff))).toBeUndefined();
    expect(peekBatchIdentity(tidemark.v1.Batch.encode({ deviceId: 'd', streamId: STREAM.subarray(0, 8), seq: 1 }).finish())).toBeUndefined();
    expect(peekBatchIdentity(tidemark.v1.Batch.encode({ deviceId: 'd', streamId: STREAM }).finish())).toBeUndefined();
    expect(peekBatchIdentity(tidemark.v1.Batch.encode({ deviceId: 'a b', streamId: STREAM, seq: 1 }).finish())).toBeUndefined();
    expect(peekBatchIdentity(tidemark.v1.Batch.encode({ deviceId: 'd', streamId: STREAM, seq: 2 ** 60 }).finish())).toBeUndefined();
    expect(peekBatchIdentity('nope' as unknown as Uint8Array)).toBeUndefined();
  });
});
