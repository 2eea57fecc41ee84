// One parser per serial source, chosen by `parser.format`. Each is built once from its config (patterns
// compiled, column indexes resolved) and then called for every line.
import type { SerialParserConfig } from '../config.js';
import { createCsvParser } from './csv.js';
import { createJsonParser } from './json.js';
import { createKvParser } from './kv.js';
import { createNmeaParser } from './nmea.js';
import type { LineParser } from './parse-result.js';
import { createRegexParser } from './regex.js';

export type { LineParser, ParseErrorReason, ParseFailure, ParseOk, ParseResult } from './parse-result.js';

export function createParser(config: SerialParserConfig): LineParser {
  switch (config.format) {
    case 'csv':
      return createCsvParser(config);
    case 'json':
      return createJsonParser(config);
    case 'kv':
      return createKvParser(config);
    case 'nmea':
      return createNmeaParser(config);
    case 'regex':
      return createRegexParser(config);
  }
}
