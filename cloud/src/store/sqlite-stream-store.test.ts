// SqliteStreamStore against the shared StreamStore contract, plus what only the SQLite backend promises.
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import { StorageError } from '@tidemark/shared';
import { afterEach, describe, expect, it } from 'vitest';
import { SqliteStreamStore } from './sqlite-stream-store.js';
import { describeStreamStoreContract, item } from './stream-store.contract.js';
import type { StreamStore } from './stream-store.js';

async function tempDir(): Promise<string> {
  return fs.mkdtemp(path.join(os.tmpdir(), 'tidemark-stream-'));
}

describeStreamStoreContract('SqliteStreamStore', async () => {
  const dir = await tempDir();
  const file = path.join(dir, 'stream.db');
  let current: StreamStore = new SqliteStreamStore({ path: file });
  await current.start();
  return {
    store: current,
    reopen: async () => {
      await current.stop();
      current = new SqliteStreamStore({ path: file });
      await current.start();
      return current;
    },
    cleanup: async () => {
      await current.stop();
      await fs.rm(dir, { recursive: true, force: true });
    },
  };
});

describe('SqliteStreamStore specifics', () => {
  const dirs: string[] = [];
  const stores: StreamStore[] = [];
  afterEach(async () => {
    for (const s of stores.splice(0)) await s.stop();
    for (const d of dirs.splice(0)) await fs.rm(d, { recursive: true, force: true });
  });
  async function fresh(opts: { maxDeadLetters?: number } = {}): Promise<{ store: SqliteStreamStore; file: string }> {
    const dir = await tempDir();
    dirs.push(dir);
    const file = path.join(dir, 'stream.db');
    const store = new SqliteStreamStore({ path: file, ...opts });
    await store.start();
    stores.push(store);
    return { store, file };
  }

  it('sees appends of a crashed writer without a clean close (kill -9: the commit is the durability point)', async () => {
    const { store, file } = await fresh();
    await store.append([item('d', 1, 1), item('d', 1, 3)]);
    // A second connection opened while the first was never closed: what a restart after kill -9 finds.
    const after = new SqliteStreamStore({ path: file });
    await after.start();
    stores.push(after);
    expect(await after.append([item('d', 1, 1), item('d', 1, 3), item('d', 1, 2)])).toEqual(['duplicate', 'duplicate', 'ok']);
    expect(await after.endOffset()).toBe(4);
  });

  it('rolls back a whole append when one item fails: no record, no dedup entry', async () => {
    const { store } = await fresh();
    const bad = { ...item('d', 1, 2), payload: undefined as unknown as Uint8Array };
    await expect(store.append([item('d', 1, 1), bad])).rejects.toBeInstanceOf(StorageError);
    expect(await store.endOffset()).toBe(1);
    expect(await store.append([item('d', 1, 1), item('d', 1, 2)])).toEqual(['ok', 'ok']);
    expect((await store.read(1, 10)).map((r) => r.offset)).toEqual([1, 2]);
  });

  it('keeps at most maxDeadLetters dead letters, dropping the oldest', async () => {
    const { store, file } = await fresh({ maxDeadLetters: 3 });
    for (let i = 1; i <= 5; i++) await store.deadLetter({ deviceId: 'd', reason: `r${i}`, receivedMs: i, payload: new Uint8Array([i]) });
    const db = new Database(file, { readonly: true });
    try {
      expect(db.prepare('SELECT reason FROM dead_letters ORDER BY id').pluck().all()).toEqual(['r3', 'r4', 'r5']);
    } finally {
      db.close();
    }
  });

  it('refuses to work before start and after stop with a StorageError', async () => {
    const { store } = await fresh();
    await store.stop();
    await expect(store.append([item('d', 1, 1)])).rejects.toBeInstanceOf(StorageError);
    await expect(store.read(1, 1)).rejects.toBeInstanceOf(StorageError);
    await expect(new SqliteStreamStore({ path: '/nonexistent/dir/stream.db' }).start()).rejects.toBeInstanceOf(StorageError);
  });
});
