// The fast encoder against its definition, encodeBatchReference (the generated encoder): on every valid batch
// the bytes must be identical, and decodeBatch must give the readings back bit for bit; on every invalid one,
// encodeBatch must throw the reference's ValidationError. The arbitraries aim at what the hand-written varints
// and the inlined decimal scaling could get wrong: 64-bit zig-zag beyond 2^31 and 2^53, negative anchors
// (10-byte int64), exponents that grow along a series, fallback to doubles, and length prefixes of 2+ bytes.
import fc from 'fast-check';
import { ValidationError } from '@tidemark/shared';
import { describe, expect, it } from 'vitest';
import { decodeBatch, encodeBatch, encodeBatchReference } from './batch-codec.js';
import { STANDARD_START_MS, standardBatchReadings } from './fixtures/standard.js';
import type { Batch, Reading } from './model.js';
import { batchArb, clockArb, groupBySensor, nameArb, readingsArb, streamIdArb, timeSeriesReadingsArb } from './testing/arbitraries.js';

const MAX = Number.MAX_SAFE_INTEGER;
const STREAM = Uint8Array.from({ length: 16 }, (_, i) => i + 1);

const hex = (bytes: Uint8Array): string => Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('hex');

/** Same bytes as the reference (compared as hex, so a failure shows where), and the readings come back. */
function expectSameBytes(b: Batch): void {
  const fast = encodeBatch(b);
  expect(hex(fast)).toBe(hex(encodeBatchReference(b)));
  expect(Buffer.isBuffer(fast)).toBe(true); // like protobufjs's BufferWriter
  const d = decodeBatch(fast);
  expect([d.deviceId, hex(d.streamId), d.seq, d.clock, d.lowWaterSeq]).toEqual([b.deviceId, hex(b.streamId), b.seq, { ...b.clock, anchorWallMs: b.clock.anchorWallMs + 0, anchorMonoMs: b.clock.anchorMonoMs + 0 }, b.lowWaterSeq]);
  const got = groupBySensor(d.readings);
  const want = groupBySensor(b.readings);
  expect([...got.keys()]).toEqual([...want.keys()]);
  for (const [sensor, list] of want) {
    const back = got.get(sensor)!;
    expect(back.length).toBe(list.length);
    list.forEach((r, i) => {
      // ts -0 comes back as 0 (an int64 has no -0); values must be bit-exact, -0 included.
      if (back[i]!.ts !== r.ts || !Object.is(back[i]!.value, r.value)) {
        throw new Error(`${sensor}[${i}]: (${back[i]!.ts}, ${back[i]!.value}) is not (${r.ts}, ${r.value})`);
      }
    });
  }
}

// ---- arbitraries beyond testing/arbitraries.ts ----

/** Timestamps that make deltas of every varint length, both signs, up to ±MAX_SAFE_INTEGER (and -0). */
const edgeTsArb = fc.oneof(
  fc.constantFrom(0, -0, 1, 2 ** 30 - 1, 2 ** 30, 2 ** 31, 2 ** 32, 2 ** 49, 2 ** 52 + 1, 2 ** 53 - 2, MAX),
  fc.integer({ min: 1_600_000_000_000, max: 1_900_000_000_000 }),
  fc.maxSafeNat(),
);

/**
 * Deltas whose zig-zag value z sits on each side of every varint size boundary 2^(7j) a safe delta can reach
 * (z = 2^(7j) - 2, - 1, + 0, + 1): 63, -64, 64, -65, 8191, -8192, ...
 */
const BOUNDARY_DELTAS: number[] = [1, 2, 3, 4, 5, 6, 7].flatMap((j) => {
  const half = 2 ** (7 * j - 1);
  return [half - 1, -half, half, -half - 1];
});

/** n timestamps from a start in [2^50, 2^52] by boundary deltas (the step is reversed where it would leave [0, 2^53)). */
const boundaryTsArb = (n: number): fc.Arbitrary<number[]> =>
  fc.tuple(fc.integer({ min: 2 ** 50, max: 2 ** 52 }), fc.array(fc.constantFrom(...BOUNDARY_DELTAS, 0, 1), { minLength: n, maxLength: n })).map(([start, ds]) => {
    let ts = start;
    return ds.map((d) => (ts += ts + d >= 0 && ts + d <= MAX ? d : -d));
  });

/** A decimal m / 10^k with m of any size up to 2^53 (large ones fail to scale at higher k), or an edge double. */
const edgeValueArb = fc.oneof(
  fc.tuple(fc.oneof(fc.integer({ min: -999, max: 999 }), fc.maxSafeInteger(), fc.integer({ min: -(2 ** 40), max: 2 ** 40 })), fc.integer({ min: 0, max: 11 })).map(([m, k]) => m / 10 ** k),
  fc.constantFrom(-0, 0, Number.MIN_VALUE, -Number.MIN_VALUE, 2.2250738585072014e-308, 5e-324 * 3, Number.MAX_VALUE, -Number.MAX_VALUE, MAX, -MAX, 2 ** 53, 1e-9, 1e-10, 0.1 + 0.2),
  fc.double({ noNaN: true, noDefaultInfinity: true }),
);

/**
 * One sensor's values in one style, so that whole series decimal-scale or fall back for known reasons:
 * fixed precision (scales), growing precision (the exponent rises along the series, earlier values are
 * re-checked), 9-decimal large magnitudes (scaled deltas near 8 bytes: scaling may not pay), edge values.
 */
const seriesValuesArb = (n: number): fc.Arbitrary<number[]> =>
  fc.oneof(
    fc.tuple(fc.integer({ min: 0, max: 9 }), fc.array(fc.integer({ min: -2_000_000, max: 2_000_000 }), { minLength: n, maxLength: n })).map(([k, ms]) => ms.map((m) => Number((m / 10 ** k).toFixed(k)))),
    fc.array(fc.tuple(fc.integer({ min: -99_999, max: 99_999 }), fc.integer({ min: 0, max: 9 })), { minLength: n, maxLength: n }).map((xs) => xs.map(([m, k]) => m / 10 ** k)),
    fc.array(fc.integer({ min: -(10 ** 15), max: 10 ** 15 }), { minLength: n, maxLength: n }).map((ms) => ms.map((m) => m / 1e9)),
    fc.array(edgeValueArb, { minLength: n, maxLength: n }),
    // Integers whose mantissa deltas sit on varint size boundaries (mostly small steps, so scaling pays).
    fc.array(fc.oneof({ weight: 1, arbitrary: fc.constantFrom(...BOUNDARY_DELTAS) }, { weight: 3, arbitrary: fc.integer({ min: -3, max: 3 }) }), { minLength: n, maxLength: n }).map((ds) => {
      let m = 0;
      return ds.map((d) => (m += d));
    }),
  );

/** Readings of up to maxSensors sensors interleaved in any order, each sensor with its own value style. */
const styledReadingsArb = (maxSensors: number, maxPerSensor: number): fc.Arbitrary<Reading[]> =>
  fc
    .uniqueArray(nameArb, { minLength: 1, maxLength: maxSensors })
    .chain((sensors) =>
      fc.tuple(
        fc.tuple(...sensors.map((sensor) => fc.integer({ min: 1, max: maxPerSensor }).chain((n) => fc.tuple(fc.constant(sensor), fc.oneof(fc.array(edgeTsArb, { minLength: n, maxLength: n }), boundaryTsArb(n)), seriesValuesArb(n))))),
        fc.array(fc.nat(), { maxLength: 400 }),
      ),
    )
    .map(([series, order]) => {
      // Interleave: repeatedly take the next reading of the sensor `order` points at.
      const queues = series.map(([sensor, ts, values]) => ts.map((t, i) => ({ sensor, ts: t, value: values[i]! })));
      const out: Reading[] = [];
      let o = 0;
      while (queues.some((q) => q.length > 0)) {
        const live = queues.filter((q) => q.length > 0);
        out.push(live[(order[o++] ?? 0) % live.length]!.shift()!);
      }
      return out;
    });

const anchorArb = fc.oneof(fc.maxSafeInteger(), fc.constantFrom(0, -0, -1, 1, MAX, -MAX, -(2 ** 32), 2 ** 32, -(2 ** 31)));

const fullBatchArb = (readings: fc.Arbitrary<Reading[]>): fc.Arbitrary<Batch> =>
  fc
    .record({
      deviceId: nameArb,
      streamId: streamIdArb,
      seq: fc.oneof(fc.constantFrom(1, 127, 128, 2 ** 31, 2 ** 32, MAX), fc.maxSafeNat().map((n) => Math.max(1, n))),
      clock: fc.record({ synced: fc.boolean(), anchorWallMs: anchorArb, anchorMonoMs: anchorArb }),
      readings,
      lowWater: fc.option(fc.double({ min: 0, max: 1, noNaN: true }), { nil: undefined }),
    })
    .map(({ lowWater, ...b }) => (lowWater === undefined ? b : { ...b, lowWaterSeq: Math.max(1, Math.floor(lowWater * b.seq)) }));

describe('encodeBatch (fast) equals encodeBatchReference byte for byte (property)', () => {
  it('on the shared arbitraries: any readings, time series', () => {
    fc.assert(fc.property(batchArb(readingsArb(12, 80)), expectSameBytes), { numRuns: 400 });
    fc.assert(fc.property(batchArb(timeSeriesReadingsArb()), expectSameBytes), { numRuns: 200 });
  });

  it('on styled series: every delta length, growing exponents, fallbacks, anchors, low-water marks', () => {
    fc.assert(fc.property(fullBatchArb(styledReadingsArb(8, 40)), expectSameBytes), { numRuns: 500 });
  });

  it('on one reading', () => {
    fc.assert(fc.property(fullBatchArb(fc.tuple(nameArb, edgeTsArb, edgeValueArb).map(([sensor, ts, value]) => [{ sensor, ts, value }])), expectSameBytes), { numRuns: 300 });
  });

  it('on many sensors (length prefixes of several bytes)', () => {
    fc.assert(fc.property(fullBatchArb(styledReadingsArb(200, 3)), expectSameBytes), { numRuns: 15 });
    fc.assert(fc.property(fullBatchArb(styledReadingsArb(3, 3000)), expectSameBytes), { numRuns: 10 });
  });
});

describe('encodeBatch (fast) on fixed batches', () => {
  const base = { deviceId: 'press-07', streamId: STREAM, seq: 1, clock: { synced: true, anchorWallMs: STANDARD_START_MS, anchorMonoMs: 123_456 } };

  it('the standard fixture and the edge shape (10 sensors x 25 csv lines)', () => {
    for (const seed of [1, 2, 3]) expectSameBytes({ ...base, readings: standardBatchReadings(seed) });
    const readings: Reading[] = [];
    for (let line = 0; line < 25; line++) {
      for (let c = 0; c < 10; c++) readings.push({ sensor: `col_${c}`, ts: STANDARD_START_MS + line * 10, value: Number((20 + c + Math.sin(line + c)).toFixed(1 + (c % 3))) });
    }
    expectSameBytes({ ...base, readings });
  });

  it('the largest batch: 100,000 readings over 1,000 sensors, 64-character names', () => {
    const readings: Reading[] = [];
    for (let i = 0; i < 100_000; i++) {
      const s = i % 1000;
      readings.push({ sensor: `${String(s).padStart(4, '0')}${'x'.repeat(60)}`, ts: (i * 7919) % 1_000_003, value: s % 2 ? i / 100 : i * Math.PI });
    }
    expectSameBytes({ ...base, seq: MAX, lowWaterSeq: MAX, readings });
    expectSameBytes({ ...base, readings: readings.map((r) => ({ ...r, sensor: 'one' })) }); // one series of 100,000
  });

  it('extremes: ±MAX_SAFE_INTEGER deltas, -0, ±MAX_VALUE, subnormals, clock defaults left out', () => {
    const extremes = [Number.MAX_VALUE, -Number.MAX_VALUE, Number.MIN_VALUE, -Number.MIN_VALUE, -0, 0, 1e-9, 1e-10, MAX, -MAX, 9007199254740.991];
    const readings = extremes.flatMap((value, i) => [
      { sensor: `s${i}`, ts: 0, value },
      { sensor: `s${i}`, ts: MAX, value },
      { sensor: `s${i}`, ts: -0, value },
      { sensor: `s${i}`, ts: MAX - 1, value: 0.5 },
    ]);
    expectSameBytes({ ...base, seq: MAX, readings });
    for (const clock of [{ synced: false, anchorWallMs: 0, anchorMonoMs: -0 }, { synced: false, anchorWallMs: -MAX, anchorMonoMs: -1 }]) {
      expectSameBytes({ ...base, clock, readings });
    }
  });

  it('decimal scaling edge cases: exponent growth re-checks earlier values; not smaller than doubles', () => {
    // 9007199254740.991 scales at 10^3 (mantissa MAX_SAFE_INTEGER) but not at 10^4, which 0.0001 needs.
    const series = [[9007199254740.991, 0.0001], [0.0001, 9007199254740.991], [1, 2.5, 2.25, 2.125, 1e-9], [1234567.123456789, -1234567.987654321], [MAX, -MAX], [1, -0]];
    for (const values of series) expectSameBytes({ ...base, readings: values.map((value, i) => ({ sensor: 'v', ts: i, value })) });
  });

  it('length prefixes on each side of 128 and 16,384 bytes (series, packed timestamps, scaled values, doubles)', () => {
    // One series of n readings, timestamps 0, 1, 2 ... and values 0, 1, 2 ... (both 1 byte per reading), or raw.
    const sizes = [...Array.from({ length: 150 }, (_, i) => i + 1), 2040, 2047, 2048, 2049, 16_370, 16_383, 16_384, 16_385];
    for (const n of sizes) {
      const readings = Array.from({ length: n }, (_, i) => ({ sensor: 's', ts: i, value: i }));
      expectSameBytes({ ...base, readings });
      expectSameBytes({ ...base, readings: readings.map((r) => ({ ...r, value: r.value + 0.1 + 0.2 })) }); // raw doubles
    }
  });

  it('every zig-zag varint size boundary, as timestamp delta, first timestamp and mantissa delta', () => {
    for (const d of BOUNDARY_DELTAS) {
      const readings = [
        { sensor: 'delta', ts: 2 ** 52, value: 0 },
        { sensor: 'delta', ts: 2 ** 52 + d, value: d },
        { sensor: 'delta', ts: 2 ** 52 + d, value: d },
        { sensor: 'first', ts: Math.abs(d), value: -d },
      ];
      expectSameBytes({ ...base, readings });
    }
  });

  it('returns a new buffer each time (callers keep it)', () => {
    const a = { ...base, readings: [{ sensor: 'a', ts: 1, value: 1.5 }] };
    const first = encodeBatch(a);
    const copy = hex(first);
    encodeBatch({ ...a, readings: [{ sensor: 'b', ts: 9, value: 7 }] });
    expect(hex(first)).toBe(copy);
  });
});

describe('encodeBatch (fast) on invalid batches', () => {
  /** The error a call throws, as [class, message]. */
  const thrown = (f: () => unknown): unknown => {
    try {
      f();
    } catch (err) {
      return err instanceof Error ? [err.constructor.name, err.message] : err;
    }
    return 'no error';
  };
  const bad: unknown[] = [Number.NaN, Infinity, -Infinity, -1, 1.5, 2 ** 53, '1', null, undefined];

  it("throws the reference's ValidationError for any broken field (property)", () => {
    fc.assert(
      fc.property(batchArb(readingsArb(4, 10)), fc.nat(), fc.constantFrom(...bad), fc.constantFrom('ts', 'value', 'sensor', 'seq', 'lowWaterSeq', 'anchorWallMs', 'deviceId', 'streamId', 'readings'), (b, at, v, field) => {
        const copy: Record<string, unknown> = { ...b, readings: b.readings.map((r) => ({ ...r })), clock: { ...b.clock } };
        const readings = copy.readings as Array<Record<string, unknown>>;
        if (field === 'ts' || field === 'value' || field === 'sensor') readings[at % readings.length]![field] = v;
        else if (field === 'anchorWallMs') (copy.clock as Record<string, unknown>)[field] = v;
        else copy[field] = field === 'readings' ? [] : v;
        const batch = copy as unknown as Batch;
        const expected = thrown(() => encodeBatchReference(batch));
        expect(thrown(() => encodeBatch(batch))).toEqual(expected);
        if (Array.isArray(expected)) expect(expected[0]).toBe(ValidationError.name);
      }),
      { numRuns: 400 },
    );
  });
});
