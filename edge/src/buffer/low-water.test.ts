import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { decodeBatch, encodeBatch } from '@tidemark/proto';
import { SqliteBuffer, type BatchEncoder } from './sqlite-buffer.js';
import { numbered, T0, tempDir, type TempDir } from './test-support/buffer-fixtures.js';

describe('batches state the buffer low-water mark', () => {
  let dir: TempDir;
  let buffer: SqliteBuffer;
  const encode: BatchEncoder = (seq, readings, synced, lowWaterSeq) =>
    encodeBatch({ deviceId: 'gw', streamId: buffer.streamId, seq, lowWaterSeq, clock: { synced, anchorWallMs: 0, anchorMonoMs: 0 }, readings });
  beforeEach(() => {
    dir = tempDir();
    buffer = SqliteBuffer.open({ path: dir.file('buffer.db'), deviceId: 'gw' });
  });
  afterEach(() => {
    buffer.close();
    dir.remove();
  });
  const lowWaterOf = (seq: number) => decodeBatch(buffer.batchesAfter(seq - 1, 1)[0]!.payload).lowWaterSeq;

  it('is the oldest seq still buffered: acked and dropped seqs below it will never be sent', () => {
    buffer.append([1, 2, 3, 4, 5].map((n) => numbered(n)));
    buffer.commit();
    for (let i = 0; i < 3; i++) buffer.seal(1, encode, T0); // seqs 1, 2, 3
    expect([1, 2, 3].map(lowWaterOf)).toEqual([1, 1, 1]);
    buffer.remove(1); // acked
    buffer.dropOldestBatches(1, 'buffer_full'); // seq 2 given up
    buffer.seal(1, encode, T0); // seq 4
    expect(lowWaterOf(4)).toBe(3);
    buffer.append([6, 7].map((n) => numbered(n)));
    const { sealed } = buffer.commitAndSeal(1, encode, T0); // seals 5 (pending) 6 and 7 as seqs 5, 6, 7
    expect(sealed.map((b) => decodeBatch(b.payload).lowWaterSeq)).toEqual(sealed.map(() => 3));
  });
});
