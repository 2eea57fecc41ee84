// The PostgreSQL aggregate store's writer lock across a real PostgreSQL restart (a private server, fast
// shutdown: every session is disconnected). The lock dies with its session; the aggregator's store must take
// it again before its next write, and if another writer (here a replay) took it in between, write nothing,
// fail naming the holder, and go on once the lock is free again.
import { describe, expect, it } from 'vitest';
import { useProcessReaper } from '@tidemark/shared/testing';
import { catalogueOf, commitOf, rec } from '../cloud/src/aggregate/aggregate-store.contract.js';
import { claimWriterLock } from '../cloud/src/aggregate/postgres-aggregator-lock.js';
import { PostgresAggregateStore } from '../cloud/src/aggregate/postgres-aggregate-store.js';
import { PostgresWriterSession } from '../cloud/src/aggregate/postgres-writer-session.js';
import { writerLockHolderAt } from '../cloud/src/aggregate/testing/postgres.js';
import { startPrivatePostgres } from './support/private-postgres.js';

const SCHEMA = 'tidemark';

const lockHolder = async (url: string) => (await writerLockHolderAt(url, SCHEMA))?.application_name;

const bucket = (start: number) => rec('d1', 'temp', '1m', start * 60_000, start);

describe('PostgreSQL writer lock across a server restart', () => {
  useProcessReaper();

  it('is taken again before the next write; while a replay holds it, nothing is written and the failure names it', async () => {
    const server = await startPrivatePostgres();
    const session = new PostgresWriterSession({ url: server.url, schema: SCHEMA, role: 'aggregator' });
    const store = new PostgresAggregateStore({ url: server.url, schema: SCHEMA, writer: session });
    await store.start();
    await session.start();
    try {
      await store.commit(commitOf(2, { expectedOffset: 1, buckets: [bucket(1)], sensors: catalogueOf([bucket(1)]) }));
      expect(await lockHolder(server.url)).toMatch(new RegExp(`^tidemark-cloud aggregator pid ${process.pid} `));

      await server.fastStop();
      await server.restart();
      expect(await lockHolder(server.url)).toBeUndefined(); // gone with the session
      const replay = await claimWriterLock(server.url, SCHEMA, 'replay');
      // The first write notices the lost session (or fails with it), and is refused the lock: nothing written.
      let err: Error | undefined;
      for (let i = 0; i < 3 && !/not taken again/.test(err?.message ?? ''); i++) {
        err = (await store.commit(commitOf(3, { expectedOffset: 2, buckets: [bucket(2)] })).catch((e: unknown) => e)) as Error | undefined;
      }
      expect(err?.message).toMatch(/writer lock of .* lost with its PostgreSQL session and not taken again: the replay is running \(pid \d+/);
      expect(session.held).toBe(false);
      expect(await store.checkpoint(0)).toBe(2);
      expect(await store.getBuckets([bucket(2)])).toEqual(new Map());
      expect(await lockHolder(server.url)).toMatch(/^tidemark-cloud replay pid /);

      await replay.release();
      await store.commit(commitOf(3, { expectedOffset: 2, buckets: [bucket(2)] }));
      expect(session.held).toBe(true);
      expect(await store.checkpoint(0)).toBe(3);
      expect(await lockHolder(server.url)).toMatch(new RegExp(`^tidemark-cloud aggregator pid ${process.pid} `));
      // Bucket retention writes under the lock too.
      expect(await store.deleteBucketsBefore('1m', 2 * 60_000, 100)).toBe(1);
    } finally {
      await session.stop();
      await store.stop();
      await server.fastStop();
    }
  }, 60_000);
});
