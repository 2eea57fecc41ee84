import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { Writable } from 'node:stream';
import Database from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { StorageError } from '@tidemark/shared';
import { BufferReader, exportBuffer, type ExportedReading } from './export.js';
import { SqliteBuffer } from './sqlite-buffer.js';
import { encoderFor, numbered, range, T0, tempDir, type TempDir } from './test-support/buffer-fixtures.js';

let dir: TempDir;
const toClose: { close(): void }[] = [];

function openBuffer(deviceId = 'press-07'): SqliteBuffer {
  const b = SqliteBuffer.open({ path: dir.file('buffer.db'), deviceId });
  toClose.push(b);
  return b;
}

function fill(b: SqliteBuffer, nums: number[], synced = true): void {
  b.append(nums.map((n) => numbered(n, synced)));
  b.commit();
}

/** Collects everything written, optionally calling `onWrite` before accepting each chunk. */
class Collector extends Writable {
  text = '';
  writes = 0;
  constructor(
    private readonly onWrite?: (n: number) => void | Promise<void>,
    highWaterMark?: number,
  ) {
    super(highWaterMark === undefined ? {} : { highWaterMark });
  }
  override _write(chunk: Buffer, _enc: BufferEncoding, cb: (err?: Error | null) => void): void {
    const n = ++this.writes;
    Promise.resolve(this.onWrite?.(n)).then(() => {
      this.text += chunk.toString();
      cb();
    }, cb);
  }
  get lines(): ExportedReading[] {
    return this.text
      .split('\n')
      .filter((l) => l !== '')
      .map((l) => JSON.parse(l) as ExportedReading);
  }
}

function sha(path: string): string {
  return createHash('sha256').update(readFileSync(path)).digest('hex');
}

beforeEach(() => {
  dir = tempDir('tidemark-export-');
});

afterEach(() => {
  for (const c of toClose.splice(0)) c.close();
  dir.remove();
});

describe('exportBuffer', () => {
  it('writes every buffered reading once: unacked batches (with seq) first, then pending (seq null)', async () => {
    const b = openBuffer();
    fill(b, range(1, 5), true);
    b.seal(3, encoderFor(b), T0); // seq 1: 1..3
    b.seal(10, encoderFor(b), T0); // seq 2: 4..5
    b.remove(1); // acked (deleted on disk by the next commit): must not be exported
    fill(b, range(6, 7), false);
    const out = new Collector();
    const result = await exportBuffer(dir.file('buffer.db'), out);
    expect(out.lines).toEqual([
      { sensor: 'temp_c', ts: new Date(T0 + 4).toISOString(), ts_ms: T0 + 4, value: 4, synced: true, seq: 2 },
      { sensor: 'temp_c', ts: new Date(T0 + 5).toISOString(), ts_ms: T0 + 5, value: 5, synced: true, seq: 2 },
      { sensor: 'temp_c', ts: new Date(T0 + 6).toISOString(), ts_ms: T0 + 6, value: 6, synced: false, seq: null },
      { sensor: 'temp_c', ts: new Date(T0 + 7).toISOString(), ts_ms: T0 + 7, value: 7, synced: false, seq: null },
    ]);
    expect(result).toEqual({ deviceId: 'press-07', streamId: b.streamIdHex, readings: 4, batches: 1, pendingReadings: 2, undecodable: [] });
  });

  it('keeps several sensors and the clock flag of each batch', async () => {
    const b = openBuffer();
    b.append([
      { sensor: 'temp_c', ts: T0, value: 21.5, synced: false },
      { sensor: 'pressure_kpa', ts: T0 + 1, value: 101.3, synced: false },
    ]);
    b.commit();
    b.seal(10, encoderFor(b), T0);
    const out = new Collector();
    await exportBuffer(dir.file('buffer.db'), out);
    expect(out.lines.map((l) => [l.sensor, l.value, l.synced, l.seq]).sort()).toEqual([
      ['pressure_kpa', 101.3, false, 1],
      ['temp_c', 21.5, false, 1],
    ]);
  });

  it('an empty buffer exports nothing', async () => {
    openBuffer().close();
    const out = new Collector();
    const result = await exportBuffer(dir.file('buffer.db'), out);
    expect(out.text).toBe('');
    expect(result).toMatchObject({ readings: 0, batches: 0, pendingReadings: 0 });
  });

  it('never changes the database file', async () => {
    const b = openBuffer();
    fill(b, range(1, 50));
    b.seal(20, encoderFor(b), T0);
    b.close();
    const before = sha(dir.file('buffer.db'));
    await exportBuffer(dir.file('buffer.db'), new Collector());
    expect(sha(dir.file('buffer.db'))).toBe(before);
  });

  it('runs beside a live agent: a seal during the export neither duplicates nor loses a reading', async () => {
    const live = openBuffer();
    fill(live, range(1, 3000));
    live.seal(1000, encoderFor(live), T0);
    let sealedDuringExport = 0;
    // The first chunk reaches the output before the pending rows are read: seal them all now, in the agent's
    // connection, while the export's snapshot is open.
    const out = new Collector(() => {
      if (sealedDuringExport === 0) {
        while (live.seal(1000, encoderFor(live), T0)) sealedDuringExport++;
        fill(live, range(3001, 3010));
      }
    }, 1);
    const result = await exportBuffer(dir.file('buffer.db'), out);
    expect(sealedDuringExport).toBe(2);
    const values = out.lines.map((l) => l.value);
    expect(values).toEqual(range(1, 3000));
    expect(result).toMatchObject({ readings: 3000, batches: 1, pendingReadings: 2000 });
    // The live buffer is unaffected and a new export sees the new state.
    const again = new Collector();
    await exportBuffer(dir.file('buffer.db'), again);
    expect(again.lines.map((l) => l.value)).toEqual(range(1, 3010));
    expect(again.lines.filter((l) => l.seq === null)).toHaveLength(10);
  });

  it('honours backpressure on a slow output', async () => {
    const b = openBuffer();
    fill(b, range(1, 5000));
    const out = new Collector(() => new Promise((r) => setImmediate(r)), 16);
    const result = await exportBuffer(dir.file('buffer.db'), out);
    expect(result.readings).toBe(5000);
    expect(out.writes).toBeGreaterThan(1);
    expect(out.lines).toHaveLength(5000);
  });

  it('reports batches that do not decode and exports the rest', async () => {
    const b = openBuffer();
    fill(b, range(1, 4));
    b.seal(2, encoderFor(b), T0);
    b.seal(2, encoderFor(b), T0);
    b.close();
    const raw = new Database(dir.file('buffer.db'));
    raw.prepare('UPDATE batches SET payload = ? WHERE seq = 1').run(Buffer.from([0xff, 0xff, 0xff]));
    raw.close();
    const out = new Collector();
    const result = await exportBuffer(dir.file('buffer.db'), out);
    expect(out.lines.map((l) => l.value)).toEqual([3, 4]);
    expect(result.undecodable).toHaveLength(1);
    expect(result.undecodable[0]!.seq).toBe(1);
    expect(result.undecodable[0]!.error).toMatch(/not a tidemark\.v1\.Batch/);
  });

  it('refuses a buffer of another device when deviceId is given', async () => {
    openBuffer('press-07').close();
    const err = await exportBuffer(dir.file('buffer.db'), new Collector(), { deviceId: 'press-08' }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(StorageError);
    expect((err as Error).message).toContain('belongs to device "press-07"');
  });

  it('a missing file or a file that is not a buffer is a StorageError', async () => {
    await expect(exportBuffer(dir.file('nope.db'), new Collector())).rejects.toThrow(/no buffer at .*nope\.db/);
    const other = new Database(dir.file('other.db'));
    other.exec('CREATE TABLE x(a)');
    other.close();
    await expect(exportBuffer(dir.file('other.db'), new Collector())).rejects.toThrow(/not a Tidemark buffer/);
  });

  it('rejects when the output fails', async () => {
    const b = openBuffer();
    fill(b, range(1, 5000));
    const out = new Collector(() => Promise.reject(new Error('EPIPE')), 16);
    out.on('error', () => undefined);
    await expect(exportBuffer(dir.file('buffer.db'), out)).rejects.toThrow('EPIPE');
  });

  it('accepts an open BufferReader and leaves it open', async () => {
    const b = openBuffer();
    fill(b, range(1, 3));
    const reader = BufferReader.open(dir.file('buffer.db'));
    toClose.push(reader);
    await exportBuffer(reader, new Collector());
    const out = new Collector();
    await exportBuffer(reader, out);
    expect(out.lines).toHaveLength(3);
  });
});

describe('BufferReader.summary', () => {
  it('matches the live buffer stats', () => {
    const b = openBuffer();
    fill(b, range(1, 10), true);
    b.seal(4, encoderFor(b), T0);
    fill(b, range(11, 12), false);
    b.recordDrop('overflow', 7);
    const reader = BufferReader.open(dir.file('buffer.db'));
    toClose.push(reader);
    const s = reader.summary();
    const live = b.stats();
    expect(s).toMatchObject({
      deviceId: 'press-07',
      streamId: live.streamId,
      nextSeq: live.nextSeq,
      pendingReadings: live.pendingReadings,
      sealedBatches: live.sealedBatches,
      sealedReadings: live.sealedReadings,
      bufferedReadings: live.bufferedReadings,
      oldestTs: T0 + 1,
      newestTs: T0 + 12,
      drops: { overflow: 7 },
    });
    expect(s.fileBytes).toBeGreaterThan(0);
  });
});
