// 64-bit protobuf integers to JS numbers without silent precision loss. protobufjs yields a Long (when the
// `long` package is present, as it is here) or a number; either way, anything outside the safe-integer range
// is refused: a rounded seq or timestamp would corrupt batch identity or event time.
import { ValidationError } from '@tidemark/shared';

interface LongLike {
  low: number;
  high: number;
  unsigned: boolean;
}

const TWO_32 = 4294967296;

/**
 * The value as a number, or NaN when it is not a safe integer. `high * 2^32` is exact and the one addition
 * rounds correctly (monotonically), so a value beyond ±(2^53 - 1) can never round into the safe range.
 */
export function int64ToNumber(v: number | LongLike | null | undefined): number {
  let n: number;
  if (typeof v === 'number') n = v;
  else if (v === null || v === undefined) n = 0;
  else n = (v.unsigned ? v.high >>> 0 : v.high | 0) * TWO_32 + (v.low >>> 0);
  return Number.isSafeInteger(n) ? n : Number.NaN;
}

export function unsafeIntegerError(field: string): ValidationError {
  return new ValidationError(`expected an integer within ±${Number.MAX_SAFE_INTEGER} (a 64-bit value beyond what a JS number holds exactly)`, field);
}

/** Like int64ToNumber, but throws ValidationError naming `field` for a value beyond the safe range. */
export function safeInt64(v: number | LongLike | null | undefined, field: string): number {
  const n = int64ToNumber(v);
  if (Number.isNaN(n)) throw unsafeIntegerError(field);
  return n;
}
