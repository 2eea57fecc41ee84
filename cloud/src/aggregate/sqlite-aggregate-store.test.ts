// SqliteAggregateStore against the shared AggregateStore contract, plus what only the SQLite backend promises.
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import { StorageError } from '@tidemark/shared';
import { waitFor } from '@tidemark/shared/testing';
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

  it('migrates a version 1 file: its single checkpoint becomes partition 0\'s, and nothing else changes', async () => {
    const dir = await tempDir();
    dirs.push(dir);
    const file = path.join(dir, 'aggregates.db');
    const db = new Database(file);
    db.exec(`CREATE TABLE checkpoint (id INTEGER PRIMARY KEY CHECK (id = 1), offset INTEGER NOT NULL) STRICT;
      INSERT INTO checkpoint(id, offset) VALUES (1, 1234);
      CREATE TABLE buckets (device TEXT NOT NULL, sensor TEXT NOT NULL, resolution TEXT NOT NULL, start INTEGER NOT NULL, count INTEGER NOT NULL,
        sum REAL NOT NULL, min REAL NOT NULL, max REAL NOT NULL, mean REAL NOT NULL, m2 REAL NOT NULL, first_ts INTEGER NOT NULL, first REAL NOT NULL,
        last_ts INTEGER NOT NULL, last REAL NOT NULL, revision INTEGER NOT NULL, PRIMARY KEY (device, sensor, resolution, start)) STRICT, WITHOUT ROWID;
      INSERT INTO buckets VALUES ('d', 's', '1m', 60000, 2, 3, 1, 2, 1.5, 0.5, 60001, 1, 60002, 2, 0);
      CREATE TABLE watermarks (device TEXT PRIMARY KEY, watermark INTEGER NOT NULL) STRICT;
      CREATE TABLE sensors (device TEXT NOT NULL, sensor TEXT NOT NULL, first_ts INTEGER NOT NULL, last_ts INTEGER NOT NULL, readings INTEGER NOT NULL,
        PRIMARY KEY (device, sensor)) STRICT, WITHOUT ROWID;
      CREATE TABLE unaggregated (reason TEXT PRIMARY KEY, readings INTEGER NOT NULL) STRICT;`);
    db.pragma('user_version = 1');
    db.close();
    const s = await open(file);
    expect(await s.checkpoints()).toEqual(new Map([[0, 1234]]));
    expect(await s.checkpoint(1)).toBe(1);
    expect((await s.queryBuckets({ device: 'd', sensor: 's', resolution: '1m', from: 0, to: 1e15, limit: 10 })).map((b) => b.stats.count)).toEqual([2]);
    await s.stop();
    const check = new Database(file, { readonly: true });
    expect(check.pragma('user_version', { simple: true })).toBe(2);
    check.close();
  });

  it('a reader follows a file renamed into its place (replay\'s switch-over) instead of reading the old one', async () => {
    const dir = await tempDir();
    dirs.push(dir);
    const file = path.join(dir, 'aggregates.db');
    const writer = await open(file);
    await writer.commit(commitOf(5));
    const reader = await open(file);
    expect(await reader.checkpoint()).toBe(5);
    await writer.stop();
    // A rebuilt store, renamed over the live path as replay does.
    const rebuilt = await open(`${file}.replay`);
    await rebuilt.commit(commitOf(77));
    await rebuilt.stop();
    // As replay-targets.ts does: settle the live file (checkpoint its WAL, remove -wal/-shm), then rename.
    const settle = new Database(file);
    settle.pragma('wal_checkpoint(TRUNCATE)');
    settle.close();
    for (const suffix of ['-wal', '-shm']) await fs.rm(`${file}${suffix}`, { force: true });
    await fs.rename(file, `${file}.pre-replay`);
    await fs.rename(`${file}.replay`, file);
    await waitFor(async () => (await reader.checkpoint()) === 77, { timeoutMs: 5000, description: 'the reader to see the rebuilt file' });
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
