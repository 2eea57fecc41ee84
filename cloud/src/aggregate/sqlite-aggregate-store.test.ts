// SqliteAggregateStore against the shared AggregateStore contract, plus what only the SQLite backend promises.
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import { StorageError } from '@tidemark/shared';
import { afterEach, describe, expect, it } from 'vitest';
import { commitOf, describeAggregateStoreContract, rec, series } from './aggregate-store.contract.js';
import { SqliteAggregateStore } from './sqlite-aggregate-store.js';

const tempDir = () => fs.mkdtemp(path.join(os.tmpdir(), 'tidemark-aggstore-'));

describeAggregateStoreContract('SqliteAggregateStore', async () => {
  const dir = await tempDir();
  const file = path.join(dir, 'aggregates.db');
  let current = new SqliteAggregateStore(file);
  await current.start();
  return {
    store: current,
    reopen: async () => {
      await current.stop();
      current = new SqliteAggregateStore(file);
      await current.start();
      return current;
    },
    cleanup: async () => {
      await current.stop();
      await fs.rm(dir, { recursive: true, force: true });
    },
    keepsNegativeZero: false,
  };
});

describe('SqliteAggregateStore specifics', () => {
  const dirs: string[] = [];
  const stores: SqliteAggregateStore[] = [];
  afterEach(async () => {
    for (const s of stores.splice(0)) await s.stop();
    for (const d of dirs.splice(0)) await fs.rm(d, { recursive: true, force: true });
  });
  const open = async (file: string) => {
    const s = new SqliteAggregateStore(file);
    await s.start();
    stores.push(s);
    return s;
  };

  it('refuses a file of another schema version', async () => {
    const dir = await tempDir();
    dirs.push(dir);
    const file = path.join(dir, 'aggregates.db');
    const db = new Database(file);
    db.pragma('user_version = 99');
    db.close();
    await expect(new SqliteAggregateStore(file).start()).rejects.toThrow(StorageError);
    await expect(new SqliteAggregateStore(file).start()).rejects.toThrow(/schema version 99 is not supported/);
  });

  it('copyBucketsBefore copies only buckets that start before the boundary (replay --from)', async () => {
    const dir = await tempDir();
    dirs.push(dir);
    const T = Date.UTC(2026, 10, 27);
    const live = await open(path.join(dir, 'live.db'));
    const b = [rec('d', 's', '1m', T - 60_000, 1), rec('d', 's', '1m', T, 2), rec('d', 's', '1h', T - 3_600_000, 3)];
    await live.commit(commitOf(9, { buckets: b }));
    await live.stop();
    const fresh = await open(path.join(dir, 'fresh.db'));
    expect(fresh.copyBucketsBefore(path.join(dir, 'live.db'), T)).toBe(2);
    expect(await series(fresh, 'd', 's', '1m')).toEqual([b[0]]);
    expect(await series(fresh, 'd', 's', '1h')).toEqual([b[2]]);
    expect(await fresh.checkpoint()).toBe(1);
  });
});
