// PostgreSQL for tests: the server named by TIDEMARK_TEST_POSTGRES_URL (default the local one, user
// postgres, database test). Tests that need it call requirePostgres(), which fails loudly, naming the Debian
// package, when the server is not reachable: a missing server must turn CI red, never quietly skip.
// Every schema a test run makes starts with one random prefix, so dropSchemas() removes them all.
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { writerLockHolder } from '../postgres-aggregator-lock.js';

export const TEST_POSTGRES_URL = process.env.TIDEMARK_TEST_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/test';

let reachable: Promise<string> | undefined;

/** The test server's URL once `SELECT 1` works; throws naming the `postgresql` package otherwise. */
export function requirePostgres(): Promise<string> {
  reachable ??= (async () => {
    const client = new pg.Client({ connectionString: TEST_POSTGRES_URL, connectionTimeoutMillis: 5000 });
    client.on('error', () => undefined);
    try {
      await client.connect();
      await client.query('SELECT 1');
      return TEST_POSTGRES_URL;
    } catch (err) {
      throw new Error(
        `PostgreSQL is not reachable at ${TEST_POSTGRES_URL} (${(err as Error).message}): these tests need a running server. ` +
          'Install the Debian package "postgresql", start it, and let user postgres connect to database "test" without a password ' +
          '(or point TIDEMARK_TEST_POSTGRES_URL at another server).',
      );
    } finally {
      await client.end().catch(() => undefined);
    }
  })();
  return reachable;
}

/** A schema-name prefix unique to this test file's run (short: replay appends ~30 characters). */
export function schemaPrefix(): string {
  return `tmt_${randomBytes(4).toString('hex')}`;
}

/** Drops every schema whose name starts with `prefix` (a test run's leftovers, replay's renamed ones too). */
export async function dropSchemas(url: string, prefix: string): Promise<void> {
  const client = new pg.Client({ connectionString: url });
  client.on('error', () => undefined);
  await client.connect();
  try {
    const r = await client.query<{ nspname: string }>("SELECT nspname FROM pg_namespace WHERE starts_with(nspname, $1)", [prefix]);
    for (const { nspname } of r.rows) await client.query(`DROP SCHEMA "${nspname}" CASCADE`);
  } finally {
    await client.end();
  }
}

/** One query on a throwaway connection (for test set-up and inspection). */
export async function sql<R extends pg.QueryResultRow = pg.QueryResultRow>(url: string, text: string, values: unknown[] = []): Promise<R[]> {
  const client = new pg.Client({ connectionString: url });
  client.on('error', () => undefined);
  await client.connect();
  try {
    return (await client.query<R>(text, values)).rows;
  } finally {
    await client.end();
  }
}

/** The backend pid and application_name of the session holding `schema`'s writer lock, if any. */
export async function writerLockHolderAt(url: string, schema: string): Promise<{ pid: number; application_name: string } | undefined> {
  const client = new pg.Client({ connectionString: url });
  client.on('error', () => undefined);
  await client.connect();
  try {
    return await writerLockHolder(client, schema);
  } finally {
    await client.end();
  }
}
