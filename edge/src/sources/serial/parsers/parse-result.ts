// What a line parser returns: the readings of one line, or why the line (or some of its values) was refused.
// Parsers are pure functions of the line (nmea keeps one small piece of state, see nmea.ts) and never throw.
import type { SourceReading } from '../../source.js';

/**
 * Why a line or a value was refused; the `reason` label of `source_parse_errors_total`. `line_too_long` and
 * `partial_line` come from framing (see line-framer.ts), the rest from the parsers.
 */
export type ParseErrorReason =
  | 'line_too_long'
  | 'partial_line'
  | 'wrong_field_count'
  | 'not_a_number'
  | 'bad_timestamp'
  | 'invalid_sensor_name'
  | 'missing_separator'
  | 'bad_json'
  | 'no_match'
  | 'no_readings'
  | 'bad_checksum'
  | 'bad_sentence';

export interface ParseOk {
  readings: SourceReading[];
  error?: undefined;
}

/**
 * A refused line. When only some values of the line were bad, `readings` still carries the good ones: one
 * failing cell does not discard its neighbours. A line is counted once, by its first problem.
 */
export interface ParseFailure {
  error: ParseErrorReason;
  detail: string;
  readings?: SourceReading[];
}

export type ParseResult = ParseOk | ParseFailure;

/** A line → readings function. Readings without `ts` get the receive time from the runner. */
export type LineParser = (line: string) => ParseResult;

/** Shared by every line that carries no readings (never mutated). */
export const NO_READINGS: SourceReading[] = [];
Object.freeze(NO_READINGS);

export function fail(error: ParseErrorReason, detail: string, readings?: SourceReading[]): ParseFailure {
  return readings === undefined || readings.length === 0 ? { error, detail } : { error, detail, readings };
}

/** A short rendering of an offending piece of a line, for error details. */
export function quote(s: string): string {
  return JSON.stringify(s.length > 40 ? `${s.slice(0, 37)}...` : s);
}
