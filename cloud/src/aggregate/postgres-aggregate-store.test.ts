// PostgresAggregateStore against the shared AggregateStore contract (each test in a fresh, uniquely named
// schema, dropped afterwards), plus what only this backend promises: schema handling, bigint safety, -0,
// multi-statement commits, the switch-over replay relies on, and the writer lock.
import { afterAll, beforeEach, describe, expect, it } from 'vitest';
import { PermanentError, StorageError } from '@tidemark/shared';
import { commitOf, describeAggregateStoreContract, rec, series } from './aggregate-store.contract.js';
import { claimWriterLock } from './postgres-aggregator-lock.js';
import { PostgresAggregateStore, type PostgresAggregateStoreOptions } from './postgres-aggregate-store.js';
import { postgresSchemaProblem } from './postgres-schema-name.js';
import { dropSchemas, requirePostgres, schemaPrefix, sql, TEST_POSTGRES_URL } from './testing/postgres.js';

const prefix = schemaPrefix();
let n = 0;
const nextSchema = () => `${prefix}_${++n}`;
afterAll(async () => {
  if (await requirePostgres().catch(() => undefined)) await dropSchemas(TEST_POSTGRES_URL, prefix);
});

function pgFixture(extra: Partial<PostgresAggregateStoreOptions> = {}) {
  return async () => {
    const url = await requirePostgres();
    const schema = nextSchema();
    let current = new PostgresAggregateStore({ url, schema, ...extra });
    await current.start();
    return {
      store: current,
      reopen: async () => {
        await current.stop();
        current = new PostgresAggregateStore({ url, schema, ...extra });
        await current.start();
        return current;
      },
      cleanup: async () => {
        await current.stop();
        await sql(url, `DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
      },
      keepsNegativeZero: true,
    };
  };
}

describeAggregateStoreContract('PostgresAggregateStore', pgFixture());
// Tiny statements: every commit of more than 7 buckets runs as several statements in one transaction.
describeAggregateStoreContract('PostgresAggregateStore, 7 rows per statement', pgFixture({ rowsPerStatement: 7 }));

describe('PostgresAggregateStore specifics', () => {
  let url: string;
  beforeEach(async () => {
    url = await requirePostgres(); // per test: each fails, naming the package, if the server is missing
  });
  const T = Date.UTC(2026, 10, 27);

  async function started(opts: Partial<PostgresAggregateStoreOptions> = {}) {
    const s = new PostgresAggregateStore({ url, schema: nextSchema(), ...opts });
    await s.start();
    return s;
  }

  it('creates its schema idempotently, also when several processes start at once', async () => {
    const schema = nextSchema();
    const stores = Array.from({ length: 4 }, () => new PostgresAggregateStore({ url, schema }));
    await Promise.all(stores.map((s) => s.start()));
    await stores[0]!.commit(commitOf(5));
    for (const s of stores) expect(await s.checkpoint()).toBe(5);
    await Promise.all(stores.map((s) => s.stop()));
    const tables = await sql<{ t: string }>(url, 'SELECT tablename AS t FROM pg_tables WHERE schemaname = $1 ORDER BY 1', [schema]);
    expect(tables.map((r) => r.t)).toEqual(['buckets', 'checkpoints', 'meta', 'sensors', 'unaggregated', 'watermarks']);
  });

  it('refuses another schema version, a schema holding foreign tables, and (createOnly) any existing schema', async () => {
    const s = await started();
    await s.stop();
    await sql(url, `UPDATE "${s.schema}".meta SET value = '99' WHERE key = 'schema_version'`);
    await expect(new PostgresAggregateStore({ url, schema: s.schema }).start()).rejects.toThrow(/schema version 99 is not supported \(expected 2\)/);
    const foreign = nextSchema();
    await sql(url, `CREATE SCHEMA "${foreign}"; CREATE TABLE "${foreign}".t (x int)`);
    await expect(new PostgresAggregateStore({ url, schema: foreign }).start()).rejects.toThrow(/holds tables but no Tidemark aggregate store/);
    await expect(new PostgresAggregateStore({ url, schema: foreign, createOnly: true }).start()).rejects.toThrow(StorageError);
    // An empty schema someone made for us is fine.
    const empty = nextSchema();
    await sql(url, `CREATE SCHEMA "${empty}"`);
    const ok = await started({ schema: empty });
    expect(await ok.checkpoint()).toBe(1);
    await ok.stop();
  });

  it('migrates a version 1 schema: its single checkpoint becomes partition 0\'s', async () => {
    const s = await started();
    await s.commit(commitOf(5, { buckets: [rec('d', 's', '1m', T, 1)] }));
    await s.stop();
    // Put the schema back the way version 1 laid it out.
    await sql(
      url,
      `DROP TABLE "${s.schema}".checkpoints;
       CREATE TABLE "${s.schema}".checkpoint (id smallint PRIMARY KEY CHECK (id = 1), next_offset bigint NOT NULL);
       INSERT INTO "${s.schema}".checkpoint VALUES (1, 777);
       UPDATE "${s.schema}".meta SET value = '1' WHERE key = 'schema_version'`,
    );
    const again = await started({ schema: s.schema });
    expect(await again.checkpoints()).toEqual(new Map([[0, 777]]));
    expect(await again.getBuckets([rec('d', 's', '1m', T, 1)])).toHaveProperty('size', 1);
    await again.stop();
  });

  it('validates schema names and says why', () => {
    expect(postgresSchemaProblem('tidemark')).toBeUndefined();
    expect(postgresSchemaProblem('Tidemark')).toMatch(/lower-case/);
    expect(postgresSchemaProblem('pg_x')).toMatch(/reserved/);
    expect(postgresSchemaProblem('a'.repeat(33))).toMatch(/at most 32/);
    expect(() => new PostgresAggregateStore({ url, schema: 'x"; DROP TABLE y; --' })).toThrow(StorageError);
  });

  it('fails to start with a clear error when the server is not reachable, without leaking the password', async () => {
    const bad = new PostgresAggregateStore({ url: 'postgres://postgres:s3cret@127.0.0.1:1/test', schema: nextSchema() });
    const err = (await bad.start().catch((e: unknown) => e)) as Error;
    expect(err.message).toMatch(/cannot connect to PostgreSQL at postgres:\/\/postgres:\*\*\*@127\.0\.0\.1:1\/test/);
    expect(err.message).not.toContain('s3cret');
  });

  it('refuses to read a bigint beyond 2^53 rather than round it', async () => {
    const s = await started();
    await s.commit(commitOf(2, { buckets: [rec('d', 's', '1m', T)] }));
    await sql(url, `UPDATE "${s.schema}".buckets SET count = 9007199254740993`);
    await expect(series(s, 'd', 's', '1m')).rejects.toThrow(/9007199254740993, beyond the exact integer range/);
    await s.stop();
  });

  it('keeps doubles exact even when the session would print them rounded (extra_float_digits)', async () => {
    // A connection whose startup options ask for rounded output (as a database or role default could).
    const rounding = `${url}${url.includes('?') ? '&' : '?'}options=${encodeURIComponent('-c extra_float_digits=-3')}`;
    expect(await sql(rounding, 'SELECT (0.1::float8 + 0.2::float8)::text AS x')).toEqual([{ x: '0.3' }]);
    const s = await started({ url: rounding });
    const b = { ...rec('d', 's', '1m', T), stats: { ...rec('d', 's', '1m', T).stats, sum: 0.1 + 0.2, mean: 1 / 3 } };
    await s.commit(commitOf(2, { buckets: [b] }));
    expect(await series(s, 'd', 's', '1m')).toStrictEqual([b]);
    await s.stop();
  });

  it('promote renames live → previous and fresh → live in one step; readers of "live" see the new tables', async () => {
    const live = await started();
    await live.commit(commitOf(10, { buckets: [rec('d', 's', '1m', T, 1)] }));
    const fresh = await started({ schema: `${live.schema}_replay_x` });
    expect(await fresh.copyBucketsBefore(live.schema, T + 1)).toBe(1);
    expect(await fresh.copyBucketsBefore(`${live.schema}_absent`, T + 1)).toBe(0);
    await fresh.commit(commitOf(20, { buckets: [rec('d', 's', '1m', T + 60_000, 2)] }));
    expect(await live.checkpoint()).toBe(10); // cached nothing: the next statement after the rename re-resolves
    expect(await fresh.promote(live.schema, `${live.schema}_pre_replay_x`)).toBe(true);
    expect(await live.checkpoint()).toBe(20);
    expect((await series(live, 'd', 's', '1m')).map((b) => b.start)).toEqual([T, T + 60_000]);
    const kept = await sql<{ next_offset: string }>(url, `SELECT next_offset FROM "${live.schema}_pre_replay_x".checkpoints WHERE partition = 0`);
    expect(kept).toEqual([{ next_offset: '10' }]);
    await live.stop();
  });

  it('the writer lock admits one holder and names it to the next', async () => {
    const schema = nextSchema();
    const held = await claimWriterLock(url, schema, 'aggregator');
    const refused = (await claimWriterLock(url, schema, 'replay').catch((e: unknown) => e)) as Error;
    expect(refused).toBeInstanceOf(PermanentError);
    expect(refused.message).toMatch(new RegExp(`^the aggregator is running \\(pid ${process.pid} on .+\\) on PostgreSQL schema "${schema}": stop tidemark-cloud`));
    const other = await claimWriterLock(url, `${schema}_other`, 'replay'); // another schema: independent
    await held.release();
    const next = await claimWriterLock(url, schema, 'replay');
    await expect(claimWriterLock(url, schema, 'aggregator')).rejects.toThrow(/the replay is running .* wait for the replay to finish/);
    await next.release();
    await other.release();
  });
});
