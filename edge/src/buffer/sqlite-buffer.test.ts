import Database from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { decodeBatch, streamIdToHex } from '@tidemark/proto';
import { StorageError } from '@tidemark/shared';
import { SqliteBuffer } from './sqlite-buffer.js';
import { encoderFor, numbered, payloadNumbers, range, T0, tempDir, type TempDir } from './test-support/buffer-fixtures.js';

let dir: TempDir;
const open: SqliteBuffer[] = [];

function openBuffer(deviceId = 'press-07', file = 'buffer.db'): SqliteBuffer {
  const b = SqliteBuffer.open({ path: dir.file(file), deviceId });
  open.push(b);
  return b;
}

function reopen(b: SqliteBuffer): SqliteBuffer {
  b.close();
  return openBuffer(b.deviceId);
}

function appendCommit(b: SqliteBuffer, nums: number[], synced = true): void {
  b.append(nums.map((n) => numbered(n, synced)));
  b.commit();
}

beforeEach(() => {
  dir = tempDir();
});

afterEach(() => {
  for (const b of open.splice(0)) b.close();
  dir.remove();
});

describe('identity', () => {
  it('creates a 16-byte stream id once and keeps it, and the next seq, across reopen', () => {
    let b = openBuffer();
    const id = streamIdToHex(b.streamId);
    expect(b.streamId).toHaveLength(16);
    expect(b.streamIdHex).toBe(id);
    appendCommit(b, range(1, 4));
    expect(b.seal(2, encoderFor(b), T0)!.seq).toBe(1);
    expect(b.seal(2, encoderFor(b), T0)!.seq).toBe(2);

    b = reopen(b);
    expect(b.streamIdHex).toBe(id);
    expect(b.stats()).toMatchObject({ deviceId: 'press-07', streamId: id, nextSeq: 3 });
    appendCommit(b, [5]);
    expect(b.seal(10, encoderFor(b), T0)!.seq).toBe(3);
  });

  it('gives every new buffer its own stream id', () => {
    const a = openBuffer('press-07', 'a.db');
    const b = openBuffer('press-07', 'b.db');
    expect(a.streamIdHex).not.toBe(b.streamIdHex);
  });

  it('refuses a buffer that belongs to another device, naming both ids, and leaves it intact', () => {
    const b = openBuffer('press-07');
    const id = b.streamIdHex;
    appendCommit(b, range(1, 3));
    b.close();

    let err: unknown;
    try {
      openBuffer('press-08');
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(StorageError);
    expect((err as StorageError).code).toBe('STORAGE');
    expect((err as Error).message).toContain('"press-07"');
    expect((err as Error).message).toContain('"press-08"');
    expect((err as Error).message).toContain(dir.file('buffer.db'));

    // The refused open neither took the buffer over nor held it open.
    const again = openBuffer('press-07');
    expect(again.streamIdHex).toBe(id);
    expect(again.pendingReadings).toBe(3);
  });

  it('refuses a buffer written by an unknown schema version with a StorageError', () => {
    const db = new Database(dir.file('buffer.db'));
    db.pragma('user_version = 99');
    db.close();
    expect(() => openBuffer()).toThrow(StorageError);
    expect(() => openBuffer()).toThrow(/schema version 99/);
  });

  it('creates the schema atomically: a creation that fails half-way leaves nothing behind', () => {
    // A table in the way makes the third CREATE fail, like a crash after the first two statements.
    const db = new Database(dir.file('buffer.db'));
    db.exec('CREATE TABLE batches (x INTEGER)');
    db.close();
    expect(() => openBuffer()).toThrow(StorageError);

    const fix = new Database(dir.file('buffer.db'));
    expect(fix.prepare("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name").pluck().all()).toEqual(['batches']);
    fix.exec('DROP TABLE batches');
    fix.close();
    const b = openBuffer();
    appendCommit(b, [1]);
    expect(b.seal(10, encoderFor(b), T0)!.seq).toBe(1);
  });

  it('reports a path it cannot open as a StorageError', () => {
    expect(() => SqliteBuffer.open({ path: dir.file('no/such/dir/buffer.db'), deviceId: 'press-07' })).toThrow(StorageError);
  });
});

describe('append and commit', () => {
  it('queues appended readings in memory: nothing is durable until commit', () => {
    const b = openBuffer();
    b.append([numbered(1), numbered(2)]);
    b.append([numbered(3)]);
    expect(b.queuedCount).toBe(3);
    expect(b.pendingReadings).toBe(0);
    expect(b.seal(10, encoderFor(b), T0)).toBeUndefined();

    const after = reopen(b);
    expect(after.queuedCount).toBe(0);
    expect(after.pendingReadings).toBe(0);
    expect(after.stats().bufferedReadings).toBe(0);
  });

  it('makes every queued reading durable in one commit', () => {
    const b = openBuffer();
    b.append([numbered(1), numbered(2), numbered(3)]);
    expect(b.commit()).toBe(3);
    expect(b.queuedCount).toBe(0);
    expect(b.pendingReadings).toBe(3);
    expect(b.commit()).toBe(0);

    const after = reopen(b);
    expect(after.pendingReadings).toBe(3);
    expect(payloadNumbers(after.seal(10, encoderFor(after), T0)!.payload)).toEqual([1, 2, 3]);
  });

  it('keeps the readings queued when a commit fails', () => {
    const b = openBuffer();
    b.append([numbered(1), numbered(2)]);
    b.close(); // the database is gone: the commit cannot succeed
    expect(() => b.commit()).toThrow(StorageError);
    expect(b.queuedCount).toBe(2);
    expect(b.pendingReadings).toBe(0);
  });
});

describe('seal', () => {
  it('seals the oldest readings first, at most maxReadings per batch, with seq 1, 2, 3', () => {
    const b = openBuffer();
    const enc = encoderFor(b);
    appendCommit(b, range(1, 7));

    const first = b.seal(3, enc, T0 + 100)!;
    expect(first).toMatchObject({ seq: 1, readings: 3, synced: true, firstTs: T0 + 1, lastTs: T0 + 3, createdMs: T0 + 100 });
    expect(b.pendingReadings).toBe(4);
    const second = b.seal(3, enc, T0)!;
    expect(second).toMatchObject({ seq: 2, readings: 3 });
    const third = b.seal(3, enc, T0)!;
    expect(third).toMatchObject({ seq: 3, readings: 1 });
    expect(b.seal(3, enc, T0)).toBeUndefined();
    expect(b.pendingReadings).toBe(0);

    expect([first, second, third].map((s) => payloadNumbers(s.payload))).toEqual([[1, 2, 3], [4, 5, 6], [7]]);
  });

  it('commitAndSeal with sealAll commits the queue and seals everything, split at clock flips, in one go', () => {
    const b = openBuffer();
    const enc = encoderFor(b);
    appendCommit(b, [1, 2]); // pending from an earlier tick
    b.append([3, 4, 5].map((n) => numbered(n)).concat([numbered(6, false)]));
    const { committed, sealed } = b.commitAndSeal(1000, enc, T0, true);
    expect(committed).toBe(4);
    expect(sealed.map((s) => [s.seq, s.synced, payloadNumbers(s.payload)])).toEqual([
      [1, true, [1, 2, 3, 4, 5]],
      [2, false, [6]],
    ]);
    expect(b.pendingReadings).toBe(0);
    // Without sealAll an incomplete batch stays pending.
    appendCommit(b, [7]);
    b.append([numbered(8)]);
    expect(b.commitAndSeal(1000, enc, T0).sealed).toEqual([]);
    expect(b.pendingReadings).toBe(2);
    // Nothing queued: sealAll still seals what is pending; the seqs carry on across reopen.
    expect(b.commitAndSeal(1000, enc, T0, true).sealed.map((s) => payloadNumbers(s.payload))).toEqual([[7, 8]]);
    expect(reopen(b).nextSequence).toBe(4);
  });

  it('creates new buffer files with small pages (each commit rewrites whole pages)', () => {
    openBuffer();
    const db = new Database(dir.file('buffer.db'), { readonly: true });
    expect(db.pragma('page_size', { simple: true })).toBe(1024);
    db.close();
  });

  it('stores a payload that decodes to exactly the sealed readings, with the batch identity', () => {
    const b = openBuffer();
    const readings = [
      { sensor: 'temp_c', ts: T0 + 5, value: 21.5, synced: false },
      { sensor: 'pressure_kpa', ts: T0 + 5, value: 101.325, synced: false },
      { sensor: 'temp_c', ts: T0 + 3, value: -0.25, synced: false }, // out of order in time: kept as is
      { sensor: 'temp_c', ts: T0 + 9, value: 1e300, synced: false },
    ];
    b.append(readings);
    b.commit();
    const sealed = b.seal(100, encoderFor(b), T0)!;
    expect(sealed).toMatchObject({ seq: 1, readings: 4, synced: false, firstTs: T0 + 3, lastTs: T0 + 9 });

    const stored = b.batchesAfter(0, 10)[0]!;
    expect(Buffer.from(stored.payload).equals(Buffer.from(sealed.payload))).toBe(true);
    const batch = decodeBatch(stored.payload);
    expect(batch.deviceId).toBe('press-07');
    expect(streamIdToHex(batch.streamId)).toBe(b.streamIdHex);
    expect(batch.seq).toBe(1);
    expect(batch.clock.synced).toBe(false);
    // The wire groups readings by sensor; the content must be the same multiset, each sensor in its order.
    const key = (r: { sensor: string; ts: number; value: number }) => `${r.sensor}@${r.ts}=${r.value}`;
    expect(batch.readings.map(key).sort()).toEqual(readings.map(key).sort());
    expect(batch.readings.filter((r) => r.sensor === 'temp_c').map((r) => r.value)).toEqual([21.5, -0.25, 1e300]);
  });

  it('never mixes synced and unsynced readings in one batch', () => {
    const b = openBuffer();
    const enc = encoderFor(b);
    appendCommit(b, [1, 2], true);
    appendCommit(b, [3, 4, 5], false);
    appendCommit(b, [6], true);

    const batches = [];
    for (let s = b.seal(100, enc, T0); s; s = b.seal(100, enc, T0)) batches.push(s);
    expect(batches.map((s) => [s.seq, s.synced, payloadNumbers(s.payload)])).toEqual([
      [1, true, [1, 2]],
      [2, false, [3, 4, 5]],
      [3, true, [6]],
    ]);
    for (const s of batches) expect(decodeBatch(s.payload).clock.synced).toBe(s.synced);
    expect(b.batchesAfter(0, 10).map((s) => s.synced)).toEqual([true, false, true]);
  });

  it('changes nothing when the encoder throws', () => {
    const b = openBuffer();
    appendCommit(b, range(1, 3));
    expect(() =>
      b.seal(10, () => {
        throw new Error('encoder failed');
      }, T0),
    ).toThrow('encoder failed');
    expect(b.pendingReadings).toBe(3);
    expect(b.stats()).toMatchObject({ nextSeq: 1, sealedBatches: 0 });
    expect(b.seal(10, encoderFor(b), T0)).toMatchObject({ seq: 1, readings: 3 });
  });

  it('never reuses a seq, even when every batch was removed before a reopen', () => {
    let b = openBuffer();
    appendCommit(b, range(1, 4));
    expect(b.seal(2, encoderFor(b), T0)!.seq).toBe(1);
    expect(b.seal(2, encoderFor(b), T0)!.seq).toBe(2);
    b.remove(1);
    b.remove(2);
    expect(b.stats().sealedBatches).toBe(0);

    b = reopen(b);
    appendCommit(b, [5, 6]);
    const next = b.seal(10, encoderFor(b), T0)!;
    expect(next.seq).toBe(3);
    expect(decodeBatch(next.payload).seq).toBe(3);
  });

  it('keeps readings that were pending at close pending after reopen, oldest first', () => {
    let b = openBuffer();
    appendCommit(b, range(1, 5));
    b.seal(2, encoderFor(b), T0);
    b = reopen(b);
    expect(b.pendingReadings).toBe(3);
    appendCommit(b, [6]);
    expect(payloadNumbers(b.seal(10, encoderFor(b), T0)!.payload)).toEqual([3, 4, 5, 6]);
  });
});

describe('batchesAfter', () => {
  function sealFive(b: SqliteBuffer): void {
    appendCommit(b, range(1, 10));
    for (let i = 0; i < 5; i++) b.seal(2, encoderFor(b), T0 + i);
  }

  it('pages through unacknowledged batches in seq order', () => {
    const b = openBuffer();
    sealFive(b);
    expect(b.batchesAfter(0, 2).map((s) => s.seq)).toEqual([1, 2]);
    expect(b.batchesAfter(2, 2).map((s) => s.seq)).toEqual([3, 4]);
    expect(b.batchesAfter(4, 2).map((s) => s.seq)).toEqual([5]);
    expect(b.batchesAfter(5, 2)).toEqual([]);
    expect(b.batchesAfter(0, 100).map((s) => payloadNumbers(s.payload))).toEqual([[1, 2], [3, 4], [5, 6], [7, 8], [9, 10]]);
  });

  it('returns the stored metadata of each batch', () => {
    const b = openBuffer();
    sealFive(b);
    expect(b.batchesAfter(2, 1)[0]).toMatchObject({ seq: 3, readings: 2, synced: true, firstTs: T0 + 5, lastTs: T0 + 6, createdMs: T0 + 2 });
  });

  it('skips removed batches', () => {
    const b = openBuffer();
    sealFive(b);
    b.remove(3);
    b.remove(1);
    expect(b.batchesAfter(0, 2).map((s) => s.seq)).toEqual([2, 4]);
    expect(b.batchesAfter(2, 2).map((s) => s.seq)).toEqual([4, 5]);
  });
});

describe('remove', () => {
  it('is idempotent and only removes the named batch', () => {
    const b = openBuffer();
    appendCommit(b, range(1, 4));
    b.seal(2, encoderFor(b), T0);
    b.seal(2, encoderFor(b), T0);
    expect(b.remove(1)).toBe(true);
    expect(b.remove(1)).toBe(false);
    expect(b.remove(42)).toBe(false);
    expect(b.batchesAfter(0, 10).map((s) => s.seq)).toEqual([2]);
    expect(reopen(b).batchesAfter(0, 10).map((s) => s.seq)).toEqual([2]);
  });

  it('hides an acked batch at once and deletes it on disk with the next commit, not with a write of its own', () => {
    const b = openBuffer();
    appendCommit(b, range(1, 4));
    b.seal(2, encoderFor(b), T0);
    b.seal(2, encoderFor(b), T0);
    const onDisk = () => {
      const db = new Database(dir.file('buffer.db'), { readonly: true });
      try {
        return db.prepare('SELECT seq FROM batches ORDER BY seq').pluck().all();
      } finally {
        db.close();
      }
    };
    expect(b.remove(1)).toBe(true);
    expect(b.batchesAfter(0, 10).map((s) => s.seq)).toEqual([2]);
    expect(onDisk()).toEqual([1, 2]); // a crash now only resends batch 1 (acked again as a duplicate)
    appendCommit(b, [5]);
    expect(onDisk()).toEqual([2]);
    // Operations that read or drop batches themselves see it gone: an acked batch is never counted as dropped.
    expect(b.remove(2)).toBe(true);
    expect(b.stats()).toMatchObject({ sealedBatches: 0, bufferedReadings: 1 });
    expect(b.dropOldestBatches(10, 'buffer_full')).toBe(0);
    expect(b.stats().drops).toEqual({});
  });

  it('deletes acked batches at close when no commit came after the ack', () => {
    const b = openBuffer();
    appendCommit(b, range(1, 4));
    b.seal(2, encoderFor(b), T0);
    b.seal(2, encoderFor(b), T0);
    b.remove(2);
    expect(reopen(b).batchesAfter(0, 10).map((s) => s.seq)).toEqual([1]);
  });
});

describe('stats', () => {
  it('is empty for a new buffer', () => {
    const b = openBuffer();
    expect(b.stats()).toMatchObject({
      deviceId: 'press-07',
      streamId: b.streamIdHex,
      nextSeq: 1,
      pendingReadings: 0,
      sealedBatches: 0,
      sealedReadings: 0,
      bufferedReadings: 0,
      oldestTs: null,
      newestTs: null,
      drops: {},
    });
    expect(b.stats().fileBytes).toBeGreaterThan(0);
  });

  it('counts pending and sealed readings and spans their times', () => {
    const b = openBuffer();
    b.append([numbered(50), numbered(10), numbered(30)]);
    b.commit();
    b.seal(2, encoderFor(b), T0); // 50 and 10 sealed, 30 pending
    b.append([numbered(40), numbered(5)]);
    b.commit();
    b.append([numbered(1)]); // queued only: not buffered yet
    expect(b.stats()).toMatchObject({
      nextSeq: 2,
      pendingReadings: 3,
      sealedBatches: 1,
      sealedReadings: 2,
      bufferedReadings: 5,
      oldestTs: T0 + 5,
      newestTs: T0 + 50,
    });

    b.remove(1);
    expect(b.stats()).toMatchObject({ sealedBatches: 0, sealedReadings: 0, bufferedReadings: 3, oldestTs: T0 + 5, newestTs: T0 + 40 });
  });

  it('counts drops by reason and keeps them across reopen', () => {
    let b = openBuffer();
    b.recordDrop('rejected: bad sensor', 3);
    b.recordDrop('overflow', 10);
    b.recordDrop('rejected: bad sensor', 4);
    expect(b.stats().drops).toEqual({ 'rejected: bad sensor': 7, overflow: 10 });
    b = reopen(b);
    expect(b.stats().drops).toEqual({ 'rejected: bad sensor': 7, overflow: 10 });
  });
});
