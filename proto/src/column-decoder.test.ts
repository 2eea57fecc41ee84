// The fast column walk against its definition, decodeBatchColumnsReference (the generated decoder): on
// encodeBatch output it must take the batch itself and agree bit for bit; on hand-built and damaged bytes,
// decodeBatchColumns must give the reference's result or the reference's error.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { decodeBatchColumns, decodeBatchColumnsReference, encodeBatch, type ColumnarBatch } from './batch-codec.js';
import { decodeColumnsFast } from './column-decoder.js';
import type { Batch, Reading } from './model.js';
import { clockArb, nameArb, streamIdArb } from './testing/arbitraries.js';

const MAX = Number.MAX_SAFE_INTEGER;

/** Everything a ColumnarBatch says but its columns, which sameColumns compares. */
function header(c: ColumnarBatch): unknown {
  return {
    deviceId: c.deviceId,
    streamId: Array.from(c.streamId),
    plainStreamId: Object.getPrototypeOf(c.streamId) === Uint8Array.prototype,
    seq: c.seq,
    clock: c.clock,
    readingCount: c.readingCount,
    sensors: c.series.map((s) => [s.sensor, s.ts.length, s.values.length]),
  };
}

/** Column by column, value by value with Object.is (-0 is not 0); throws at the first difference. */
function sameColumns(a: ColumnarBatch, b: ColumnarBatch): void {
  expect(header(a)).toEqual(header(b));
  a.series.forEach((s, k) => {
    const r = b.series[k]!;
    for (let i = 0; i < s.ts.length; i++) {
      if (!Object.is(s.ts[i], r.ts[i]) || !Object.is(s.values[i], r.values[i])) {
        throw new Error(`series[${k}][${i}]: (${s.ts[i]}, ${s.values[i]}) is not (${r.ts[i]}, ${r.values[i]})`);
      }
    }
  });
}

function plain(c: ColumnarBatch): unknown {
  return { ...(header(c) as object), columns: c.series.map((s) => [Array.from(s.ts), Array.from(s.values, (v) => (Object.is(v, -0) ? '-0' : v))]) };
}

function outcome(decode: (bytes: Uint8Array) => ColumnarBatch, bytes: Uint8Array): unknown {
  try {
    return { ok: plain(decode(bytes)) };
  } catch (err) {
    return { error: err instanceof Error ? [err.constructor.name, err.message] : String(err) };
  }
}

/** decodeBatchColumns gives the reference's result, or throws the reference's error. */
function expectSame(bytes: Uint8Array): void {
  expect(outcome(decodeBatchColumns, bytes)).toEqual(outcome(decodeBatchColumnsReference, bytes));
}

/** The fast walk takes these bytes itself (no fallback) and agrees with the reference. */
function expectFast(bytes: Uint8Array): void {
  const fast = decodeColumnsFast(bytes);
  expect(fast, 'fast path declined').toBeDefined();
  sameColumns(fast!, decodeBatchColumnsReference(bytes));
}

// ---- encodeBatch output (property) ----

/** One sensor's readings: a start (small, now-ish, or near 2^53) and signed steps, zero and negative included. */
const seriesArb = (maxSteps: number) => fc.record({
  sensor: nameArb,
  start: fc.oneof(fc.integer({ min: 0, max: 1000 }), fc.integer({ min: 1_600_000_000_000, max: 1_900_000_000_000 }), fc.integer({ min: MAX - 5_000_000, max: MAX })),
  steps: fc.array(fc.oneof(fc.constant(0), fc.integer({ min: -2_000, max: 2_000 }), fc.integer({ min: -(2 ** 40), max: 2 ** 40 })), { minLength: 1, maxLength: maxSteps, size: 'max' }),
  // Fixed-precision decimals (decimal-scaled on the wire), raw doubles, or large integers.
  style: fc.constantFrom('decimal', 'double', 'integer'),
  k: fc.integer({ min: 0, max: 6 }),
  seed: fc.integer(),
});

const columnBatchArb = (maxSeries: number, maxSteps: number): fc.Arbitrary<Batch> => fc
  .record({
    deviceId: nameArb,
    streamId: streamIdArb,
    seq: fc.oneof(fc.constantFrom(1, MAX), fc.integer({ min: 1, max: 2 ** 31 })),
    clock: clockArb,
    series: fc.uniqueArray(seriesArb(maxSteps), { minLength: 1, maxLength: maxSeries, selector: (s) => s.sensor, size: 'max' }),
    lowWaterSeq: fc.option(fc.integer({ min: 1, max: 2 ** 31 }), { nil: undefined }),
  })
  .map(({ series, lowWaterSeq, ...head }) => {
    const readings: Reading[] = [];
    for (const s of series) {
      let ts = s.start;
      let x = s.seed;
      for (const step of s.steps) {
        ts = Math.min(MAX, Math.max(0, ts + step));
        x = (Math.imul(x, 1103515245) + 12345) | 0;
        const value = s.style === 'decimal' ? Number(((x % 2_000_000) / 10 ** s.k).toFixed(s.k)) : s.style === 'double' ? x / 7.3 : x * 2 ** 20;
        readings.push({ sensor: s.sensor, ts, value });
      }
    }
    return { ...head, readings, ...(lowWaterSeq ? { lowWaterSeq: Math.min(lowWaterSeq, head.seq) } : {}) };
  });

describe('decodeColumnsFast on encodeBatch output (property)', () => {
  it('takes every encoded batch itself and equals the reference bit for bit', () => {
    fc.assert(
      fc.property(columnBatchArb(24, 400), (b) => {
        const bytes = encodeBatch(b);
        expectFast(bytes);
        expectFast(Uint8Array.from(bytes)); // a plain Uint8Array as well as the Buffer protobufjs gives
        expect(decodeBatchColumns(bytes).readingCount).toBe(b.readings.length);
      }),
      { numRuns: 100 },
    );
  });

  it('gives the reference result or error for every truncation and for overwritten bytes', () => {
    const small = columnBatchArb(4, 30);
    fc.assert(
      fc.property(small, fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { maxLength: 4 }), (b, edits) => {
        const bytes = Uint8Array.from(encodeBatch(b));
        const damaged = Uint8Array.from(bytes);
        for (const [at, byte] of edits) damaged[at % damaged.length] = byte;
        expectSame(damaged);
        for (const cut of [1, 2, 3, 5, 8, 13]) expectSame(bytes.subarray(0, Math.max(0, bytes.length - cut)));
      }),
      { numRuns: 300 },
    );
  });
});

// ---- hand-built messages ----

/** A varint of v (BigInt for 64-bit values); `pad` extra continuation bytes make a non-minimal encoding. */
function varint(v: bigint | number, pad = 0): number[] {
  let x = BigInt.asUintN(64, BigInt(v));
  const out: number[] = [];
  while (x >= 128n) {
    out.push(Number(x & 127n) | 128);
    x >>= 7n;
  }
  for (let i = 0; i < pad; i++) out.push(Number(x) | 128), (x = 0n);
  out.push(Number(x));
  return out;
}
const zz = (v: bigint | number): bigint => (BigInt(v) >= 0n ? 2n * BigInt(v) : -2n * BigInt(v) - 1n);
const tag = (field: number, wireType: number): number[] => varint((field << 3) | wireType);
const delimited = (field: number, body: number[]): number[] => [...tag(field, 2), ...varint(body.length), ...body];
const text = (s: string): number[] => [...new TextEncoder().encode(s)];
const f64 = (...xs: number[]): number[] => [...new Uint8Array(Float64Array.from(xs).buffer)];
const zigzags = (...xs: Array<bigint | number>): number[] => xs.flatMap((x) => varint(zz(x)));
const STREAM = Array.from({ length: 16 }, (_, i) => i + 1);

/** Unknown fields of every wire type (varint, fixed64, length-delimited, group with content, fixed32). */
const UNKNOWN = [
  ...tag(9, 0), ...varint(-5n),
  ...tag(10, 1), ...f64(1.5),
  ...delimited(11, [1, 2, 3]),
  ...tag(12, 3), ...tag(1, 0), 7, ...delimited(2, [9]), ...tag(12, 4),
  ...tag(13, 5), 1, 2, 3, 4,
  ...tag(2047, 0), 1, // a two-byte tag
];

const head = (): number[] => [...delimited(1, text('press-07')), ...delimited(2, STREAM), ...tag(3, 0), ...varint(42)];
const clock = (...body: number[]): number[] => delimited(4, body);
const series = (...body: number[]): number[] => delimited(5, body);
const msg = (...parts: number[][]): Uint8Array => Uint8Array.from(parts.flat());

const scaledSeries = series(...delimited(1, text('t')), ...delimited(2, zigzags(1_700_000_000_000, 1000, 0, -500)), ...tag(4, 0), 2, ...delimited(5, zigzags(2147, 3, -10, 0)));
const doubleSeries = series(...delimited(1, text('p')), ...delimited(2, zigzags(5, 1)), ...delimited(3, f64(Math.PI, -0)));

describe('decodeBatchColumns on hand-built bytes', () => {
  it('skips unknown fields of every wire type at every level', () => {
    const bytes = msg(
      UNKNOWN,
      head(),
      clock(...UNKNOWN, ...tag(1, 0), 1, ...tag(2, 0), ...varint(1_741_939_200_000), ...tag(3, 0), ...varint(-123n)),
      series(...UNKNOWN, ...delimited(1, text('t')), ...delimited(2, zigzags(10, 1)), ...UNKNOWN, ...delimited(3, f64(1, 2)), ...UNKNOWN),
      UNKNOWN,
    );
    expectFast(bytes);
    expect(decodeBatchColumns(bytes).clock).toEqual({ synced: true, anchorWallMs: 1_741_939_200_000, anchorMonoMs: -123 });
    expect(Array.from(decodeBatchColumns(bytes).series[0]!.ts)).toEqual([10, 11]);
  });

  it('skips a known field sent with another wire type, as the generated decoder does', () => {
    expectFast(msg(head(), tag(1, 0), [5], tag(5, 0), [1], tag(3, 5), [1, 0, 0, 0], scaledSeries, series(...tag(2, 5), 1, 2, 3, 4, ...delimited(1, text('x')))));
  });

  it('leaves unpacked repeated sint64 and double elements to the reference', () => {
    const unpackedTs = msg(head(), series(...delimited(1, text('t')), ...tag(2, 0), ...varint(zz(5)), ...tag(2, 0), ...varint(zz(3)), ...delimited(3, f64(1, 2))));
    const unpackedDoubles = msg(head(), series(...delimited(1, text('t')), ...delimited(2, zigzags(5, 3)), ...tag(3, 1), ...f64(1), ...tag(3, 1), ...f64(2)));
    const unpackedScaled = msg(head(), series(...delimited(1, text('t')), ...delimited(2, zigzags(5, 3)), ...tag(4, 0), 1, ...tag(5, 0), ...varint(zz(7)), ...delimited(5, zigzags(-2))));
    for (const bytes of [unpackedTs, unpackedDoubles, unpackedScaled]) {
      expect(decodeColumnsFast(bytes)).toBeUndefined();
      expectSame(bytes);
      expect(decodeBatchColumns(bytes).readingCount).toBe(2);
    }
  });

  it('concatenates a packed field split into several occurrences (deltas run on across the split)', () => {
    const bytes = msg(
      head(),
      series(...delimited(1, text('t')), ...delimited(2, zigzags(100, 5)), ...delimited(5, zigzags(10)), ...tag(4, 0), 1, ...delimited(2, zigzags(-3)), ...delimited(5, zigzags(2, -4)), ...delimited(2, [])),
      series(...delimited(1, text('d')), ...delimited(3, f64(1)), ...delimited(2, zigzags(7)), ...delimited(3, f64(2, 3)), ...delimited(2, zigzags(1, 1))),
    );
    expectFast(bytes);
    const [t, d] = decodeBatchColumns(bytes).series;
    expect(Array.from(t!.ts)).toEqual([100, 105, 102]);
    expect(Array.from(t!.values)).toEqual([1, 1.2, 0.8]);
    expect(Array.from(d!.ts)).toEqual([7, 8, 9]);
    expect(Array.from(d!.values)).toEqual([1, 2, 3]);
  });

  it('merges a clock sent twice, and lets later scalars override earlier ones', () => {
    const wall = [...tag(2, 0), ...varint(1000)];
    for (const bytes of [
      msg(head(), clock(...tag(1, 0), 1, ...wall), clock(...tag(3, 0), ...varint(77)), scaledSeries),
      msg(head(), clock(...tag(1, 0), 1), clock(...tag(1, 0), 0, ...tag(2, 0), 5), clock()),
      msg(head(), delimited(1, text('other')), tag(3, 0), varint(7), delimited(2, [1, 2]), clock(...wall), clock(...tag(2, 0), 0)),
      msg(head(), series(...delimited(1, text('a')), ...delimited(1, text('b')), ...tag(4, 0), 9, ...tag(4, 0), 1, ...delimited(2, zigzags(1)), ...delimited(5, zigzags(15)))),
    ]) {
      expectFast(bytes);
    }
    expect(decodeBatchColumns(msg(head(), clock(...tag(1, 0), 1, ...wall), clock(...tag(3, 0), ...varint(77)))).clock).toEqual({ synced: true, anchorWallMs: 1000, anchorMonoMs: 77 });
  });

  it('handles padded varints and 64-bit values up to ±(2^53 - 1), and leaves larger ones to the reference', () => {
    const padded = msg(head(), series(...delimited(1, text('t')), ...delimited(2, [...varint(zz(5), 3), ...varint(zz(-1), 5), ...varint(zz(1))]), ...delimited(3, f64(1, 2, 3))));
    expectFast(padded);
    expect(Array.from(decodeBatchColumns(padded).series[0]!.ts)).toEqual([5, 4, 5]);
    const edges = msg(head(), series(...delimited(1, text('t')), ...delimited(2, zigzags(MAX, -MAX, 0, 1 - 2 ** 52)), ...tag(4, 0), 0, ...delimited(5, zigzags(-MAX, MAX, MAX, -1))));
    expectFast(edges);
    for (const big of [2n ** 53n, -(2n ** 53n), 2n ** 62n, -(2n ** 63n)]) {
      // Also after a lead of the other sign, where the running sum would land back in the safe range.
      const lead = big > 0n ? -100 : 100;
      for (const [field, column] of [[2, [big, 1]], [5, [big, 1]], [2, [lead, big]], [5, [lead, big]]] as const) {
        const unsafe = delimited(field, zigzags(...column));
        const cols = field === 2 ? [...unsafe, ...delimited(5, zigzags(1, 1))] : [...delimited(2, zigzags(1, 1)), ...unsafe];
        const bytes = msg(head(), series(...delimited(1, text('t')), ...cols));
        expect(decodeColumnsFast(bytes)).toBeUndefined();
        expectSame(bytes);
        expect(() => decodeBatchColumns(bytes)).toThrow(/expected an integer within/);
      }
    }
    // Sums leaving the safe range, a 9-byte padded small value, an 11-byte varint, seq and anchors beyond 2^53.
    for (const bytes of [
      msg(head(), series(...delimited(2, zigzags(MAX, 1)), ...delimited(3, f64(1, 2)))),
      msg(head(), series(...delimited(2, varint(2, 8)), ...delimited(3, f64(1)))),
      msg(head(), series(...delimited(2, [...varint(2, 10)]), ...delimited(3, f64(1)))),
      msg(head(), tag(3, 0), varint(2n ** 53n), scaledSeries),
      msg(head(), clock(...tag(2, 0), ...varint(-(2n ** 60n))), scaledSeries),
      msg(head(), tag(6, 0), varint(2n ** 64n - 1n), scaledSeries),
    ]) {
      expectSame(bytes);
    }
  });

  it('gives the reference error for columns that do not line up', () => {
    for (const bytes of [
      msg(head(), series(...delimited(2, zigzags(1, 2)), ...delimited(3, f64(1)))),
      msg(head(), series(...delimited(2, zigzags(1, 2)), ...delimited(3, f64(1)), ...delimited(5, zigzags(1)))),
      msg(head(), series(...delimited(2, zigzags(1)), ...delimited(5, zigzags(1)), ...tag(4, 0), 23)),
      msg(head(), series(...delimited(2, zigzags(1)), ...delimited(3, [1, 2, 3, 4, 5, 6, 7, 8, 9]))),
      msg(head(), series(...delimited(2, zigzags(1)))),
    ]) {
      expect(decodeColumnsFast(bytes)).toBeUndefined();
      expectSame(bytes);
      expect(() => decodeBatchColumns(bytes)).toThrow();
    }
  });

  it('gives the reference result or error for the bytes cut at every point', () => {
    const full = msg(UNKNOWN, head(), clock(...tag(1, 0), 1, ...tag(3, 0), ...varint(-9n)), scaledSeries, doubleSeries, series(...delimited(2, [...zigzags(2n ** 40n), ...varint(zz(3), 4)]), ...delimited(3, f64(1, 2))), tag(6, 0), varint(3));
    expectFast(full);
    for (let cut = 0; cut < full.length; cut++) expectSame(full.subarray(0, cut));
    expect(() => decodeBatchColumns(full.subarray(0, full.length - 1))).toThrow(/not a tidemark\.v1\.Batch/);
  });

  it('rejects what is not bytes as the reference does', () => {
    expect(decodeColumnsFast('nope' as unknown as Uint8Array)).toBeUndefined();
    expect(() => decodeBatchColumns('nope' as unknown as Uint8Array)).toThrow(/expected bytes/);
    expectFast(new Uint8Array(0));
  });
});
