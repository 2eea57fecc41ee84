// kv: `name=value name=value`. Pairs are separated by blanks, `,` and `;` (those the configured separator
// does not use itself); the separator (default `=`) splits name from value. A bad pair is refused alone;
// an empty value is skipped like an empty csv cell. There is no device time: readings get receive time.
import type { SourceReading } from '../../source.js';
import type { SerialParserConfig } from '../config.js';
import { fail, quote, type LineParser, type ParseErrorReason, type ParseResult } from './parse-result.js';
import { isBlank, isSensorName, parseDecimal } from './values.js';

export type KvParserConfig = Extract<SerialParserConfig, { format: 'kv' }>;

export function createKvParser(config: KvParserConfig): LineParser {
  const separator = config.separator;
  // A blank inside the separator (`name: value`) leaves only `,` and `;` between pairs, and blanks are trimmed.
  const blankSeparator = /\s/.test(separator);
  const pairDelimiters = `${blankSeparator ? '' : '\\s'}${separator.includes(',') ? '' : ','}${separator.includes(';') ? '' : ';'}`;
  const pairSplit = pairDelimiters === '' ? /$^/ : new RegExp(`[${pairDelimiters}]+`);

  return function parseKv(line: string): ParseResult {
    const tokens = line.split(pairSplit);
    let readings: SourceReading[] | undefined;
    let error: ParseErrorReason | undefined;
    let detail = '';
    for (const piece of tokens) {
      const token = blankSeparator ? piece.trim() : piece;
      if (token.length === 0) continue;
      const at = token.indexOf(separator);
      let problem: ParseErrorReason | undefined;
      if (at < 0) {
        problem = 'missing_separator';
      } else {
        const name = token.slice(0, at);
        const raw = token.slice(at + separator.length);
        if (!isSensorName(name)) {
          problem = 'invalid_sensor_name';
        } else if (raw.length > 0) {
          const value = parseDecimal(raw);
          if (!Number.isNaN(value)) (readings ??= []).push({ sensor: name, value, ts: undefined });
          else if (!isBlank(raw)) problem = 'not_a_number';
        }
      }
      if (problem !== undefined && error === undefined) {
        error = problem;
        detail = quote(token);
      }
    }
    if (error !== undefined) return fail(error, detail, readings);
    if (readings === undefined) return fail('no_readings', 'no name=value pairs with a value');
    return { readings };
  };
}
