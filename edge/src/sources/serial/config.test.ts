import { validateConfig } from '@tidemark/shared/config';
import { describe, expect, it } from 'vitest';
import { regexGroups, serialSourceSchema } from './config.js';

const base = { type: 'serial', name: 'plc', path: '/dev/ttyUSB0' } as const;

describe('serial source config', () => {
  it('fills port defaults', () => {
    expect(validateConfig({ ...base, parser: { format: 'kv' } }, serialSourceSchema)).toEqual({
      ...base,
      baud_rate: 9600,
      data_bits: 8,
      parity: 'none',
      stop_bits: 1,
      max_line_length: 4096,
      reconnect_min_ms: 500,
      reconnect_max_ms: 10_000,
      read_interval_ms: 20,
      parser: { format: 'kv', separator: '=' },
    });
  });

  it('lists the allowed data and stop bits', () => {
    expect(() => validateConfig({ ...base, data_bits: 9, stop_bits: 3, parser: { format: 'json' } }, serialSourceSchema)).toThrow(
      /data_bits: expected one of 5 \| 6 \| 7 \| 8, got 9\n {2}stop_bits: expected one of 1 \| 2, got 3/,
    );
  });

  it('requires a parser and a path', () => {
    expect(() => validateConfig({ type: 'serial', name: 'plc' }, serialSourceSchema)).toThrow(/path: required\n {2}parser: required/);
  });

  it('checks reconnect bounds', () => {
    expect(() => validateConfig({ ...base, reconnect_min_ms: 2000, reconnect_max_ms: 1000, parser: { format: 'json' } }, serialSourceSchema)).toThrow(
      /reconnect_max_ms: must be >= reconnect_min_ms \(2000\)/,
    );
  });
});

describe('regexGroups', () => {
  it('lists named groups, even in alternatives that cannot match the empty string', () => {
    expect(regexGroups('T=(?<temp>\\d+)|P=(?<pressure>\\d+)')).toEqual(['temp', 'pressure']);
    expect(regexGroups('(\\d+)')).toEqual([]);
    expect(regexGroups('(')).toMatch(/^invalid regular expression: /);
  });
});
