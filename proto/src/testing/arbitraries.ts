// fast-check arbitraries for the proto tests (not part of the build: see tsconfig exclude).
import fc from 'fast-check';
import type { Batch, ClockState, Reading } from '../model.js';

const HEAD = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789'.split('');
const TAIL = [...HEAD, '.', '_', '-'];

/** Names matching NAME_PATTERN, including the 64-character maximum. */
export const nameArb: fc.Arbitrary<string> = fc
  .tuple(fc.constantFrom(...HEAD), fc.array(fc.constantFrom(...TAIL), { maxLength: 63 }))
  .map(([h, t]) => h + t.join(''));

export const streamIdArb: fc.Arbitrary<Uint8Array> = fc.uint8Array({ minLength: 16, maxLength: 16 });

export const tsArb: fc.Arbitrary<number> = fc.oneof(
  { weight: 1, arbitrary: fc.constantFrom(0, 1, Number.MAX_SAFE_INTEGER, Number.MAX_SAFE_INTEGER - 1) },
  { weight: 6, arbitrary: fc.integer({ min: 1_600_000_000_000, max: 1_900_000_000_000 }) },
  { weight: 2, arbitrary: fc.maxSafeNat() },
);

/** Decimals with 0..6 places, as a device printing fixed-precision text would produce. */
const decimalArb = fc
  .tuple(fc.integer({ min: -1_000_000_000, max: 1_000_000_000 }), fc.integer({ min: 0, max: 6 }))
  .map(([m, k]) => Number((m / 10 ** k).toFixed(k)));

export const valueArb: fc.Arbitrary<number> = fc.oneof(
  { weight: 1, arbitrary: fc.constantFrom(Number.MAX_VALUE, -Number.MAX_VALUE, Number.MIN_VALUE, -Number.MIN_VALUE, -0, 0, 0.1 + 0.2, Number.MAX_SAFE_INTEGER, -Number.MAX_SAFE_INTEGER, 2 ** 53, 1e21, 123456789.123456789) },
  { weight: 2, arbitrary: fc.integer() },
  { weight: 2, arbitrary: fc.double({ noNaN: true, noDefaultInfinity: true }) },
  { weight: 5, arbitrary: decimalArb },
);

export const clockArb: fc.Arbitrary<ClockState> = fc.record({
  synced: fc.boolean(),
  anchorWallMs: fc.maxSafeInteger(),
  anchorMonoMs: fc.maxSafeInteger(),
});

/**
 * Readings over 1..maxSensors sensors, in any order: timestamps of one sensor may go backwards or repeat.
 * Each sensor draws from its own value style so that some series decimal-scale and some fall back.
 */
export function readingsArb(maxSensors = 5, maxReadings = 60): fc.Arbitrary<Reading[]> {
  return fc
    .uniqueArray(nameArb, { minLength: 1, maxLength: maxSensors })
    .chain((sensors) =>
      fc.array(
        fc.record({ sensor: fc.constantFrom(...sensors), ts: tsArb, value: valueArb }),
        { minLength: 1, maxLength: maxReadings },
      ),
    );
}

/** Per-sensor series with a base time and small signed steps (duplicates and negative deltas included). */
export function timeSeriesReadingsArb(): fc.Arbitrary<Reading[]> {
  const series = fc.record({
    sensor: nameArb,
    start: fc.integer({ min: 0, max: 2_000_000_000_000 }),
    steps: fc.array(fc.tuple(fc.integer({ min: -500, max: 2_000 }), valueArb), { minLength: 1, maxLength: 40 }),
  });
  return fc.uniqueArray(series, { minLength: 1, maxLength: 6, selector: (s) => s.sensor }).map((all) => {
    const out: Reading[] = [];
    for (const s of all) {
      let ts = s.start;
      for (const [step, value] of s.steps) {
        ts = Math.max(0, ts + step);
        out.push({ sensor: s.sensor, ts, value });
      }
    }
    return out;
  });
}

export function batchArb(readings: fc.Arbitrary<Reading[]> = readingsArb()): fc.Arbitrary<Batch> {
  return fc.record({
    deviceId: nameArb,
    streamId: streamIdArb,
    seq: fc.oneof(fc.constantFrom(1, Number.MAX_SAFE_INTEGER), fc.integer({ min: 1, max: 2 ** 31 })),
    clock: clockArb,
    readings,
  });
}

/** Groups readings by sensor in first-appearance order: the order decodeBatch returns them in. */
export function groupBySensor(readings: readonly Reading[]): Map<string, Array<{ ts: number; value: number }>> {
  const m = new Map<string, Array<{ ts: number; value: number }>>();
  for (const r of readings) {
    let list = m.get(r.sensor);
    if (!list) m.set(r.sensor, (list = []));
    list.push({ ts: r.ts, value: r.value });
  }
  return m;
}
