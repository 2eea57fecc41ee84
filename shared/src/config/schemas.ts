// Reusable zod building blocks for Tidemark configs. Every helper words its own errors (see issues.ts), so a
// config mistake reads `buffer.max_bytes: expected a size like 64KB …, got "lots"`, not zod's defaults.

import { z } from 'zod';
import { LOG_LEVELS } from '../logging/levels.js';
import { describeValue, expecting } from './issues.js';
import { BYTE_SIZE_HELP, DURATION_HELP, formatBytes, formatDuration, parseByteSize, parseDuration } from './units.js';

/** Device ids, sensor and source names (SPEC "Names"). */
export const NAME_PATTERN = '^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$';
export const NAME_REGEX = new RegExp(NAME_PATTERN);

export interface ListenAddress {
  host: string;
  port: number;
}

export interface Resolution {
  /** Canonical text, e.g. `1m` (also for an input of `60s`). */
  label: string;
  ms: number;
}

type Refinement = z.core.$RefinementCtx;

function fail(ctx: Refinement, input: unknown, message: string): typeof z.NEVER {
  ctx.addIssue({ code: 'custom', input, message });
  return z.NEVER;
}

/**
 * Runs cross-field checks even when sibling fields already failed, so a config shows every problem at once.
 * The value handed to the check may then be partly invalid: checks must test what they read.
 */
export const evenWithIssues = {
  when: (payload: { value: unknown }) => typeof payload.value === 'object' && payload.value !== null,
};

function rangeWords(kind: 'integer' | 'number', o: NumberRange): string {
  const a = kind === 'integer' ? 'an integer' : 'a number';
  const { min, max, gt } = o;
  if (gt === 0 && max === undefined) return `a positive ${kind}`;
  if (min === 1 && max === undefined && kind === 'integer') return 'a positive integer';
  if (min === 0 && max === undefined) return `a non-negative ${kind}`;
  const low = gt !== undefined ? `> ${gt}` : min !== undefined ? `>= ${min}` : undefined;
  if (min !== undefined && max !== undefined) return `${a} from ${min} to ${max}`;
  if (low !== undefined && max !== undefined) return `${a} ${low} and <= ${max}`;
  if (low !== undefined) return `${a} ${low}`;
  if (max !== undefined) return `${a} <= ${max}`;
  return a;
}

export interface NumberRange {
  min?: number;
  max?: number;
  /** Exclusive lower bound. */
  gt?: number;
}

/** An integer, optionally bounded; errors read `expected a positive integer` / `expected an integer from 1 to 1000`. */
export function zInt(range: NumberRange = {}) {
  const error = expecting(`expected ${rangeWords('integer', range)}`);
  let s = z.number({ error }).int({ error });
  if (range.gt !== undefined) s = s.gt(range.gt, { error });
  if (range.min !== undefined) s = s.min(range.min, { error });
  if (range.max !== undefined) s = s.max(range.max, { error });
  return s;
}

/** A finite number, optionally bounded. */
export function zNumber(range: NumberRange = {}) {
  const error = expecting(`expected ${rangeWords('number', range)}`);
  let s = z.number({ error });
  if (range.gt !== undefined) s = s.gt(range.gt, { error });
  if (range.min !== undefined) s = s.min(range.min, { error });
  if (range.max !== undefined) s = s.max(range.max, { error });
  return s;
}

/** A non-empty string. */
export function zString(what = 'a non-empty string') {
  const error = expecting(`expected ${what}`);
  return z.string({ error }).min(1, { error });
}

/** A device id, sensor or source name matching NAME_PATTERN. */
export function zName(what = 'name') {
  return z
    .string({ error: expecting(`expected a ${what} matching ${NAME_PATTERN}`) })
    .regex(NAME_REGEX, {
      error: (iss) =>
        `invalid ${what} ${describeValue(iss.input)}: must match ${NAME_PATTERN} (letters, digits, ".", "_", "-"; up to 64 characters; starting with a letter or digit)`,
    });
}

/**
 * A byte size: `256MB`, `64KB`, `1.5GiB`, `1024`, or a number of bytes → bytes. KB/MB/GB/TB are powers of 1000,
 * KiB/MiB/GiB/TiB powers of 1024; units are case-insensitive.
 */
export function zByteSize(opts: { min?: number; max?: number } = {}) {
  return z.union([z.string(), z.number()], { error: expecting(`expected ${BYTE_SIZE_HELP}`) }).transform((v, ctx) => {
    let n: number;
    try {
      n = parseByteSize(v);
    } catch {
      return fail(ctx, v, `expected ${BYTE_SIZE_HELP}, got ${describeValue(v)}`);
    }
    if (opts.min !== undefined && n < opts.min) return fail(ctx, v, `must be at least ${formatBytes(opts.min)}`);
    if (opts.max !== undefined && n > opts.max) return fail(ctx, v, `must be at most ${formatBytes(opts.max)}`);
    return n;
  });
}

/** A duration: `100ms`, `5s`, `5m`, `1h`, `7d`, `2w`, compounds like `1h30m`, or a number of ms → ms. */
export function zDuration(opts: { min?: number; max?: number } = {}) {
  return z.union([z.string(), z.number()], { error: expecting(`expected ${DURATION_HELP}`) }).transform((v, ctx) => {
    let n: number;
    try {
      n = parseDuration(v);
    } catch {
      return fail(ctx, v, `expected ${DURATION_HELP}, got ${describeValue(v)}`);
    }
    if (opts.min !== undefined && n < opts.min) return fail(ctx, v, `must be at least ${formatDuration(opts.min)}`);
    if (opts.max !== undefined && n > opts.max) return fail(ctx, v, `must be at most ${formatDuration(opts.max)}`);
    return n;
  });
}

const LISTEN_HELP = 'an address like 0.0.0.0:1883, 127.0.0.1:9101, [::1]:80 or :8080';

/** Parses `host:port`, `[v6]:port`, `:port` (all interfaces, 0.0.0.0) or, with a default port, a bare host. */
export function parseListen(input: string | number, defaultPort?: number): ListenAddress | string {
  const portOf = (text: string | undefined): number | string => {
    if (text === undefined) return defaultPort ?? `missing port in "${input}": expected ${LISTEN_HELP}`;
    const port = Number(text);
    return /^\d+$/.test(text) && port <= 65535 ? port : `invalid port "${text}": expected 0 to 65535`;
  };
  if (typeof input === 'number') {
    return Number.isInteger(input) && input >= 0 && input <= 65535
      ? { host: '0.0.0.0', port: input }
      : `invalid port ${input}: expected 0 to 65535`;
  }
  const s = input.trim();
  const v6 = /^\[([0-9A-Fa-f:.%a-zA-Z]+)\](?::([^:]*))?$/.exec(s);
  const v4 = /^([^:\s[\]]*)(?::([^:]*))?$/.exec(s);
  const m = v6 ?? v4;
  if (!m) return `expected ${LISTEN_HELP}, got ${describeValue(input)}`;
  const host = m[1] === '' ? '0.0.0.0' : m[1]!;
  if (m[1] === '' && m[2] === undefined) return `expected ${LISTEN_HELP}, got ${describeValue(input)}`;
  const port = portOf(m[2]);
  return typeof port === 'string' ? port : { host, port };
}

/** `{host, port}` → `host:port` (IPv6 hosts in brackets). */
export function formatListen(addr: ListenAddress): string {
  return addr.host.includes(':') ? `[${addr.host}]:${addr.port}` : `${addr.host}:${addr.port}`;
}

/**
 * A listen address → `{ host, port }`. Accepts `host:port`, `[::1]:80`, `:8080` (host 0.0.0.0), a bare port
 * number, a `{ host, port }` mapping, and — when `defaultPort` is given — a bare host.
 */
export function zListen(defaultPort?: number) {
  const error = expecting(`expected ${LISTEN_HELP}`);
  const object = z.strictObject({ host: z.string(), port: z.number() });
  return z.union([z.string(), z.number(), object], { error }).transform((v, ctx): ListenAddress => {
    if (typeof v === 'object') {
      if (v.host.trim() === '') return fail(ctx, v, 'host must not be empty');
      if (!Number.isInteger(v.port) || v.port < 0 || v.port > 65535) return fail(ctx, v, `invalid port ${v.port}: expected 0 to 65535`);
      return { host: v.host, port: v.port };
    }
    const r = parseListen(v, defaultPort);
    return typeof r === 'string' ? fail(ctx, v, r) : r;
  });
}

const DAY_MS = 86_400_000;

/** An aggregation resolution: a duration of at least 1s that divides one day evenly → `{ label, ms }`. */
export function zResolution() {
  return z.union([z.string(), z.number()], { error: expecting('expected a resolution like 1m, 5m, 1h or 1d') }).transform(
    (v, ctx): Resolution => {
      let ms: number;
      try {
        ms = parseDuration(v);
      } catch {
        return fail(ctx, v, `expected a resolution like 1m, 5m, 1h or 1d, got ${describeValue(v)}`);
      }
      if (ms < 1000 || DAY_MS % ms !== 0) {
        return fail(ctx, v, `resolution ${describeValue(v)} must be at least 1s and divide one day evenly (e.g. 1m, 5m, 15m, 1h, 1d)`);
      }
      return { label: formatDuration(ms), ms };
    },
  );
}

const ISO_8601 = /^\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:?\d{2})?)?$/i;

/**
 * Parses an ISO 8601 date or date-time into ms since the epoch; a time without a zone is UTC.
 * Returns undefined when the text is not ISO 8601.
 */
export function parseTimestamp(text: string): number | undefined {
  const s = text.trim();
  if (!ISO_8601.test(s)) return undefined;
  const hasZone = /(?:Z|[+-]\d{2}:?\d{2})$/i.test(s) && s.length > 10;
  const normalized = s.length > 10 && !hasZone ? `${s.replace(' ', 'T')}Z` : s.replace(' ', 'T');
  const ms = Date.parse(normalized);
  return Number.isFinite(ms) ? ms : undefined;
}

/** A point in time: ms since the epoch, or an ISO 8601 string (`2024-01-01`, `2024-01-01T00:00:00Z`) → ms. */
export function zTimestamp() {
  const help = 'a time as ISO 8601 (2024-01-01T00:00:00Z) or ms since the epoch';
  return z.union([z.string(), z.number()], { error: expecting(`expected ${help}`) }).transform((v, ctx) => {
    const ms = typeof v === 'number' ? (Number.isSafeInteger(v) && v >= 0 ? v : undefined) : parseTimestamp(v);
    return ms === undefined ? fail(ctx, v, `expected ${help}, got ${describeValue(v)}`) : ms;
  });
}

/** A URL whose scheme is one of `protocols` (without `:`), kept as written. */
export function zUrl(protocols: readonly string[]) {
  const want = `a ${protocols.map((p) => `${p}://`).join(' or ')} URL`;
  return z.string({ error: expecting(`expected ${want}`) }).superRefine((v, ctx) => {
    let url: URL | undefined;
    try {
      url = new URL(v);
    } catch {
      url = undefined;
    }
    if (!url || !protocols.includes(url.protocol.slice(0, -1)) || url.hostname === '') {
      ctx.addIssue({ code: 'custom', input: v, message: `expected ${want}, got ${describeValue(v)}` });
    }
  });
}

/** Client-side TLS files for an MQTT connection (paths resolved against the config file's directory). */
export function zClientTls() {
  return z
    .strictObject({
      ca: zString('a file path').optional(),
      cert: zString('a file path').optional(),
      key: zString('a file path').optional(),
      reject_unauthorized: z.boolean({ error: expecting('expected true or false') }).default(true),
    })
    .superRefine((tls, ctx) => {
      if (typeof tls.cert === 'string' && tls.key === undefined) {
        ctx.addIssue({ code: 'custom', path: ['key'], message: 'required when cert is set (client certificate and key go together)' });
      }
      if (typeof tls.key === 'string' && tls.cert === undefined) {
        ctx.addIssue({ code: 'custom', path: ['cert'], message: 'required when key is set (client certificate and key go together)' });
      }
    }, evenWithIssues);
}

export type ClientTls = z.output<ReturnType<typeof zClientTls>>;

/** `log: { level }`, shared by every component. */
export function zLogConfig() {
  return z.strictObject({ level: z.enum(LOG_LEVELS).default('info') }).prefault({});
}

/**
 * Adds an issue at `pathOf(j)` for each later duplicate in `values`, naming the first occurrence:
 * `duplicate source name "x" (also sources[0])`.
 */
export function reportDuplicates(
  ctx: Refinement,
  values: readonly unknown[],
  what: string,
  pathOf: (index: number) => (string | number)[],
  labelOf: (index: number) => string,
): void {
  const first = new Map<string, number>();
  values.forEach((v, i) => {
    if (typeof v !== 'string') return;
    const seen = first.get(v);
    if (seen === undefined) first.set(v, i);
    else ctx.addIssue({ code: 'custom', input: v, path: pathOf(i), message: `duplicate ${what} "${v}" (also ${labelOf(seen)})` });
  });
}

/** Recursively optional, for overrides of defaults. Arrays are replaced as a whole. */
export type DeepPartial<T> = T extends readonly unknown[]
  ? T
  : T extends object
    ? { [K in keyof T]?: DeepPartial<T[K]> }
    : T;
