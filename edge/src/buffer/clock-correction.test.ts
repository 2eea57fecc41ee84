import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { decodeBatch, encodeBatch } from '@tidemark/proto';
import { SqliteBuffer } from './sqlite-buffer.js';
import { encoderFor, numbered, T0, tempDir, type TempDir } from './test-support/buffer-fixtures.js';

const STEP = 3_600_000 * 24 * 365; // a gateway that booted believing it was a year earlier

function reencode(payload: Uint8Array, step: number) {
  const batch = decodeBatch(payload);
  const readings = batch.readings.map((r) => ({ ...r, ts: r.ts + step }));
  const times = readings.map((r) => r.ts);
  return {
    payload: encodeBatch({ ...batch, readings, clock: { ...batch.clock, synced: true } }),
    firstTs: Math.min(...times),
    lastTs: Math.max(...times),
    readings: readings.length,
  };
}

describe('correcting readings when the clock becomes synchronised', () => {
  let dir: TempDir;
  let buffer: SqliteBuffer;
  beforeEach(() => {
    dir = tempDir();
    buffer = SqliteBuffer.open({ path: dir.file('buffer.db'), deviceId: 'gw' });
  });
  afterEach(() => {
    buffer.close();
    dir.remove();
  });

  it('moves unsent untrusted readings by the step and marks them trusted; sent batches keep their flagged times', () => {
    buffer.append([1, 2, 3, 4].map((n) => numbered(n, false)));
    buffer.commit();
    const sent = buffer.seal(2, encoderFor(buffer), T0)!; // seq 1: published before the sync
    buffer.markSent(sent.seq, T0);
    buffer.seal(2, encoderFor(buffer), T0); // seq 2: sealed while offline, never sent
    buffer.append([5, 6].map((n) => numbered(n, false)));
    buffer.commit(); // pending
    buffer.append([numbered(7, false)]); // queued, not yet committed

    expect(buffer.correctUnsynced(STEP, 1, reencode)).toBe(5);

    const [b1, b2] = buffer.batchesAfter(0, 10);
    expect(Buffer.from(b1!.payload).equals(Buffer.from(sent.payload)), 'a sent batch never changes').toBe(true);
    expect(b1!.synced).toBe(false);
    const fixed = decodeBatch(b2!.payload);
    expect(fixed.seq).toBe(2);
    expect(fixed.clock.synced).toBe(true);
    expect(fixed.readings.map((r) => r.ts)).toEqual([T0 + 3 + STEP, T0 + 4 + STEP]);
    expect(b2!.synced).toBe(true);
    expect(b2!.firstTs).toBe(T0 + 3 + STEP);

    buffer.commit();
    const rest = buffer.seal(100, encoderFor(buffer), T0)!;
    expect(rest.synced).toBe(true);
    expect(decodeBatch(rest.payload).readings.map((r) => r.ts)).toEqual([5, 6, 7].map((n) => T0 + n + STEP));
  });

  it('leaves batches sealed before this run (seq below firstSeq) alone', () => {
    buffer.append([numbered(1, false)]);
    buffer.commit();
    const old = buffer.seal(10, encoderFor(buffer), T0)!;
    expect(buffer.correctUnsynced(STEP, old.seq + 1, reencode)).toBe(0);
    expect(Buffer.from(buffer.batchesAfter(0, 1)[0]!.payload).equals(Buffer.from(old.payload))).toBe(true);
  });
});
