// regex: the configured pattern's named groups are sensors (the config checked that it compiles and that
// every group name is a sensor name); `timestamp_group` holds the device time. The pattern is compiled once.
// A group that did not take part in the match, or matched nothing, is skipped.
import type { SourceReading } from '../../source.js';
import type { SerialParserConfig } from '../config.js';
import { regexGroups } from '../regex-groups.js';
import { fail, quote, type LineParser, type ParseResult } from './parse-result.js';
import { isBlank, parseDecimal, parseTimestamp } from './values.js';

export type RegexParserConfig = Extract<SerialParserConfig, { format: 'regex' }>;

export function createRegexParser(config: RegexParserConfig): LineParser {
  const pattern = new RegExp(config.pattern);
  const groups = regexGroups(config.pattern);
  if (typeof groups === 'string') throw new Error(groups); // unreachable for a validated config
  const tsGroup = config.timestamp_group;
  const sensors = groups.filter((g) => g !== tsGroup);

  return function parseRegex(line: string): ParseResult {
    const match = pattern.exec(line);
    if (match === null) return fail('no_match', `does not match ${quote(config.pattern)}`);
    const found = match.groups ?? {};
    let ts: number | undefined;
    if (tsGroup !== undefined) {
      const raw = found[tsGroup];
      ts = raw === undefined ? NaN : parseTimestamp(raw);
      if (Number.isNaN(ts)) return fail('bad_timestamp', `${tsGroup}: ${quote(raw ?? '(no match)')} is not ms since epoch or ISO 8601`);
    }
    let readings: SourceReading[] | undefined;
    let bad: string | undefined;
    for (const sensor of sensors) {
      const raw = found[sensor];
      if (raw === undefined || raw.length === 0) continue;
      const value = parseDecimal(raw);
      if (!Number.isNaN(value)) (readings ??= []).push({ sensor, value, ts });
      else if (!isBlank(raw)) bad ??= `${sensor}: ${quote(raw)}`;
    }
    if (bad !== undefined) return fail('not_a_number', bad, readings);
    if (readings === undefined) return fail('no_readings', 'no named group captured a value');
    return { readings };
  };
}
