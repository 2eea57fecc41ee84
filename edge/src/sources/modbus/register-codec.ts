// Turns the raw 16-bit registers (or bits) of one Modbus value into a number: the value's type, its word and
// byte order, then `raw * scale + offset`. Pure, so every type × order is property-tested against an encoder.
// Orders use the usual letters for the bytes of a 32-bit value, most significant first (A B C D), as they
// appear on the wire in register order: ABCD big-endian, CDAB word-swapped (low word first), BADC
// byte-swapped inside each register, DCBA little-endian. For 64-bit values the same two independent rules
// apply to four registers (CDAB = last register first); for 16-bit values only the byte swap matters.

export const VALUE_TYPES = ['int16', 'uint16', 'int32', 'uint32', 'int64', 'uint64', 'float32', 'float64', 'bool'] as const;
export type ValueType = (typeof VALUE_TYPES)[number];

export const WORD_ORDERS = ['ABCD', 'CDAB', 'BADC', 'DCBA'] as const;
export type WordOrder = (typeof WORD_ORDERS)[number];

/** How many 16-bit registers a value of this type spans (bool: one register, or one bit in coil/discrete tables). */
export function registerCount(type: ValueType): number {
  switch (type) {
    case 'int16':
    case 'uint16':
    case 'bool':
      return 1;
    case 'int32':
    case 'uint32':
    case 'float32':
      return 2;
    case 'int64':
    case 'uint64':
    case 'float64':
      return 4;
  }
}

function lowWordFirst(order: WordOrder): boolean {
  return order === 'CDAB' || order === 'DCBA';
}

function bytesSwapped(order: WordOrder): boolean {
  return order === 'BADC' || order === 'DCBA';
}

/**
 * The value's bytes most significant first, from its registers as they came off the wire (each 0..65535,
 * as Modbus sends them: high byte first).
 */
function canonicalBytes(registers: ArrayLike<number>, order: WordOrder): Buffer {
  const n = registers.length;
  const out = Buffer.alloc(n * 2);
  const reverse = lowWordFirst(order);
  const swap = bytesSwapped(order);
  for (let i = 0; i < n; i++) {
    const word = registers[reverse ? n - 1 - i : i]! & 0xffff;
    const hi = word >>> 8;
    const lo = word & 0xff;
    out[i * 2] = swap ? lo : hi;
    out[i * 2 + 1] = swap ? hi : lo;
  }
  return out;
}

/** The raw value of `type` held in `registers` (exactly registerCount(type) of them), before scale/offset. */
export function decodeRegisters(registers: ArrayLike<number>, type: ValueType, order: WordOrder): number {
  const want = registerCount(type);
  if (registers.length !== want) throw new RangeError(`${type} needs ${want} registers, got ${registers.length}`);
  const b = canonicalBytes(registers, order);
  switch (type) {
    case 'bool':
      return b.readUInt16BE(0) !== 0 ? 1 : 0;
    case 'int16':
      return b.readInt16BE(0);
    case 'uint16':
      return b.readUInt16BE(0);
    case 'int32':
      return b.readInt32BE(0);
    case 'uint32':
      return b.readUInt32BE(0);
    case 'float32':
      return b.readFloatBE(0);
    case 'int64':
      // Beyond ±2^53 the nearest double is kept: readings are float64 (SPEC), as Telegraf's are.
      return Number(b.readBigInt64BE(0));
    case 'uint64':
      return Number(b.readBigUInt64BE(0));
    case 'float64':
      return b.readDoubleBE(0);
  }
}

/** The inverse of decodeRegisters for test servers and property tests: a value → the registers a device sends. */
export function encodeRegisters(value: number | bigint, type: ValueType, order: WordOrder): number[] {
  const n = registerCount(type);
  const b = Buffer.alloc(n * 2);
  switch (type) {
    case 'bool':
      b.writeUInt16BE(Number(value) !== 0 ? 1 : 0, 0);
      break;
    case 'int16':
      b.writeInt16BE(Number(value), 0);
      break;
    case 'uint16':
      b.writeUInt16BE(Number(value), 0);
      break;
    case 'int32':
      b.writeInt32BE(Number(value), 0);
      break;
    case 'uint32':
      b.writeUInt32BE(Number(value), 0);
      break;
    case 'float32':
      b.writeFloatBE(Number(value), 0);
      break;
    case 'int64':
      b.writeBigInt64BE(BigInt(value), 0);
      break;
    case 'uint64':
      b.writeBigUInt64BE(BigInt(value), 0);
      break;
    case 'float64':
      b.writeDoubleBE(Number(value), 0);
      break;
  }
  const swap = bytesSwapped(order);
  const words: number[] = [];
  for (let i = 0; i < n; i++) {
    const hi = b[i * 2]!;
    const lo = b[i * 2 + 1]!;
    words.push(swap ? (lo << 8) | hi : (hi << 8) | lo);
  }
  return lowWordFirst(order) ? words.reverse() : words;
}

/** What a reading carries: `raw * scale + offset`. */
export function scaled(raw: number, scale: number, offset: number): number {
  return raw * scale + offset;
}
