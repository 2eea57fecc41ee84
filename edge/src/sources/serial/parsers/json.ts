// json: one object per line. Numeric members are sensors; nested objects are flattened with `.`
// (`{"env":{"t":1}}` → `env.t`); booleans are 1/0; strings, nulls and arrays are not readings and are
// ignored. The `timestamp_field` member (default `ts`, may be a flattened path like `meta.time`) holds the
// device time: a number (ms since epoch) or a string (ms or ISO 8601); `null` means "no time".
import type { SourceReading } from '../../source.js';
import type { SerialParserConfig } from '../config.js';
import { fail, quote, type LineParser, type ParseErrorReason, type ParseResult } from './parse-result.js';
import { isSensorName, parseTimestamp, timestampFromNumber } from './values.js';

export type JsonParserConfig = Extract<SerialParserConfig, { format: 'json' }>;

/** Flattened names longer than this can never be valid sensor names; it also bounds the recursion. */
const MAX_NAME_LENGTH = 64;

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
type JsonObject = { [key: string]: Json };

export function createJsonParser(config: JsonParserConfig): LineParser {
  const walker = new Flattener(config.timestamp_field);
  return function parseJson(line: string): ParseResult {
    let doc: Json;
    try {
      doc = JSON.parse(line) as Json;
    } catch (err) {
      return fail('bad_json', (err as Error).message);
    }
    if (doc === null || typeof doc !== 'object' || Array.isArray(doc)) {
      return fail('bad_json', `expected an object, got ${Array.isArray(doc) ? 'an array' : doc === null ? 'null' : typeof doc}`);
    }
    return walker.run(doc);
  };
}

/** One per parser, reused for every line (no closures or state objects per line). */
class Flattener {
  private readonly tsPath: string[];
  private readings: SourceReading[] = [];
  private ts: number | undefined;
  private error: ParseErrorReason | undefined;
  private detail = '';

  constructor(private readonly tsField: string) {
    this.tsPath = tsField.split('.');
  }

  run(doc: JsonObject): ParseResult {
    const tsValue = this.lookupTimestamp(doc);
    if (tsValue === undefined || tsValue === null) {
      this.ts = undefined;
    } else {
      const ts = typeof tsValue === 'number' ? timestampFromNumber(tsValue) : typeof tsValue === 'string' ? parseTimestamp(tsValue) : NaN;
      if (Number.isNaN(ts)) {
        return fail('bad_timestamp', `${this.tsField}: ${quote(JSON.stringify(tsValue) ?? '')} is not ms since epoch or ISO 8601`);
      }
      this.ts = ts;
    }
    this.readings = [];
    this.error = undefined;
    this.walk(doc, '');
    const readings = this.readings;
    this.readings = [];
    if (this.error !== undefined) return fail(this.error, this.detail, readings);
    if (readings.length === 0) return fail('no_readings', 'no numeric or boolean members');
    return { readings };
  }

  /** The timestamp member: an exact top-level key first, else the dotted path. */
  private lookupTimestamp(doc: JsonObject): Json | undefined {
    if (Object.hasOwn(doc, this.tsField)) return doc[this.tsField];
    if (this.tsPath.length < 2) return undefined;
    let node: Json | undefined = doc;
    for (const key of this.tsPath) {
      if (node === null || typeof node !== 'object' || Array.isArray(node) || !Object.hasOwn(node, key)) return undefined;
      node = (node as JsonObject)[key];
    }
    return node;
  }

  private walk(obj: JsonObject, prefix: string): void {
    for (const key of Object.keys(obj)) {
      const value = obj[key]!;
      const name = prefix === '' ? key : prefix + key;
      if (name === this.tsField) continue;
      if (typeof value === 'number') {
        this.emit(name, value);
      } else if (typeof value === 'boolean') {
        this.emit(name, value ? 1 : 0);
      } else if (value !== null && typeof value === 'object' && !Array.isArray(value)) {
        if (name.length >= MAX_NAME_LENGTH) this.refuse('invalid_sensor_name', `${quote(name)}: nested too deep for a sensor name`);
        else this.walk(value, `${name}.`);
      }
      // strings, nulls and arrays are not readings
    }
  }

  private emit(name: string, value: number): void {
    if (!isSensorName(name)) return this.refuse('invalid_sensor_name', quote(name));
    // JSON.parse turns 1e999 into Infinity.
    if (!Number.isFinite(value)) return this.refuse('not_a_number', `${name}: ${value}`);
    this.readings.push({ sensor: name, value, ts: this.ts });
  }

  private refuse(reason: ParseErrorReason, detail: string): void {
    if (this.error !== undefined) return;
    this.error = reason;
    this.detail = detail;
  }
}
