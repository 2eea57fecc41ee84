// Strict number, timestamp and name checks shared by the parsers. Strict means: `Number()` alone would take
// "", "0x1f", "Infinity" and " " as numbers, and Date.parse any English date; a device line must not.
import { NAME_PATTERN as NAME_REGEX } from '@tidemark/proto';

const DECIMAL = /^\s*[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?\s*$/;
const BLANK = /^\s*$/;
const EPOCH_MS = /^\s*\d+(?:\.\d+)?\s*$/;
// ISO 8601 date-time, calendar date, optional seconds/fraction, optional offset (absent = UTC).
const ISO = /^\s*(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2})(?::(\d{2})(?:[.,](\d+))?)?(?:([Zz])|([+-])(\d{2})(?::?(\d{2}))?)?\s*$/;

/** Latest accepted time: the largest a JS Date can hold. */
export const MAX_TIMESTAMP_MS = 8.64e15;

/** A finite decimal number (sign, fraction, exponent; surrounding blanks allowed), else NaN. */
export function parseDecimal(s: string): number {
  // Number() does the work; what it accepts beyond decimals is caught here without a regex on the hot path:
  // blanks (→ 0) and 0x/0o/0b literals (which cannot carry a sign), and Infinity (not finite).
  const v = Number(s);
  if (!Number.isFinite(v)) return NaN;
  const c0 = s.charCodeAt(0);
  if ((c0 >= 49 && c0 <= 57) || c0 === 45 || c0 === 43 || c0 === 46) return v; // 1-9 - + .
  if (c0 === 48) {
    const c1 = s.charCodeAt(1) | 0x20; // lower case
    return c1 === 0x78 || c1 === 0x6f || c1 === 0x62 ? NaN : v; // x o b
  }
  // Leading blanks, or empty: rare, so the exact check.
  return DECIMAL.test(s) ? v : NaN;
}

export function isBlank(s: string): boolean {
  return s.length === 0 || BLANK.test(s);
}

/** A valid sensor name (SPEC "Names"). */
export function isSensorName(s: string): boolean {
  return NAME_REGEX.test(s);
}

/** ms since the epoch from a number: non-negative, at most MAX_TIMESTAMP_MS, rounded to whole ms; else NaN. */
export function timestampFromNumber(v: number): number {
  if (!Number.isFinite(v) || v < 0 || v > MAX_TIMESTAMP_MS) return NaN;
  return Math.round(v);
}

/**
 * A device time: ms since the epoch (digits, optionally a fraction) or ISO 8601 (`2024-05-01T12:00:00.250Z`,
 * `…+02:00`; without an offset it is UTC, so the result never depends on the gateway's time zone). Else NaN.
 */
export function parseTimestamp(s: string): number {
  if (EPOCH_MS.test(s)) return timestampFromNumber(Number(s));
  const m = ISO.exec(s);
  if (m === null) return NaN;
  const year = Number(m[1]);
  const month = Number(m[2]);
  const day = Number(m[3]);
  const hour = Number(m[4]);
  const minute = Number(m[5]);
  const second = m[6] === undefined ? 0 : Number(m[6]);
  // Before the epoch is never a valid reading time (and Date.UTC would read years 0–99 as 1900–1999).
  if (year < 1970) return NaN;
  if (month < 1 || month > 12 || day < 1 || day > daysInMonth(year, month)) return NaN;
  if (hour > 23 || minute > 59 || second > 59) return NaN;
  const ms = m[7] === undefined ? 0 : Math.round(Number(`0.${m[7]}`) * 1000);
  let offsetMin = 0;
  if (m[9] !== undefined) {
    const oh = Number(m[10]);
    const om = m[11] === undefined ? 0 : Number(m[11]);
    if (oh > 23 || om > 59) return NaN;
    offsetMin = (m[9] === '-' ? -1 : 1) * (oh * 60 + om);
  }
  const t = Date.UTC(year, month - 1, day, hour, minute, second, ms) - offsetMin * 60_000;
  return timestampFromNumber(t);
}

function daysInMonth(year: number, month: number): number {
  return new Date(Date.UTC(year, month, 0)).getUTCDate();
}
