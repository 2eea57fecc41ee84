// Lossless decimal scaling of a value column. Serial sensors print fixed-precision decimal text, so a series
// is usually exactly { m / 10^k } for small integers m: sending m as zig-zag deltas costs 1-2 bytes where
// a raw double costs 8. "Exactly" is bit-exact: the encoder decodes every candidate the way the decoder will
// (m / 10^k, correctly rounded since 10^k is exact) and compares with Object.is; -0, NaN and any value that
// does not survive fall back to raw doubles for the whole series.

export const MAX_ENCODE_EXPONENT = 9;
/** Decoders accept more than encoders emit (10^22 is the largest exact power of ten), for forward compat. */
export const MAX_DECODE_EXPONENT = 22;

const POW10: readonly number[] = Array.from({ length: MAX_DECODE_EXPONENT + 1 }, (_, k) => 10 ** k);

export interface ScaledColumn {
  exponent: number;
  /** First entry absolute mantissa, the rest deltas from the previous mantissa; all safe integers. */
  deltas: number[];
}

function roundTrips(v: number, p: number): boolean {
  const m = Math.round(v * p) + 0; // + 0 turns -0 into 0, so -0 never round-trips
  return Number.isSafeInteger(m) && Object.is(m / p, v);
}

/** Bytes of the zig-zag varint of a safe integer. */
export function zigzagVarintSize(d: number): number {
  let z = d >= 0 ? 2 * d : -2 * d - 1;
  let size = 1;
  while (z >= 128) {
    z = Math.floor(z / 128);
    size++;
  }
  return size;
}

/**
 * The decimal-scaled form of `values`, or undefined when it is not lossless or not smaller than packed
 * doubles (8 bytes each).
 */
export function scaleColumn(values: readonly number[]): ScaledColumn | undefined {
  const n = values.length;
  if (n === 0) return undefined;
  // Smallest exponent that fits every value. k only grows, so the verify pass below re-checks them all.
  let k = 0;
  for (let i = 0; i < n; i++) {
    const v = values[i]!;
    while (!roundTrips(v, POW10[k]!)) {
      if (++k > MAX_ENCODE_EXPONENT) return undefined;
    }
  }
  const p = POW10[k]!;
  const deltas = new Array<number>(n);
  let prev = 0;
  let bytes = 0;
  for (let i = 0; i < n; i++) {
    const v = values[i]!;
    const m = Math.round(v * p) + 0;
    if (!Number.isSafeInteger(m) || !Object.is(m / p, v)) return undefined;
    const d = m - prev;
    if (!Number.isSafeInteger(d)) return undefined;
    deltas[i] = d;
    bytes += zigzagVarintSize(d);
    prev = m;
  }
  return bytes < 8 * n ? { exponent: k, deltas } : undefined;
}

/** 10^k for a decoded exponent, or undefined when the exponent is out of range. */
export function pow10(k: number): number | undefined {
  return Number.isInteger(k) && k >= 0 && k <= MAX_DECODE_EXPONENT ? POW10[k] : undefined;
}
