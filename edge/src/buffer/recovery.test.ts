import { existsSync, readdirSync, readFileSync, truncateSync, writeFileSync } from 'node:fs';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { checkIntegrity, openBuffer } from './recovery.js';
import { SqliteBuffer } from './sqlite-buffer.js';
import { encoderFor, numbered, tempDir, type TempDir } from './test-support/buffer-fixtures.js';

describe('opening the buffer with corruption recovery', () => {
  let dir: TempDir;
  beforeEach(() => {
    dir = tempDir();
  });
  afterEach(() => dir.remove());

  it('opens a sound buffer as it is', () => {
    const first = openBuffer({ path: dir.file('buffer.db'), deviceId: 'gw' });
    expect(first.recovered).toBeUndefined();
    const id = first.buffer.streamIdHex;
    first.buffer.append([numbered(1)]);
    first.buffer.commit();
    first.buffer.close();
    const again = openBuffer({ path: dir.file('buffer.db'), deviceId: 'gw' });
    expect(again.recovered).toBeUndefined();
    expect(again.buffer.streamIdHex).toBe(id);
    expect(again.buffer.pendingReadings).toBe(1);
    again.buffer.close();
  });

  it('moves a file that is not a database aside and starts a new stream', () => {
    writeFileSync(dir.file('buffer.db'), 'this is not a database, it is what a failing SD card returned'.repeat(100));
    const opened = openBuffer({ path: dir.file('buffer.db'), deviceId: 'gw' }, () => new Date('2026-11-27T10:00:00Z'));
    expect(opened.recovered?.movedTo).toBe(dir.file('buffer.db.corrupt-2026-11-27T10-00-00-000Z'));
    expect(opened.recovered?.reason).toMatch(/NOTADB|not a database/i);
    expect(readFileSync(opened.recovered!.movedTo, 'utf8')).toMatch(/^this is not a database/);
    expect(opened.buffer.stats().nextSeq).toBe(1);
    opened.buffer.close();
  });

  it('moves a truncated database (with its WAL) aside', () => {
    const b = SqliteBuffer.open({ path: dir.file('buffer.db'), deviceId: 'gw' });
    const oldStream = b.streamIdHex;
    for (let i = 0; i < 50; i++) {
      b.append(Array.from({ length: 200 }, (_, k) => numbered(i * 200 + k)));
      b.commit();
      b.seal(100, encoderFor(b), Date.now());
    }
    b.close(); // checkpoints the WAL into the file
    const size = readFileSync(dir.file('buffer.db')).length;
    truncateSync(dir.file('buffer.db'), Math.floor(size / 3));
    writeFileSync(dir.file('buffer.db-wal'), Buffer.alloc(100, 7));
    expect(checkIntegrity(dir.file('buffer.db'))).toBeDefined();
    const opened = openBuffer({ path: dir.file('buffer.db'), deviceId: 'gw' });
    expect(opened.recovered).toBeDefined();
    expect(opened.buffer.streamIdHex).not.toBe(oldStream);
    expect(existsSync(`${opened.recovered!.movedTo}-wal`)).toBe(true);
    expect(readdirSync(dir.path).filter((f) => f.includes('.corrupt-')).length).toBeGreaterThanOrEqual(2);
    expect(readFileSync(`${opened.recovered!.movedTo}-wal`)).toEqual(Buffer.alloc(100, 7));
    opened.buffer.close();
  });

  it('does not treat a device mismatch as corruption', () => {
    SqliteBuffer.open({ path: dir.file('buffer.db'), deviceId: 'gw' }).close();
    expect(() => openBuffer({ path: dir.file('buffer.db'), deviceId: 'other' })).toThrow(/belongs to device "gw"/);
    expect(readdirSync(dir.path).filter((f) => f.includes('.corrupt-'))).toHaveLength(0);
  });
});
