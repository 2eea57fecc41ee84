// Parsing of /api/v1/aggregates, /api/v1/stream and /api/v1/devices parameters into typed queries, with a 400-worthy message
// per mistake; every message starts with the name of the parameter at fault.
import { isValidName } from '@tidemark/proto';
import type { Resolution } from '../aggregate/aggregator.js';
import { parseTagPair, type TagPair } from '../devices/device-tags.js';

export class QueryError extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

export interface AggregateQuery {
  /** One device, or (tags given) every device with all of `tags`, merged into one series. */
  device?: string;
  tags?: TagPair[];
  sensor: string;
  resolution: Resolution;
  from: number;
  to: number;
  limit: number;
  cursor?: string;
}

const ISO = /^\d{4}-\d{2}-\d{2}(T\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:?\d{2})?)?$/;

/** ISO 8601 (a date, or date-time with Z/offset; a date-time without zone is taken as UTC). */
export function parseTime(name: string, raw: string): number {
  if (!ISO.test(raw)) throw new QueryError('invalid_parameter', `${name}: expected an ISO 8601 time like 2026-11-27T10:00:00Z, got "${raw}"`);
  // Date.parse rolls impossible days over (2026-02-30 -> March 2): check the calendar date ourselves.
  const [y, mo, d] = raw.slice(0, 10).split('-').map(Number) as [number, number, number];
  const monthDays = [31, y % 4 === 0 && (y % 100 !== 0 || y % 400 === 0) ? 29 : 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];
  if (mo < 1 || mo > 12 || d < 1 || d > monthDays[mo - 1]!) throw new QueryError('invalid_parameter', `${name}: "${raw}" is not a valid time`);
  const hasZone = /(Z|[+-]\d{2}:?\d{2})$/.test(raw) && raw.includes('T');
  const ms = Date.parse(raw.includes('T') && !hasZone ? `${raw}Z` : raw);
  if (!Number.isFinite(ms)) throw new QueryError('invalid_parameter', `${name}: "${raw}" is not a valid time`);
  return ms;
}

function single(query: Record<string, unknown>, name: string): string | undefined {
  const v = query[name];
  if (v === undefined) return undefined;
  if (Array.isArray(v)) throw new QueryError('invalid_parameter', `${name}: given more than once`);
  return String(v);
}

function required(query: Record<string, unknown>, name: string): string {
  const v = single(query, name);
  if (v === undefined || v === '') throw new QueryError('missing_parameter', `${name}: required`);
  return v;
}

const KNOWN = new Set(['device', 'tag', 'sensor', 'resolution', 'from', 'to', 'limit', 'cursor']);

export function parseAggregateQuery(
  query: Record<string, unknown>,
  opts: { resolutions: readonly Resolution[]; maxPageSize: number; defaultLimit?: number },
): AggregateQuery {
  for (const k of Object.keys(query)) {
    if (!KNOWN.has(k)) throw new QueryError('unknown_parameter', `${k}: unknown parameter (expected ${[...KNOWN].join(', ')})`);
  }
  const tags = parseTagFilter(query);
  let device: string | undefined;
  if (tags.length === 0) {
    device = required(query, 'device');
    if (!isValidName(device)) throw new QueryError('invalid_parameter', `device: "${device}" is not a valid device id`);
  } else if (query.device !== undefined) {
    throw new QueryError('invalid_parameter', 'device: give device or tag, not both (tag merges every device that has it)');
  }
  const sensor = required(query, 'sensor');
  if (!isValidName(sensor)) throw new QueryError('invalid_parameter', `sensor: "${sensor}" is not a valid sensor name`);
  const resLabel = single(query, 'resolution') ?? opts.resolutions[0]!.label;
  const resolution = opts.resolutions.find((r) => r.label === resLabel);
  if (!resolution) {
    throw new QueryError('invalid_parameter', `resolution: "${resLabel}" is not configured (expected one of ${opts.resolutions.map((r) => r.label).join(', ')})`);
  }
  const from = parseTime('from', required(query, 'from'));
  const to = parseTime('to', required(query, 'to'));
  if (to <= from) throw new QueryError('invalid_parameter', 'to: must be after from');
  const limitRaw = single(query, 'limit');
  let limit = opts.defaultLimit ?? Math.min(1000, opts.maxPageSize);
  if (limitRaw !== undefined) {
    if (!/^\d+$/.test(limitRaw) || Number(limitRaw) < 1 || Number(limitRaw) > opts.maxPageSize) {
      throw new QueryError('invalid_parameter', `limit: expected an integer from 1 to ${opts.maxPageSize}, got "${limitRaw}"`);
    }
    limit = Number(limitRaw);
  }
  const cursor = single(query, 'cursor');
  if (cursor !== undefined) decodeCursor(cursor);
  return { ...(device !== undefined ? { device } : { tags }), sensor, resolution, from, to, limit, ...(cursor !== undefined ? { cursor } : {}) };
}

export interface StreamQuery {
  /** Absent = every device. */
  device?: string;
  /** Absent = every sensor. */
  sensor?: string;
  /** Absent = every configured resolution. */
  resolution?: Resolution;
}

const STREAM_KNOWN = ['device', 'sensor', 'resolution'];

/** /api/v1/stream filters: each optional, but a given one must be valid (an empty value is a mistake, not "all"). */
export function parseStreamQuery(query: Record<string, unknown>, opts: { resolutions: readonly Resolution[] }): StreamQuery {
  for (const k of Object.keys(query)) {
    if (!STREAM_KNOWN.includes(k)) throw new QueryError('unknown_parameter', `${k}: unknown parameter (expected ${STREAM_KNOWN.join(', ')})`);
  }
  const optional = (name: string, what: string): string | undefined => {
    const v = single(query, name);
    if (v === undefined) return undefined;
    if (v === '') throw new QueryError('invalid_parameter', `${name}: empty; omit it to stream every ${what}`);
    return v;
  };
  const out: StreamQuery = {};
  const device = optional('device', 'device');
  if (device !== undefined) {
    if (!isValidName(device)) throw new QueryError('invalid_parameter', `device: "${device}" is not a valid device id`);
    out.device = device;
  }
  const sensor = optional('sensor', 'sensor');
  if (sensor !== undefined) {
    if (!isValidName(sensor)) throw new QueryError('invalid_parameter', `sensor: "${sensor}" is not a valid sensor name`);
    out.sensor = sensor;
  }
  const resLabel = optional('resolution', 'resolution');
  if (resLabel !== undefined) {
    const resolution = opts.resolutions.find((r) => r.label === resLabel);
    if (!resolution) {
      throw new QueryError('invalid_parameter', `resolution: "${resLabel}" is not configured (expected one of ${opts.resolutions.map((r) => r.label).join(', ')})`);
    }
    out.resolution = resolution;
  }
  return out;
}

/** Cursors are opaque to clients: base64url of the last returned bucket start. */
/** `?tag=key=value`, repeatable (every one must hold); none → no filter. */
export function parseTagFilter(query: Record<string, unknown>): TagPair[] {
  const raw = query.tag;
  if (raw === undefined) return [];
  return (Array.isArray(raw) ? raw : [raw]).map((text) => {
    const t = parseTagPair(String(text));
    if ('problem' in t) throw new QueryError('invalid_parameter', `tag: ${t.problem}`);
    return t;
  });
}

export function encodeCursor(lastStart: number): string {
  return Buffer.from(`s:${lastStart}`).toString('base64url');
}

export function decodeCursor(cursor: string): number {
  const text = Buffer.from(cursor, 'base64url').toString('utf8');
  const m = /^s:(-?\d+)$/.exec(text);
  if (!m) throw new QueryError('invalid_parameter', 'cursor: not a cursor returned by this API');
  return Number(m[1]);
}
