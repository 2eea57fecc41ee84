// Device ids, sensor names and stream ids: the identifiers that appear in topics, keys and batch identity.
import { randomBytes } from 'node:crypto';
import { ValidationError } from '@tidemark/shared';

/** Device ids and sensor names (SPEC "Names"). Safe in MQTT topics: no `/`, `+`, `#`. */
export const NAME_PATTERN: RegExp = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

export function isValidName(s: string): boolean {
  return typeof s === 'string' && NAME_PATTERN.test(s);
}

export const STREAM_ID_BYTES = 16;

/** A fresh random stream id, made once when a device's buffer is created. */
export function newStreamId(): Uint8Array {
  return Uint8Array.from(randomBytes(STREAM_ID_BYTES));
}

export function streamIdToHex(id: Uint8Array): string {
  return Buffer.from(id.buffer, id.byteOffset, id.byteLength).toString('hex');
}

const HEX_STREAM_ID = new RegExp(`^[0-9a-fA-F]{${STREAM_ID_BYTES * 2}}$`);

export function hexToStreamId(hex: string): Uint8Array {
  if (typeof hex !== 'string' || !HEX_STREAM_ID.test(hex)) {
    throw new ValidationError(`expected ${STREAM_ID_BYTES * 2} hex digits, got ${describeValue(hex)}`, 'streamId');
  }
  return Uint8Array.from(Buffer.from(hex, 'hex'));
}

/** A short, safe rendering of an offending value for an error message. */
export function describeValue(v: unknown): string {
  if (typeof v === 'string') return JSON.stringify(v.length > 80 ? `${v.slice(0, 77)}...` : v);
  if (typeof v === 'number') return Object.is(v, -0) ? '-0' : String(v);
  if (v === null) return 'null';
  if (v instanceof Uint8Array) return `${v.length} bytes`;
  if (Array.isArray(v)) return `an array of ${v.length}`;
  return typeof v;
}

export function nameError(field: string, got: unknown): ValidationError {
  return new ValidationError(`expected a name matching ${NAME_PATTERN.source}, got ${describeValue(got)}`, field);
}
