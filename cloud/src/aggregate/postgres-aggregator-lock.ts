// Who may write a PostgreSQL aggregate schema: the aggregator while it runs, or a replay while it rebuilds,
// never both. Each holds a session advisory lock keyed on the live schema name (PostgreSQL's equivalent of
// the SQLite store's pid file, and it works across hosts). The lock dies with its connection, so a crashed
// holder never blocks the next one; the holder's application_name tells a refused process whom to stop.
import os from 'node:os';
import type pg from 'pg';
import { PermanentError, type Logger } from '@tidemark/shared';
import { advisoryKey, connectClient } from './postgres-connection.js';

export type WriterRole = 'aggregator' | 'replay';

export interface WriterLock {
  /** The session holding the lock: writes made on it are made under the lock, or fail with it. */
  readonly client: pg.Client;
  /** True once the session ended or failed: the server has released the lock (it may be someone else's now). */
  readonly lost: boolean;
  release(): Promise<void>;
}

const APP_NAME = /^tidemark-cloud (aggregator|replay) pid (\d+) on (.*)$/;

/** Takes the writer lock of `schema` or throws PermanentError naming the process that holds it. */
export async function claimWriterLock(url: string, schema: string, role: WriterRole, logger?: Logger): Promise<WriterLock> {
  const client = await connectClient(url, `tidemark-cloud ${role} pid ${process.pid} on ${os.hostname()}`.slice(0, 63), logger);
  const key = advisoryKey('writer', schema);
  let lost = false;
  client.on('error', () => (lost = true));
  client.on('end', () => (lost = true));
  try {
    const got = await client.query<{ ok: boolean }>('SELECT pg_try_advisory_lock($1::int8) AS ok', [key]);
    if (!got.rows[0]!.ok) throw new PermanentError(await describeHolder(client, schema, role));
  } catch (err) {
    await client.end().catch(() => undefined);
    throw err;
  }
  return {
    client,
    get lost() {
      return lost;
    },
    release: async () => {
      // Ending the session releases the lock; unlocking first just makes that explicit and immediate.
      await client.query('SELECT pg_advisory_unlock($1::int8)', [key]).catch(() => undefined);
      await client.end().catch(() => undefined);
    },
  };
}

/** The session holding `schema`'s writer lock in this database, if any (for messages, and tests). */
export async function writerLockHolder(
  client: pg.ClientBase,
  schema: string,
): Promise<{ application_name: string; client_addr: string | null; pid: number } | undefined> {
  const k = BigInt.asUintN(64, BigInt(advisoryKey('writer', schema)));
  const r = await client.query<{ application_name: string; client_addr: string | null; pid: number }>(
    `SELECT a.application_name, a.client_addr::text AS client_addr, a.pid FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
     WHERE l.locktype = 'advisory' AND l.granted AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
       AND l.classid = $1::int8::oid AND l.objid = $2::int8::oid AND l.objsubid = 1`,
    [(k >> 32n).toString(), (k & 0xffffffffn).toString()],
  );
  return r.rows[0];
}

async function describeHolder(client: pg.Client, schema: string, role: WriterRole): Promise<string> {
  const h = await writerLockHolder(client, schema);
  const m = h ? APP_NAME.exec(h.application_name) : null;
  const what = m ? `the ${m[1]} is running (pid ${m[2]} on ${m[3]})` : `another process holds the aggregate store${h ? ` (PostgreSQL backend pid ${h.pid}, "${h.application_name}")` : ''}`;
  const advice =
    role === 'replay'
      ? 'stop tidemark-cloud (or run it with --role collector) before replay'
      : 'wait for the replay to finish, or stop the other aggregator: one aggregator per aggregate store';
  return `${what} on PostgreSQL schema "${schema}": ${advice}`;
}
