import { describe, expect, it } from 'vitest';
import { decodeChunk, encodeChunk } from './chunk-codec.js';
import type { BufferedReading } from './sqlite-buffer.js';

const T0 = 1_700_000_000_000;
const r = (sensor: string, ts: number, value: number): BufferedReading => ({ sensor, ts, value, synced: true });

function roundTrip(readings: BufferedReading[], synced = true): BufferedReading[] {
  return decodeChunk(encodeChunk(readings), synced);
}

describe('buffer chunk codec', () => {
  it('gives back every reading in order, bit for bit', () => {
    const readings = [r('temp_c', T0 + 5, 21.37), r('rpm', T0, 1500), r('temp_c', T0 + 3, -0.01), r('door', T0 + 100_000, 1)];
    expect(roundTrip(readings)).toEqual(readings);
  });

  it('keeps values that are no short decimal exactly (raw doubles), and the sign of zero', () => {
    const values = [Math.PI, -0, 1e300, -1e-300, 0.1 + 0.2, Number.MAX_SAFE_INTEGER, 2 ** 60, 5e-324];
    const out = roundTrip(values.map((v, i) => r('x', T0 + i, v)));
    out.forEach((o, i) => expect(Object.is(o.value, values[i]), `value ${values[i]}`).toBe(true));
  });

  it('keeps extreme times and random data exactly', () => {
    let seed = 7;
    const rand = () => ((seed = (Math.imul(seed, 1664525) + 1013904223) >>> 0) / 2 ** 32);
    for (let round = 0; round < 50; round++) {
      const readings = Array.from({ length: 1 + Math.floor(rand() * 300) }, (_, i) =>
        r(`s${Math.floor(rand() * 12)}`, round === 0 && i === 0 ? Number.MAX_SAFE_INTEGER : Math.floor(rand() * 2 ** 45), round % 2 ? Math.round(rand() * 1e6) / 100 : (rand() - 0.5) * 1e9),
      );
      const out = roundTrip(readings);
      expect(out).toHaveLength(readings.length);
      out.forEach((o, i) => {
        expect(o.sensor).toBe(readings[i]!.sensor);
        expect(o.ts).toBe(readings[i]!.ts);
        expect(Object.is(o.value, readings[i]!.value)).toBe(true);
      });
    }
  });

  it('stores short decimals (as a parser reads them from text) in a few bytes per reading', () => {
    const readings = Array.from({ length: 1000 }, (_, i) => r(`s${i % 10}`, T0 + Math.floor(i / 10) * 10, Number((50 + ((i * 37) % 500) / 100).toFixed(2))));
    expect(encodeChunk(readings).length / readings.length).toBeLessThan(5);
  });

  it('marks every reading with the clock state it is given', () => {
    expect(roundTrip([r('a', T0, 1)], false)[0]!.synced).toBe(false);
  });

  it('refuses to encode a time it could not read back', () => {
    expect(() => encodeChunk([r('a', -1, 1)])).toThrow(RangeError);
    expect(() => encodeChunk([r('a', 1.5, 1)])).toThrow(RangeError);
  });

  it('refuses malformed chunks instead of inventing readings', () => {
    const good = encodeChunk([r('a', T0, 1.5), r('b', T0 + 1, 2)]);
    expect(() => decodeChunk(good.subarray(0, good.length - 1), true)).toThrow(/truncated/);
    expect(() => decodeChunk(Buffer.concat([good, Buffer.from([0])]), true)).toThrow(/trailing/);
    expect(() => decodeChunk(Buffer.from([9, 0, 0, 0, 0]), true)).toThrow(/version/);
  });
});
