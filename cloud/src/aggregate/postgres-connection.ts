// node-postgres plumbing shared by the PostgreSQL aggregate store, its aggregator lock and replay: a pool
// whose bigint columns come back as JS numbers only when exact, doubles written as text that round-trips
// bit for bit, advisory lock keys, and URLs with the password hidden for messages.
import { createHash } from 'node:crypto';
import pg from 'pg';
import { NotConnectedError, StorageError, type Logger } from '@tidemark/shared';

/** A double as PostgreSQL float8 input that parses back to the same bits (String() drops the sign of -0). */
export function float8(x: number): string {
  return Object.is(x, -0) ? '-0' : String(x);
}

export function float8Array(xs: readonly number[]): string[] {
  const out = new Array<string>(xs.length);
  for (let i = 0; i < xs.length; i++) out[i] = float8(xs[i]!);
  return out;
}

const INT8_OID = 20;

/** bigint → number, refusing anything a double cannot hold exactly (never a silently rounded count). */
export function parseInt8(text: string): number {
  const n = Number(text);
  if (!Number.isSafeInteger(n)) throw new StorageError(`PostgreSQL returned ${text}, beyond the exact integer range of a JS number (±2^53)`);
  return n;
}

const types: pg.CustomTypesConfig = {
  getTypeParser: ((oid: number, format?: 'text' | 'binary') =>
    oid === INT8_OID && format !== 'binary' ? parseInt8 : pg.types.getTypeParser(oid, format)) as pg.CustomTypesConfig['getTypeParser'],
};

export interface PoolOptions {
  url: string;
  max?: number;
  applicationName?: string;
  logger?: Logger;
}

/** A pool for one store. Per-pool type parsers: the process-wide pg.types stay untouched. */
export function createPool(o: PoolOptions): pg.Pool {
  const pool = new pg.Pool({
    connectionString: o.url,
    max: o.max ?? 4,
    connectionTimeoutMillis: 10_000,
    idleTimeoutMillis: 30_000,
    ...(o.applicationName ? { application_name: o.applicationName } : {}),
    types,
    // PostgreSQL 12+ prints float8 in shortest round-trip form whenever extra_float_digits > 0 (the default
    // is 1); a server or role configured lower would round doubles on the way out, so pin it per session.
    onConnect: async (client) => {
      await client.query('SET extra_float_digits = 3');
    },
  });
  // An idle connection that dies (server restart) must not crash the process; the pool replaces it.
  pool.on('error', (err) => o.logger?.warn({ err: err.message }, 'idle PostgreSQL connection failed'));
  // A connection that dies while checked out, between two queries (inside a transaction), emits 'error' on
  // its client, where the pool listens only while it is idle: without a listener of its own that is an
  // uncaught exception (a server restart killed the collector this way). The query in flight or the next one
  // fails and is reported by its caller; the pool discards the broken client on release.
  // guard-audit: only adds a listener (whose body logs), which does not throw
  pool.on('connect', (client) => {
    client.on('error', (err) => o.logger?.debug({ err: err.message }, 'PostgreSQL connection failed while in use'));
  });
  return pool;
}

/** A single connection (advisory locks are per session, so they cannot come from a pool). */
export async function connectClient(url: string, applicationName: string, logger?: Logger): Promise<pg.Client> {
  const client = new pg.Client({ connectionString: url, application_name: applicationName, connectionTimeoutMillis: 10_000, types });
  client.on('error', (err) => logger?.warn({ err }, 'PostgreSQL connection failed'));
  try {
    await client.connect();
  } catch (err) {
    throw notConnected(url, err);
  }
  return client;
}

export function notConnected(url: string, err: unknown): NotConnectedError {
  return new NotConnectedError(`cannot connect to PostgreSQL at ${redactUrl(url)}: ${(err as Error).message}`, { cause: err });
}

/** True for errors of the connection rather than of a statement (the pool should drop the client). */
export function isConnectionError(err: unknown): boolean {
  const code = (err as { code?: unknown }).code;
  return typeof code !== 'string' || /^(08|57P)/.test(code) || code.startsWith('E');
}

/** The URL without its password, for messages and logs. */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString();
  } catch {
    return '(unparsable PostgreSQL URL)';
  }
}

export function quoteIdent(name: string): string {
  return `"${name.replaceAll('"', '""')}"`;
}

/** A stable 64-bit advisory lock key (as int8 text) for one purpose on one schema. */
export function advisoryKey(purpose: string, schema: string): string {
  const h = createHash('sha256').update(`tidemark:${purpose}:${schema}`).digest();
  return h.readBigInt64BE(0).toString();
}
