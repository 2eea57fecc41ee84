// csv: `value,value,…` in the order of `columns`; the optional `timestamp_column` holds the device's time
// (ms since epoch or ISO 8601) and is not a sensor. Invariants: a line with the wrong number of fields is
// refused whole; an empty cell is skipped (no reading); a non-numeric cell is refused alone.
import type { SourceReading } from '../../source.js';
import type { SerialParserConfig } from '../config.js';
import { fail, quote, type LineParser, type ParseResult } from './parse-result.js';
import { isBlank, parseDecimal, parseTimestamp } from './values.js';

export type CsvParserConfig = Extract<SerialParserConfig, { format: 'csv' }>;

export function createCsvParser(config: CsvParserConfig): LineParser {
  const columns = config.columns;
  const count = columns.length;
  const delimiter = config.delimiter;
  const tsIndex = config.timestamp_column === undefined ? -1 : columns.indexOf(config.timestamp_column);

  return function parseCsv(line: string): ParseResult {
    const cells = line.split(delimiter);
    if (cells.length !== count) return fail('wrong_field_count', `expected ${count} fields, got ${cells.length}`);
    let ts: number | undefined;
    if (tsIndex >= 0) {
      const cell = cells[tsIndex]!;
      ts = parseTimestamp(cell);
      if (Number.isNaN(ts)) return fail('bad_timestamp', `${columns[tsIndex]}: ${quote(cell)} is not ms since epoch or ISO 8601`);
    }
    let readings: SourceReading[] | undefined;
    let badColumn = -1;
    for (let i = 0; i < count; i++) {
      if (i === tsIndex) continue;
      const cell = cells[i]!;
      if (cell.length === 0) continue;
      const value = parseDecimal(cell);
      if (Number.isNaN(value)) {
        if (badColumn < 0 && !isBlank(cell)) badColumn = i;
        continue;
      }
      (readings ??= []).push({ sensor: columns[i]!, value, ts });
    }
    if (badColumn >= 0) return fail('not_a_number', `${columns[badColumn]}: ${quote(cells[badColumn]!)}`, readings);
    if (readings === undefined) return fail('no_readings', 'every cell is empty');
    return { readings };
  };
}
