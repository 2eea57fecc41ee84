import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { decodeRegisters, encodeRegisters, registerCount, scaled, VALUE_TYPES, WORD_ORDERS, type ValueType, type WordOrder } from './register-codec.js';

const order = fc.constantFrom(...WORD_ORDERS);

/** Values each type can hold exactly, as the decoder returns them (a number). */
function valueOf(type: ValueType): fc.Arbitrary<number | bigint> {
  switch (type) {
    case 'bool':
      return fc.constantFrom(0, 1);
    case 'int16':
      return fc.integer({ min: -32768, max: 32767 });
    case 'uint16':
      return fc.integer({ min: 0, max: 65535 });
    case 'int32':
      return fc.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 });
    case 'uint32':
      return fc.integer({ min: 0, max: 2 ** 32 - 1 });
    case 'float32':
      return fc.float({ noNaN: true, noDefaultInfinity: true }).map((x) => Math.fround(x));
    case 'float64':
      return fc.double({ noNaN: true, noDefaultInfinity: true });
    case 'int64':
      return fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n });
    case 'uint64':
      return fc.bigInt({ min: 0n, max: 2n ** 64n - 1n });
  }
}

describe('register codec', () => {
  for (const type of VALUE_TYPES) {
    it(`${type}: decode(encode(v)) = v in every word order, and every register is a 16-bit word`, () => {
      fc.assert(
        fc.property(valueOf(type), order, (v, o) => {
          const regs = encodeRegisters(v, type, o);
          expect(regs).toHaveLength(registerCount(type));
          for (const r of regs) expect(Number.isInteger(r) && r >= 0 && r <= 0xffff).toBe(true);
          const expected = typeof v === 'bigint' ? Number(v) : v;
          expect(Object.is(decodeRegisters(regs, type, o), expected)).toBe(true);
        }),
      );
    });
  }

  // Independent of the encoder: the four orders are the four arrangements of the wire bytes, checked with
  // Node's own little/big-endian readers on the raw byte string.
  it('orders are the byte arrangements their letters name (against Buffer readers)', () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 4, maxLength: 4 }), (bytes) => {
        const [a, b, c, d] = bytes as unknown as [number, number, number, number];
        const wire = (x: number[]) => [(x[0]! << 8) | x[1]!, (x[2]! << 8) | x[3]!];
        const be = Buffer.from([a, b, c, d]);
        expect(decodeRegisters(wire([a, b, c, d]), 'uint32', 'ABCD')).toBe(be.readUInt32BE(0));
        expect(decodeRegisters(wire([c, d, a, b]), 'uint32', 'CDAB')).toBe(be.readUInt32BE(0));
        expect(decodeRegisters(wire([b, a, d, c]), 'uint32', 'BADC')).toBe(be.readUInt32BE(0));
        expect(decodeRegisters(wire([d, c, b, a]), 'uint32', 'DCBA')).toBe(be.readUInt32BE(0));
        // DCBA on the wire is a little-endian value.
        expect(decodeRegisters(wire([a, b, c, d]), 'int32', 'DCBA')).toBe(be.readInt32LE(0));
      }),
    );
  });

  it('decodes known device examples', () => {
    // 123.456 as float32 is 0x42F6E979; a CDAB device sends the low word first (telegraf#7518).
    expect(decodeRegisters([0x42f6, 0xe979], 'float32', 'ABCD')).toBeCloseTo(123.456, 3);
    expect(decodeRegisters([0xe979, 0x42f6], 'float32', 'CDAB')).toBeCloseTo(123.456, 3);
    expect(decodeRegisters([0xf642, 0x79e9], 'float32', 'BADC')).toBeCloseTo(123.456, 3);
    expect(decodeRegisters([0x79e9, 0xf642], 'float32', 'DCBA')).toBeCloseTo(123.456, 3);
    expect(decodeRegisters([0xffff], 'int16', 'ABCD')).toBe(-1);
    expect(decodeRegisters([0x0100], 'uint16', 'BADC')).toBe(1);
    expect(decodeRegisters([0x0001, 0x0000, 0x0000, 0x0000], 'uint64', 'ABCD')).toBe(2 ** 48);
    expect(decodeRegisters([0x0001, 0x0000, 0x0000, 0x0000], 'uint64', 'CDAB')).toBe(1);
    expect(decodeRegisters([0x0000], 'bool', 'ABCD')).toBe(0);
    expect(decodeRegisters([0x8000], 'bool', 'ABCD')).toBe(1);
  });

  it('refuses the wrong number of registers', () => {
    expect(() => decodeRegisters([1], 'float32', 'ABCD')).toThrow(/float32 needs 2 registers, got 1/);
  });

  it('applies scale then offset', () => {
    expect(scaled(1234, 0.1, -5)).toBeCloseTo(118.4, 10);
    expect(scaled(7, 1, 0)).toBe(7);
  });
});
