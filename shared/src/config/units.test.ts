import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ValidationError } from '../errors/index.js';
import { formatBytes, formatDuration, parseByteSize, parseDuration } from './units.js';

describe('parseDuration', () => {
  it.each([
    ['100ms', 100],
    ['5s', 5_000],
    ['5m', 300_000],
    ['1h', 3_600_000],
    ['7d', 604_800_000],
    ['2w', 1_209_600_000],
    ['1h30m', 5_400_000],
    ['1.5s', 1_500],
    ['0', 0],
    ['250', 250],
    [' 5m ', 300_000],
  ])('%s → %i ms', (text, ms) => {
    expect(parseDuration(text)).toBe(ms);
  });

  it('takes a number as milliseconds', () => {
    expect(parseDuration(1234)).toBe(1234);
  });

  it.each(['', '5x', '-5s', '5 m', 'm', '1h 30m', '5M', 'abc', '1.5'])('rejects %j', (text) => {
    expect(() => parseDuration(text)).toThrow(ValidationError);
  });

  it.each([-1, 1.5, Number.NaN, Number.POSITIVE_INFINITY])('rejects the number %d', (n) => {
    expect(() => parseDuration(n)).toThrow(ValidationError);
  });
});

describe('formatDuration', () => {
  it.each([
    [0, '0ms'],
    [100, '100ms'],
    [60_000, '1m'],
    [5_400_000, '1h30m'],
    [86_400_000, '1d'],
    [604_800_000, '1w'],
    [1_500, '1s500ms'],
  ])('%i → %s', (ms, text) => {
    expect(formatDuration(ms)).toBe(text);
  });

  it('round-trips through parseDuration', () => {
    fc.assert(fc.property(fc.integer({ min: 0, max: 10 * 604_800_000 }), (ms) => parseDuration(formatDuration(ms)) === ms));
  });
});

describe('parseByteSize', () => {
  it.each([
    ['256MB', 256_000_000],
    ['64KB', 64_000],
    ['1.5GiB', 1_610_612_736],
    ['1024', 1024],
    ['1KiB', 1024],
    ['2 MiB', 2 * 1024 * 1024],
    ['10gb', 10_000_000_000],
    ['1TB', 1e12],
    ['100B', 100],
    ['1.5KB', 1500],
  ])('%s → %i bytes', (text, bytes) => {
    expect(parseByteSize(text)).toBe(bytes);
  });

  it('rounds fractional bytes down', () => {
    expect(parseByteSize('1.3MiB')).toBe(Math.floor(1.3 * 1024 * 1024));
  });

  it('takes a number as bytes', () => {
    expect(parseByteSize(4096)).toBe(4096);
  });

  it.each(['', 'MB', '12XB', '-1MB', '1 2MB', '1K', 'lots'])('rejects %j', (text) => {
    expect(() => parseByteSize(text)).toThrow(ValidationError);
  });

  it.each([-1, 0.5, Number.NaN])('rejects the number %d', (n) => {
    expect(() => parseByteSize(n)).toThrow(ValidationError);
  });
});

describe('formatBytes', () => {
  it.each([
    [0, '0B'],
    [512, '512B'],
    [1024, '1KiB'],
    [256_000_000, '256MB'],
    [268_435_456, '256MiB'],
    [123_456_789, '123.46MB'],
    [1500, '1.5KB'],
  ])('%i → %s', (n, text) => {
    expect(formatBytes(n)).toBe(text);
  });

  it('is exact when a unit divides the size, so it round-trips', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 4096 }), fc.constantFrom(1, 1000, 1024, 1e6, 1024 ** 2, 1e9, 1024 ** 3), (k, unit) => {
        const n = unit === 1 ? k % 1000 : k * unit; // below 1000 bytes there is no unit to approximate with
        return parseByteSize(formatBytes(n)) === n;
      }),
    );
  });
});
