// Config of a serial source: the port settings and how each line becomes readings (csv, json, kv, nmea, regex).
// Cross-field rules live here too: a csv timestamp_column must be one of its columns, a regex must compile
// and name at least one group.

import { regexGroups } from './regex-groups.js';
import { evenWithIssues, NAME_REGEX, reportDuplicates, z, zInt, zName, zString } from '@tidemark/shared/config';

export type SerialParserConfig =
  | { format: 'csv'; columns: string[]; delimiter: string; timestamp_column?: string; skip_header: boolean }
  | { format: 'json'; timestamp_field: string }
  | { format: 'kv'; separator: string }
  | { format: 'nmea'; sentences: ('GGA' | 'RMC' | 'VTG')[] }
  | { format: 'regex'; pattern: string; timestamp_group?: string };

export type SerialSourceConfig = {
  type: 'serial';
  name: string;
  path: string;
  baud_rate: number;
  data_bits: 5 | 6 | 7 | 8;
  parity: 'none' | 'even' | 'odd';
  stop_bits: 1 | 2;
  max_line_length: number;
  reconnect_min_ms: number;
  reconnect_max_ms: number;
  /** Read the port every this many ms (0: as each chunk arrives, through serialport's stream). */
  read_interval_ms: number;
  parser: SerialParserConfig;
};

export const NMEA_SENTENCES = ['GGA', 'RMC', 'VTG'] as const;

const csvParser = z
  .strictObject({
    format: z.literal('csv'),
    columns: z.array(zName('column name')).min(1, 'list at least one column'),
    delimiter: z.string().length(1, 'expected a single character, e.g. "," or ";"').default(','),
    timestamp_column: zName('column name').optional(),
    skip_header: z.boolean().default(false),
  })
  .superRefine((p, ctx) => {
    const columns = Array.isArray(p.columns) ? p.columns : [];
    reportDuplicates(ctx, columns, 'column', (i) => ['columns', i], (i) => `columns[${i}]`);
    if (typeof p.timestamp_column === 'string' && Array.isArray(p.columns) && !columns.includes(p.timestamp_column)) {
      ctx.addIssue({
        code: 'custom',
        path: ['timestamp_column'],
        input: p.timestamp_column,
        message: `"${p.timestamp_column}" is not one of columns (${columns.join(', ')})`,
      });
    }
  }, evenWithIssues);

const jsonParser = z.strictObject({
  format: z.literal('json'),
  timestamp_field: zString('a field name').default('ts'),
});

const kvParser = z.strictObject({
  format: z.literal('kv'),
  separator: zString('a separator such as "=" or ":"').default('='),
});

const nmeaParser = z.strictObject({
  format: z.literal('nmea'),
  sentences: z.array(z.enum(NMEA_SENTENCES)).min(1, 'list at least one sentence').default(() => [...NMEA_SENTENCES]),
});

export { regexGroups } from './regex-groups.js';

const regexParser = z
  .strictObject({
    format: z.literal('regex'),
    pattern: zString('a regular expression'),
    timestamp_group: zString('a group name').optional(),
  })
  .superRefine((p, ctx) => {
    if (typeof p.pattern !== 'string' || p.pattern === '') return;
    const groups = regexGroups(p.pattern);
    const issue = (path: string, message: string) => ctx.addIssue({ code: 'custom', path: [path], input: p.pattern, message });
    if (typeof groups === 'string') return issue('pattern', groups);
    if (groups.length === 0) return issue('pattern', 'needs at least one named group, e.g. T=(?<temp_c>-?[\\d.]+)');
    for (const g of groups) {
      if (!NAME_REGEX.test(g)) issue('pattern', `group name "${g}" is not a valid sensor name`);
    }
    if (typeof p.timestamp_group === 'string' && !groups.includes(p.timestamp_group)) {
      issue('timestamp_group', `"${p.timestamp_group}" is not a named group of pattern (${groups.join(', ')})`);
    }
  }, evenWithIssues);

export const serialParserSchema = z.discriminatedUnion('format', [csvParser, jsonParser, kvParser, nmeaParser, regexParser]);

export const serialSourceSchema = z
  .strictObject({
    type: z.literal('serial'),
    name: zName('source name'),
    path: zString('a device path such as /dev/ttyUSB0'),
    baud_rate: zInt({ min: 1 }).default(9600),
    data_bits: z.literal([5, 6, 7, 8]).default(8),
    parity: z.enum(['none', 'even', 'odd']).default('none'),
    stop_bits: z.literal([1, 2]).default(1),
    max_line_length: zInt({ min: 16, max: 1_048_576 }).default(4096),
    reconnect_min_ms: zInt({ min: 1 }).default(500),
    reconnect_max_ms: zInt({ min: 1 }).default(10_000),
    read_interval_ms: zInt({ min: 0, max: 1000 }).default(20),
    parser: serialParserSchema,
  })
  .superRefine((s, ctx) => {
    if (typeof s.reconnect_min_ms === 'number' && typeof s.reconnect_max_ms === 'number' && s.reconnect_max_ms < s.reconnect_min_ms) {
      ctx.addIssue({
        code: 'custom',
        path: ['reconnect_max_ms'],
        input: s.reconnect_max_ms,
        message: `must be >= reconnect_min_ms (${s.reconnect_min_ms})`,
      });
    }
  }, evenWithIssues);

// The schema must produce exactly the documented type.
const _output: z.ZodType<SerialSourceConfig> = serialSourceSchema;
void _output;
