// A buffer written by the previous agent (schema 1: a row per pending reading) must open with the new one,
// keep its identity, seqs and sealed batches byte for byte, and send its pending readings in order.
import Database from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { exportBuffer } from './export.js';
import { SqliteBuffer } from './sqlite-buffer.js';
import { BUFFER_SCHEMA_VERSION } from './schema.js';
import { encoderFor, numbered, payloadNumbers, range, T0, tempDir, type TempDir } from './test-support/buffer-fixtures.js';
import { PassThrough } from 'node:stream';

/** Schema 1 exactly as agent versions before issue 12 created it. */
const SCHEMA_V1 = `
CREATE TABLE meta (key TEXT PRIMARY KEY, value ANY NOT NULL) STRICT;
CREATE TABLE readings (id INTEGER PRIMARY KEY, sensor TEXT NOT NULL, ts INTEGER NOT NULL, value REAL NOT NULL, synced INTEGER NOT NULL) STRICT;
CREATE TABLE batches (seq INTEGER PRIMARY KEY, payload BLOB NOT NULL, readings INTEGER NOT NULL, synced INTEGER NOT NULL,
  first_ts INTEGER NOT NULL, last_ts INTEGER NOT NULL, created_ms INTEGER NOT NULL, sent_ms INTEGER) STRICT;
CREATE TABLE drops (reason TEXT PRIMARY KEY, readings INTEGER NOT NULL) STRICT;
`;
const STREAM = Buffer.alloc(16, 0xab);

/** A v1 file: batches 3 and 4 sealed (readings 1–4; 1 and 2 were acked), readings 5–9 pending (7–8 untrusted). */
function writeV1(path: string): Buffer[] {
  const db = new Database(path);
  db.pragma('journal_mode = WAL');
  db.exec(SCHEMA_V1);
  db.pragma('user_version = 1');
  const meta = db.prepare('INSERT INTO meta(key, value) VALUES (?, ?)');
  meta.run('device_id', 'gw');
  meta.run('stream_id', STREAM);
  meta.run('next_seq', 5);
  // Payloads made by the current encoder with the old identity (the bytes only have to survive unchanged).
  const fake = { deviceId: 'gw', streamId: new Uint8Array(STREAM) } as SqliteBuffer;
  const encode = encoderFor(fake);
  const payloads = [3, 4].map((seq) => Buffer.from(encode(seq, [numbered(seq - 2)], true, 3)));
  const batch = db.prepare('INSERT INTO batches VALUES (?, ?, 1, 1, ?, ?, ?, ?)');
  batch.run(3, payloads[0], T0 + 1, T0 + 1, T0, T0);
  batch.run(4, payloads[1], T0 + 2, T0 + 2, T0, null);
  const reading = db.prepare('INSERT INTO readings(sensor, ts, value, synced) VALUES (?, ?, ?, ?)');
  for (const n of range(3, 9)) {
    if (n < 5) continue;
    reading.run('temp_c', T0 + n, n, n === 7 || n === 8 ? 0 : 1);
  }
  db.prepare("INSERT INTO drops VALUES ('buffer_full', 12)").run();
  db.close();
  return payloads;
}

describe('buffer schema migration', () => {
  let dir: TempDir;
  beforeEach(() => {
    dir = tempDir();
  });
  afterEach(() => dir.remove());

  it('opens a schema-1 buffer: same identity, batches byte for byte, pending readings sealed in order', () => {
    const payloads = writeV1(dir.file('buffer.db'));
    const b = SqliteBuffer.open({ path: dir.file('buffer.db'), deviceId: 'gw' });
    try {
      expect(Buffer.from(b.streamId).equals(STREAM)).toBe(true);
      expect(b.nextSequence).toBe(5);
      expect(b.pendingReadings).toBe(5);
      const stats = b.stats();
      expect(stats.sealedBatches).toBe(2);
      expect(stats.bufferedReadings).toBe(7);
      expect(stats.oldestTs).toBe(T0 + 1);
      expect(stats.newestTs).toBe(T0 + 9);
      expect(stats.drops).toEqual({ buffer_full: 12 });
      const kept = b.batchesAfter(0, 10);
      expect(kept.map((k) => k.seq)).toEqual([3, 4]);
      expect(kept.map((k) => Buffer.from(k.payload))).toEqual(payloads);
      // Pending readings come out in arrival order, split at the clock-state changes.
      const encode = encoderFor(b);
      const sealed = [];
      for (let s = b.seal(1000, encode, T0); s; s = b.seal(1000, encode, T0)) sealed.push(s);
      expect(sealed.map((s) => s.seq)).toEqual([5, 6, 7]);
      expect(sealed.map((s) => s.synced)).toEqual([true, false, true]);
      expect(sealed.map((s) => payloadNumbers(s.payload))).toEqual([[5, 6], [7, 8], [9]]);
    } finally {
      b.close();
    }
    const db = new Database(dir.file('buffer.db'), { readonly: true });
    expect(db.pragma('user_version', { simple: true })).toBe(BUFFER_SCHEMA_VERSION);
    expect(db.prepare("SELECT name FROM sqlite_master WHERE name = 'readings'").all()).toEqual([]);
    db.close();
  });

  it('`buffer export` reads a schema-1 buffer without migrating it', async () => {
    writeV1(dir.file('buffer.db'));
    const out = new PassThrough();
    let text = '';
    out.on('data', (c: Buffer) => (text += c.toString()));
    const result = await exportBuffer(dir.file('buffer.db'), out);
    expect(result.readings).toBe(7);
    expect(result.pendingReadings).toBe(5);
    const lines = text.trim().split('\n').map((l) => JSON.parse(l) as { value: number; seq: number | null; synced: boolean });
    expect(lines.map((l) => l.value)).toEqual([1, 2, 5, 6, 7, 8, 9]);
    expect(lines.map((l) => l.seq)).toEqual([3, 4, null, null, null, null, null]);
    expect(lines.map((l) => l.synced)).toEqual([true, true, true, true, false, false, true]);
    const db = new Database(dir.file('buffer.db'), { readonly: true });
    expect(db.pragma('user_version', { simple: true })).toBe(1);
    db.close();
  });
});
