// Human units in config files: durations ("250ms", "5m", "1h30m") and byte sizes ("256MB", "1.5GiB").
// Parsers are strict (a typo is an error, never a silent zero); formatters produce text the parsers read back.

import { ValidationError } from '../errors/index.js';

const DURATION_UNITS: Record<string, number> = {
  ms: 1,
  s: 1_000,
  m: 60_000,
  h: 3_600_000,
  d: 86_400_000,
  w: 604_800_000,
};

/** Largest unit first, for formatting. */
const DURATION_ORDER = ['w', 'd', 'h', 'm', 's', 'ms'] as const;

const DURATION_PART = /(\d+(?:\.\d+)?|\.\d+)(ms|s|m|h|d|w)/y;

export const DURATION_HELP = 'a duration like 250ms, 5s, 5m, 1h, 7d, 2w or 1h30m, or a whole number of milliseconds';

/**
 * Parses a duration into whole milliseconds. Accepts a non-negative integer (milliseconds), or one or more
 * `<number><unit>` parts with units ms, s, m, h, d, w (`1h30m`, `1.5s`). Fractions round to the nearest ms.
 * Throws ValidationError on anything else (negative, unknown unit, empty).
 */
export function parseDuration(input: string | number): number {
  if (typeof input === 'number') {
    if (Number.isSafeInteger(input) && input >= 0) return input;
    throw new ValidationError(`expected ${DURATION_HELP}, got ${input}`);
  }
  const s = input.trim();
  if (/^\d+$/.test(s)) return parseDuration(Number(s));
  let total = 0;
  let pos = 0;
  DURATION_PART.lastIndex = 0;
  while (pos < s.length) {
    DURATION_PART.lastIndex = pos;
    const m = DURATION_PART.exec(s);
    if (!m) throw new ValidationError(`expected ${DURATION_HELP}, got "${input}"`);
    total += Number(m[1]) * DURATION_UNITS[m[2]!]!;
    pos = DURATION_PART.lastIndex;
  }
  if (s.length === 0 || !Number.isFinite(total) || total > Number.MAX_SAFE_INTEGER) {
    throw new ValidationError(`expected ${DURATION_HELP}, got "${input}"`);
  }
  return Math.round(total);
}

/** Formats milliseconds as the shortest exact compound duration: 300000 → "5m", 5400000 → "1h30m", 0 → "0ms". */
export function formatDuration(ms: number): string {
  if (!Number.isFinite(ms) || ms < 0) return `${ms}ms`;
  let rest = Math.round(ms);
  if (rest === 0) return '0ms';
  let out = '';
  for (const unit of DURATION_ORDER) {
    const size = DURATION_UNITS[unit]!;
    if (rest >= size) {
      const n = Math.floor(rest / size);
      out += `${n}${unit}`;
      rest -= n * size;
    }
  }
  return out;
}

/** Decimal units are powers of 1000, binary (…iB) units powers of 1024, as in IEC 80000-13. */
const BYTE_UNITS: Record<string, number> = {
  b: 1,
  kb: 1e3,
  mb: 1e6,
  gb: 1e9,
  tb: 1e12,
  kib: 1024,
  mib: 1024 ** 2,
  gib: 1024 ** 3,
  tib: 1024 ** 4,
};

const BYTE_LABELS: [string, number][] = [
  ['TiB', 1024 ** 4],
  ['TB', 1e12],
  ['GiB', 1024 ** 3],
  ['GB', 1e9],
  ['MiB', 1024 ** 2],
  ['MB', 1e6],
  ['KiB', 1024],
  ['KB', 1e3],
];

export const BYTE_SIZE_HELP = 'a size like 64KB, 256MB, 1.5GiB (KB/MB/GB = 1000^n, KiB/MiB/GiB = 1024^n) or a number of bytes';

/**
 * Parses a byte size into whole bytes (fractions round down). Units are case-insensitive:
 * B, KB, MB, GB, TB (powers of 1000) and KiB, MiB, GiB, TiB (powers of 1024). A bare number is bytes.
 */
export function parseByteSize(input: string | number): number {
  if (typeof input === 'number') {
    if (Number.isSafeInteger(input) && input >= 0) return input;
    throw new ValidationError(`expected ${BYTE_SIZE_HELP}, got ${input}`);
  }
  const m = /^\s*(\d+(?:\.\d+)?|\.\d+)\s*([A-Za-z]*)\s*$/.exec(input);
  const unit = m ? BYTE_UNITS[(m[2] || 'b').toLowerCase()] : undefined;
  if (!m || unit === undefined) throw new ValidationError(`expected ${BYTE_SIZE_HELP}, got "${input}"`);
  const bytes = Math.floor(Number(m[1]) * unit);
  if (!Number.isSafeInteger(bytes)) throw new ValidationError(`size "${input}" is too large`);
  return bytes;
}

/**
 * Formats bytes for humans and for config round trips: the largest unit that divides exactly
 * (268435456 → "256MiB", 256000000 → "256MB"), else two decimals in decimal units ("123.46MB").
 */
export function formatBytes(n: number): string {
  if (!Number.isFinite(n) || n < 0) return `${n}B`;
  const bytes = Math.floor(n);
  if (bytes === 0) return '0B';
  for (const [label, size] of BYTE_LABELS) {
    if (bytes >= size && bytes % size === 0) return `${bytes / size}${label}`;
  }
  for (const [label, size] of BYTE_LABELS.filter(([l]) => !l.includes('i'))) {
    if (bytes >= size) return `${Number((bytes / size).toFixed(2))}${label}`;
  }
  return `${bytes}B`;
}
