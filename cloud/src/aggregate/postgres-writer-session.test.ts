// The writer session against the test PostgreSQL: the lock's session terminated by the server
// (pg_terminate_backend, what a restart or a DBA does to it) is noticed, the lock taken again before the next
// write, refused while another writer holds it (nothing written), and released on stop. The restart itself
// is in test/aggregate-writer-lock.e2e.test.ts.
import { afterAll, describe, expect, it } from 'vitest';
import { catalogueOf, commitOf, rec } from './aggregate-store.contract.js';
import { claimWriterLock } from './postgres-aggregator-lock.js';
import { PostgresAggregateStore } from './postgres-aggregate-store.js';
import { PostgresWriterSession } from './postgres-writer-session.js';
import { dropSchemas, requirePostgres, schemaPrefix, sql, writerLockHolderAt as holder } from './testing/postgres.js';

const prefix = schemaPrefix();
afterAll(async () => {
  const url = await requirePostgres().catch(() => undefined);
  if (url) await dropSchemas(url, prefix);
});

const b = (i: number) => rec('d', 's', '1m', i * 60_000, i);

describe('PostgresWriterSession', () => {
  it('a terminated lock session: the lock is taken again before the next write, or the write is refused while another holds it', async () => {
    const url = await requirePostgres();
    const schema = `${prefix}_w`;
    const session = new PostgresWriterSession({ url, schema, role: 'aggregator' });
    const store = new PostgresAggregateStore({ url, schema, writer: session });
    await store.start();
    await expect(store.commit(commitOf(2, { buckets: [b(1)] }))).rejects.toThrow(/not held: the aggregator is not started/);
    await session.start();
    try {
      await store.commit(commitOf(2, { expectedOffset: 1, buckets: [b(1)], sensors: catalogueOf([b(1)]) }));
      const first = (await holder(url, schema))!;
      expect(first.application_name).toMatch(/^tidemark-cloud aggregator pid /);

      await sql(url, 'SELECT pg_terminate_backend($1)', [first.pid]);
      const replay = await claimWriterLock(url, schema, 'replay');
      let err: Error | undefined;
      for (let i = 0; i < 3 && !/not taken again/.test(err?.message ?? ''); i++) {
        err = (await store.commit(commitOf(3, { expectedOffset: 2, buckets: [b(2)] })).catch((e: unknown) => e)) as Error | undefined;
      }
      expect(err?.message).toMatch(/not taken again: the replay is running/);
      expect(await store.checkpoint(0)).toBe(2);
      await expect(store.deleteBucketsBefore('1m', Infinity, 10)).rejects.toThrow(/not taken again/);
      expect((await store.getBuckets([b(1)])).size).toBe(1);

      await replay.release();
      await store.commit(commitOf(3, { expectedOffset: 2, buckets: [b(2)] }));
      expect(await store.checkpoint(0)).toBe(3);
      const again = (await holder(url, schema))!;
      expect(again.pid).not.toBe(first.pid);
      expect(again.application_name).toBe(first.application_name);
    } finally {
      await session.stop();
      await store.stop();
    }
    expect(await holder(url, schema)).toBeUndefined();
  });
});
