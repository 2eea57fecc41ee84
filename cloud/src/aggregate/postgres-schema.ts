// The PostgreSQL aggregate store's tables, in a schema of their own, created idempotently: concurrent
// starters (roles starting at once) serialise on an advisory lock, and an existing schema must carry the
// version this code writes. Text columns use the "C" collation so that order (sensors, reasons) and key
// comparison are bytewise, as in SQLite, whatever the database's default collation.
import type pg from 'pg';
import { StorageError } from '@tidemark/shared';
import { advisoryKey, quoteIdent } from './postgres-connection.js';

export const POSTGRES_SCHEMA_VERSION = 2;

function ddl(q: string): string {
  return `
CREATE TABLE ${q}.meta (
  key   text COLLATE "C" PRIMARY KEY,
  value text NOT NULL
);
CREATE TABLE ${q}.buckets (
  device     text COLLATE "C" NOT NULL,
  sensor     text COLLATE "C" NOT NULL,
  resolution text COLLATE "C" NOT NULL,
  start      bigint NOT NULL,
  count      bigint NOT NULL,
  sum        double precision NOT NULL,
  min        double precision NOT NULL,
  max        double precision NOT NULL,
  mean       double precision NOT NULL,
  m2         double precision NOT NULL,
  first_ts   bigint NOT NULL,
  first      double precision NOT NULL,
  last_ts    bigint NOT NULL,
  last       double precision NOT NULL,
  revision   bigint NOT NULL,
  PRIMARY KEY (device, sensor, resolution, start)
);
CREATE TABLE ${q}.watermarks (
  device    text COLLATE "C" PRIMARY KEY,
  watermark bigint NOT NULL
);
CREATE TABLE ${q}.sensors (
  device   text COLLATE "C" NOT NULL,
  sensor   text COLLATE "C" NOT NULL,
  first_ts bigint NOT NULL,
  last_ts  bigint NOT NULL,
  readings bigint NOT NULL,
  PRIMARY KEY (device, sensor)
);
CREATE TABLE ${q}.unaggregated (
  reason   text COLLATE "C" PRIMARY KEY,
  readings bigint NOT NULL
);
CREATE TABLE ${q}.checkpoints (
  partition   integer PRIMARY KEY,
  next_offset bigint NOT NULL
);
INSERT INTO ${q}.meta (key, value) VALUES ('schema_version', '${POSTGRES_SCHEMA_VERSION}');
`;
}

/** Version 1 had one checkpoint (one stream partition): it becomes partition 0's. */
function migrate1to2(q: string): string {
  return `
CREATE TABLE ${q}.checkpoints (
  partition   integer PRIMARY KEY,
  next_offset bigint NOT NULL
);
INSERT INTO ${q}.checkpoints (partition, next_offset) SELECT 0, next_offset FROM ${q}.checkpoint WHERE id = 1;
DROP TABLE ${q}.checkpoint;
UPDATE ${q}.meta SET value = '2' WHERE key = 'schema_version';
`;
}

/** Every column of buckets, in table order (copies and upserts name them explicitly). */
export const BUCKET_COLUMNS = 'device, sensor, resolution, start, count, sum, min, max, mean, m2, first_ts, first, last_ts, last, revision';

async function inTransaction<T>(client: pg.ClientBase, fn: () => Promise<T>): Promise<T> {
  await client.query('BEGIN');
  try {
    const out = await fn();
    await client.query('COMMIT');
    return out;
  } catch (err) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw err;
  }
}

/** The schema's version: undefined if the schema or its meta table is absent. */
export async function schemaVersion(client: pg.ClientBase, schema: string): Promise<number | undefined> {
  const q = quoteIdent(schema);
  const t = await client.query<{ t: string | null }>('SELECT to_regclass($1)::text AS t', [`${q}.meta`]);
  if (t.rows[0]?.t == null) return undefined;
  const v = await client.query<{ value: string }>(`SELECT value FROM ${q}.meta WHERE key = 'schema_version'`);
  return v.rows[0] ? Number(v.rows[0].value) : undefined;
}

/**
 * Creates the schema and tables if absent, else checks their version. With `createOnly`, the schema must
 * not exist yet (replay builds into a name that has to be new).
 */
export async function ensureSchema(client: pg.ClientBase, schema: string, opts: { createOnly?: boolean } = {}): Promise<void> {
  const q = quoteIdent(schema);
  await inTransaction(client, async () => {
    await client.query('SELECT pg_advisory_xact_lock($1::int8)', [advisoryKey('schema', schema)]);
    const ns = await client.query<{ tables: number }>(
      'SELECT (SELECT count(*) FROM pg_class c WHERE c.relnamespace = n.oid)::int AS tables FROM pg_namespace n WHERE n.nspname = $1',
      [schema],
    );
    const existing = ns.rows[0];
    if (existing && opts.createOnly) throw new StorageError(`PostgreSQL schema "${schema}" already exists`);
    if (!existing) await client.query(`CREATE SCHEMA ${q}`);
    const version = existing ? await schemaVersion(client, schema) : undefined;
    if (version === undefined) {
      // An empty schema (made by a DBA, say) is ours to fill; one holding other tables is not.
      if (existing && existing.tables > 0) {
        throw new StorageError(`PostgreSQL schema "${schema}" holds tables but no Tidemark aggregate store; choose another aggregates.schema`);
      }
      await client.query(ddl(q));
    } else if (version === 1 && !opts.createOnly) {
      await client.query(migrate1to2(q));
    } else if (version !== POSTGRES_SCHEMA_VERSION) {
      throw new StorageError(`PostgreSQL schema "${schema}": aggregate schema version ${version} is not supported (expected ${POSTGRES_SCHEMA_VERSION})`);
    }
  });
}

export async function schemaExists(client: pg.ClientBase, schema: string): Promise<boolean> {
  const r = await client.query('SELECT 1 FROM pg_namespace WHERE nspname = $1', [schema]);
  return (r.rowCount ?? 0) > 0;
}

/**
 * Replay's switch-over, in ONE transaction: `live` (if it exists) becomes `previous` and `fresh` becomes
 * `live`. Readers naming `live` see the old tables up to the commit and the new ones after it (statements
 * are parsed per execution, so no cached plan keeps pointing at the old tables). Returns whether there was
 * a live schema to keep.
 */
export async function renameIntoPlace(client: pg.ClientBase, fresh: string, live: string, previous: string): Promise<boolean> {
  return inTransaction(client, async () => {
    // Same lock as ensureSchema: no starter can be creating `live` between the check and the renames.
    await client.query('SELECT pg_advisory_xact_lock($1::int8)', [advisoryKey('schema', live)]);
    const hadLive = await schemaExists(client, live);
    if (hadLive) await client.query(`ALTER SCHEMA ${quoteIdent(live)} RENAME TO ${quoteIdent(previous)}`);
    await client.query(`ALTER SCHEMA ${quoteIdent(fresh)} RENAME TO ${quoteIdent(live)}`);
    return hadLive;
  });
}
