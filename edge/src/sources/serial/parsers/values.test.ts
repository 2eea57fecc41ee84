import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { isBlank, parseDecimal, parseTimestamp, timestampFromNumber } from './values.js';

describe('parseDecimal', () => {
  it('reads decimal numbers with sign, fraction, exponent and surrounding blanks', () => {
    expect(parseDecimal('23.5')).toBe(23.5);
    expect(parseDecimal(' -7 ')).toBe(-7);
    expect(parseDecimal('+.5')).toBe(0.5);
    expect(parseDecimal('5.')).toBe(5);
    expect(parseDecimal('1e3')).toBe(1000);
    expect(parseDecimal('-2.5E-2')).toBe(-0.025);
  });

  it('refuses what Number() would wrongly accept, and non-finite values', () => {
    for (const s of ['', ' ', '0x1f', '0b1', 'Infinity', '-Infinity', 'NaN', 'nan', '1e999', '1,5', '12abc', '.', '-', '1 2']) {
      expect(parseDecimal(s), JSON.stringify(s)).toBeNaN();
    }
  });

  it('fuzz: accepts exactly the decimal grammar (its fast path agrees with the strict definition)', () => {
    const strict = (s: string) => {
      if (!/^\s*[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?\s*$/.test(s)) return NaN;
      const v = Number(s);
      return Number.isFinite(v) ? v : NaN;
    };
    const piece = fc.constantFrom('0', '1', '9', '.', '-', '+', 'e', 'E', 'x', 'X', 'o', 'b', 'B', ' ', '\t', '\u00a0', 'Infinity', '_', 'a', 'f');
    const text = fc.oneof(fc.array(piece, { maxLength: 8 }).map((p) => p.join('')), fc.string({ maxLength: 10 }), fc.double().map(String));
    fc.assert(
      fc.property(text, (s) => {
        expect(Object.is(parseDecimal(s), strict(s)) || (Number.isNaN(parseDecimal(s)) && Number.isNaN(strict(s)))).toBe(true);
      }),
      { numRuns: 3000 },
    );
  });

  it('knows blank cells', () => {
    expect(isBlank('')).toBe(true);
    expect(isBlank(' \t')).toBe(true);
    expect(isBlank(' 0 ')).toBe(false);
  });
});

describe('parseTimestamp', () => {
  it('reads ms since the epoch, rounding fractions', () => {
    expect(parseTimestamp('1714564800000')).toBe(1714564800000);
    expect(parseTimestamp(' 1714564800000.6 ')).toBe(1714564800001);
    expect(parseTimestamp('0')).toBe(0);
  });

  it('reads ISO 8601 with Z, offsets or no offset (UTC)', () => {
    expect(parseTimestamp('2024-05-01T12:00:00Z')).toBe(Date.UTC(2024, 4, 1, 12));
    expect(parseTimestamp('2024-05-01T12:00:00.250Z')).toBe(Date.UTC(2024, 4, 1, 12, 0, 0, 250));
    expect(parseTimestamp('2024-05-01T12:00:00.123456Z')).toBe(Date.UTC(2024, 4, 1, 12, 0, 0, 123));
    expect(parseTimestamp('2024-05-01T14:00:00+02:00')).toBe(Date.UTC(2024, 4, 1, 12));
    expect(parseTimestamp('2024-05-01T07:30:00-0430')).toBe(Date.UTC(2024, 4, 1, 12));
    expect(parseTimestamp('2024-05-01 12:00')).toBe(Date.UTC(2024, 4, 1, 12));
    expect(parseTimestamp('2024-05-01T12:00:00')).toBe(Date.UTC(2024, 4, 1, 12));
  });

  it('refuses other date forms, impossible dates and times before the epoch', () => {
    for (const s of ['', 'yesterday', 'May 1 2024', '2024-05-01', '2024-02-30T00:00:00Z', '2023-13-01T00:00:00Z', '2024-05-01T24:00:00Z',
      '2024-05-01T12:60:00Z', '1969-12-31T23:59:59Z', '0070-01-01T00:00:00Z', '-5', '1e3', '9000000000000000']) {
      expect(parseTimestamp(s), JSON.stringify(s)).toBeNaN();
    }
    expect(parseTimestamp('2024-02-29T00:00:00Z')).toBe(Date.UTC(2024, 1, 29));
  });

  it('checks numeric times', () => {
    expect(timestampFromNumber(1.5)).toBe(2);
    expect(timestampFromNumber(-1)).toBeNaN();
    expect(timestampFromNumber(Infinity)).toBeNaN();
    expect(timestampFromNumber(9e15)).toBeNaN();
  });
});
