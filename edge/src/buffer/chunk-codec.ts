// Committed readings not yet sealed are stored as chunks: one blob per group commit and clock state, not a
// row per reading, so a commit writes one small record instead of a B-tree row (and its page) per reading —
// what keeps the buffer's disk writes near the wire size (issue 12). The codec is lossless: every reading
// comes back in the order it went in, with the exact same float64 value (sign of zero included) and time.
// Layout (all integers are unsigned LEB128 varints; no bitwise ops, so times up to 2^53 are exact):
//   version (1) · scale (0–6: values are integers × 10^-scale; 255: raw float64 LE) · count · base ts (the
//   smallest) · sensor count · sensors (length, UTF-8 bytes)… · then per reading: sensor index · ts - base ·
//   value (zig-zag of the scaled integer, or 8 bytes raw).
import type { BufferedReading } from './buffer-types.js';

const VERSION = 1;
const RAW = 255;
const MAX_SCALE = 6;
/** Scaled values must stay well inside 2^53 after zig-zag doubling. */
const MAX_SCALED = 2 ** 50;
const POW10 = [1, 10, 100, 1000, 10_000, 100_000, 1_000_000];

/** The smallest scale at which every value is exactly an integer × 10^-scale, or RAW. */
function scaleFor(readings: readonly BufferedReading[]): number {
  let scale = 0;
  for (let i = 0; i < readings.length; i++) {
    const v = readings[i]!.value;
    for (;;) {
      const s = Math.round(v * POW10[scale]!) + 0; // + 0: -0 is not an integer here, so it is stored raw
      if (Math.abs(s) <= MAX_SCALED && Object.is(s / POW10[scale]!, v)) break;
      if (++scale > MAX_SCALE) return RAW;
    }
  }
  return scale;
}

class Writer {
  buf: Buffer;
  pos = 0;
  constructor(size: number) {
    this.buf = Buffer.allocUnsafe(size);
  }
  private ensure(n: number): void {
    if (this.pos + n <= this.buf.length) return;
    const next = Buffer.allocUnsafe(Math.max(this.buf.length * 2, this.pos + n));
    this.buf.copy(next, 0, 0, this.pos);
    this.buf = next;
  }
  varint(n: number): void {
    this.ensure(8);
    while (n >= 128) {
      this.buf[this.pos++] = (n % 128) | 128;
      n = Math.floor(n / 128);
    }
    this.buf[this.pos++] = n;
  }
  byte(b: number): void {
    this.ensure(1);
    this.buf[this.pos++] = b;
  }
  double(v: number): void {
    this.ensure(8);
    this.buf.writeDoubleLE(v, this.pos);
    this.pos += 8;
  }
  bytes(b: Buffer): void {
    this.ensure(b.length);
    b.copy(this.buf, this.pos);
    this.pos += b.length;
  }
}

/** Encodes readings (of one clock state; the flag is stored beside the chunk, not in it). */
export function encodeChunk(readings: readonly BufferedReading[]): Buffer {
  const scale = scaleFor(readings);
  let base = Infinity;
  const index = new Map<string, number>();
  for (let i = 0; i < readings.length; i++) {
    const r = readings[i]!;
    // The runner refuses such times before buffering; never write a chunk that would not read back.
    if (!Number.isSafeInteger(r.ts) || r.ts < 0) throw new RangeError(`buffer chunk: reading time ${r.ts} is not a safe non-negative integer`);
    if (r.ts < base) base = r.ts;
    if (!index.has(r.sensor)) index.set(r.sensor, index.size);
  }
  if (readings.length === 0) base = 0;
  const w = new Writer(16 + readings.length * (scale === RAW ? 11 : 5));
  w.byte(VERSION);
  w.byte(scale);
  w.varint(readings.length);
  w.varint(base);
  w.varint(index.size);
  for (const name of index.keys()) {
    const b = Buffer.from(name, 'utf8');
    w.varint(b.length);
    w.bytes(b);
  }
  const p = scale === RAW ? 1 : POW10[scale]!;
  for (let i = 0; i < readings.length; i++) {
    const r = readings[i]!;
    w.varint(index.get(r.sensor)!);
    w.varint(r.ts - base);
    if (scale === RAW) w.double(r.value);
    else {
      const s = Math.round(r.value * p);
      w.varint(s >= 0 ? 2 * s : -2 * s - 1);
    }
  }
  return w.buf.subarray(0, w.pos);
}

/** Decodes a chunk; every reading gets `synced`. Throws on a malformed or unknown-version chunk. */
export function decodeChunk(data: Uint8Array, synced: boolean): BufferedReading[] {
  let pos = 0;
  const fail = (why: string): never => {
    throw new Error(`buffer chunk: ${why} at byte ${pos}`);
  };
  const byte = (): number => (pos < data.length ? data[pos++]! : fail('truncated'));
  const varint = (): number => {
    let n = 0;
    let mul = 1;
    for (let i = 0; i < 8; i++) {
      const b = byte();
      n += (b & 127) * mul;
      if (b < 128) return n;
      mul *= 128;
    }
    return fail('varint too long');
  };
  if (byte() !== VERSION) fail('unknown version');
  const scale = byte();
  if (scale !== RAW && scale > MAX_SCALE) fail('bad scale');
  const count = varint();
  const base = varint();
  const nSensors = varint();
  const sensors: string[] = [];
  const view = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  for (let i = 0; i < nSensors; i++) {
    const len = varint();
    if (pos + len > data.length) fail('truncated name');
    sensors.push(view.toString('utf8', pos, pos + len));
    pos += len;
  }
  const p = scale === RAW ? 1 : POW10[scale]!;
  const out: BufferedReading[] = new Array(count);
  for (let i = 0; i < count; i++) {
    const sensor = sensors[varint()] ?? fail('bad sensor index');
    const ts = base + varint();
    let value: number;
    if (scale === RAW) {
      if (pos + 8 > data.length) fail('truncated value');
      value = view.readDoubleLE(pos);
      pos += 8;
    } else {
      const z = varint();
      value = (z % 2 === 0 ? z / 2 : -(z + 1) / 2) / p;
    }
    out[i] = { sensor, ts, value, synced };
  }
  if (pos !== data.length) fail('trailing bytes');
  return out;
}
