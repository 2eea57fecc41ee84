// Whatever a serial line holds, no parser throws, and what it returns is well formed: valid sensor names,
// finite values, whole-ms timestamps, and a known reason for every refusal.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { isValidName } from '@tidemark/proto';
import type { SerialParserConfig } from '../config.js';
import { sentence } from '../test-support/nmea-sentence.js';
import { createParser, type ParseErrorReason, type ParseResult } from './index.js';

const REASONS: readonly ParseErrorReason[] = [
  'line_too_long',
  'partial_line',
  'wrong_field_count',
  'not_a_number',
  'bad_timestamp',
  'invalid_sensor_name',
  'missing_separator',
  'bad_json',
  'no_match',
  'no_readings',
  'bad_checksum',
  'bad_sentence',
];

function wellFormed(r: ParseResult): void {
  expect(typeof r).toBe('object');
  if (r.error !== undefined) {
    expect(REASONS).toContain(r.error);
    expect(typeof r.detail).toBe('string');
  } else {
    expect(Array.isArray(r.readings)).toBe(true);
  }
  for (const reading of r.readings ?? []) {
    expect(isValidName(reading.sensor), reading.sensor).toBe(true);
    expect(Number.isFinite(reading.value)).toBe(true);
    if (reading.ts !== undefined) {
      expect(Number.isSafeInteger(reading.ts)).toBe(true);
      expect(reading.ts).toBeGreaterThanOrEqual(0);
    }
  }
}

const RUNS = { numRuns: 400 };

/** Any text, including lone surrogates and control characters. */
const anyText = fc.oneof(fc.string({ unit: 'binary', maxLength: 200 }), fc.string({ unit: 'grapheme-ascii', maxLength: 200 }));

const numberText = fc.oneof(
  fc.double().map(String),
  fc.integer().map(String),
  fc.constantFrom('', ' ', '-', '.', '1e999', '0x10', 'NaN', 'Infinity', '1.5.2', '+', '١٢'),
);
const timeText = fc.oneof(
  fc.date({ noInvalidDate: true }).map((d) => d.toISOString()),
  fc.integer({ min: -1, max: Number.MAX_SAFE_INTEGER }).map(String),
  fc.constantFrom('2024-02-30T00:00:00Z', '2024-05-01T12:00:00+25:00', '2024-05-01 12:00', 'now'),
);
const cell = fc.oneof(numberText, timeText, anyText);

function check(config: SerialParserConfig, lines: fc.Arbitrary<string>): void {
  fc.assert(
    fc.property(lines, (line) => {
      const parse = createParser(config);
      wellFormed(parse(line));
      // A second call on the same parser (nmea keeps state) is just as safe.
      wellFormed(parse(line));
    }),
    RUNS,
  );
}

describe('parser fuzzing', () => {
  it('csv', () => {
    const config: SerialParserConfig = { format: 'csv', columns: ['time', 'a', 'b.c'], delimiter: ',', timestamp_column: 'time', skip_header: false };
    check(config, fc.oneof(anyText, fc.array(cell, { maxLength: 5 }).map((cells) => cells.join(','))));
    check({ format: 'csv', columns: ['a'], delimiter: ';', skip_header: true }, fc.oneof(anyText, numberText));
  });

  it('json', () => {
    const member = fc.tuple(fc.oneof(fc.constantFrom('ts', 't', 'a.b', '', 'x y'), fc.string({ maxLength: 70 })), fc.jsonValue({ maxDepth: 4 }));
    const objects = fc.array(member, { maxLength: 8 }).map((m) => JSON.stringify(Object.fromEntries(m)));
    const withTime = fc.tuple(timeText, fc.double()).map(([ts, v]) => JSON.stringify({ ts, v }));
    const lines = fc.oneof(anyText, fc.json({ maxDepth: 5 }), objects, withTime, objects.map((s) => s.slice(0, Math.floor(s.length / 2))));
    check({ format: 'json', timestamp_field: 'ts' }, lines);
    check({ format: 'json', timestamp_field: 'meta.ts' }, lines);
  });

  it('kv', () => {
    const name = fc.oneof(fc.constantFrom('t', 'temp_c', 'a.b', '', '-x'), fc.string({ maxLength: 70 }));
    const pair = fc.tuple(name, fc.constantFrom('=', ':', '', '=='), numberText).map(([n, s, v]) => `${n}${s}${v}`);
    const lines = fc.oneof(anyText, fc.tuple(fc.array(pair, { maxLength: 6 }), fc.constantFrom(' ', ',', ';', '\t', '  ')).map(([p, d]) => p.join(d)));
    check({ format: 'kv', separator: '=' }, lines);
    check({ format: 'kv', separator: ',' }, lines);
    check({ format: 'kv', separator: ': ' }, lines);
  });

  it('regex', () => {
    const lines = fc.oneof(
      anyText,
      fc.tuple(timeText, numberText, numberText).map(([t, a, b]) => `${t} A=${a} B=${b}`),
      fc.tuple(numberText, numberText).map(([a, b]) => `A=${a} B=${b}`),
    );
    check({ format: 'regex', pattern: '^(?:(?<at>\\S+) )?A=(?<a>\\S*) B=(?<b>.*)$', timestamp_group: 'at' }, lines);
    check({ format: 'regex', pattern: 'A=(?<a>[^ ]*)|B=(?<b>.*)' }, lines);
  });

  it('nmea', () => {
    const field = fc.oneof(numberText, fc.constantFrom('N', 'S', 'E', 'W', 'A', 'V', 'T', 'M', 'K', '', '4404.1306', '12118.8515'), fc.string({ maxLength: 12 }));
    const address = fc.tuple(fc.constantFrom('GP', 'GN', 'GL', 'P', 'X', ''), fc.constantFrom('GGA', 'RMC', 'VTG', 'GSA', 'GG'));
    const body = fc.tuple(address, fc.array(field, { maxLength: 16 })).map(([[talker, type], fields]) => [talker + type, ...fields].join(','));
    const lines = fc.oneof(
      anyText,
      body.map(sentence),
      body.map((b) => `${sentence(b).slice(0, -2)}00`),
      fc.tuple(anyText, body).map(([noise, b]) => noise + sentence(b)),
      body.map((b) => `$${b}`),
    );
    check({ format: 'nmea', sentences: ['GGA', 'RMC', 'VTG'] }, lines);
    // A stream of sentences through one parser (its epoch state) stays well formed too.
    fc.assert(
      fc.property(fc.array(body.map(sentence), { maxLength: 20 }), (stream) => {
        const parse = createParser({ format: 'nmea', sentences: ['GGA', 'RMC', 'VTG'] });
        for (const l of stream) wellFormed(parse(l));
      }),
      RUNS,
    );
  });
});
