// Verification shared by the crash (SIGKILL) and power-cut (file snapshot) tests: given what the writer
// reported (test-support/crash-writer.ts), a buffer must account for every committed reading exactly once.
import { copyFileSync } from 'node:fs';
import { join } from 'node:path';
import { expect } from 'vitest';
import { decodeBatch } from '@tidemark/proto';
import { SqliteBuffer } from '../sqlite-buffer.js';
import { encoderFor, syncedFor, T0 } from './buffer-fixtures.js';

export const DEVICE = 'crash-01';

export interface Report {
  maxCommitted: number;
  /** seq -> [first, last] of batches the writer was about to remove. */
  removals: Map<number, [number, number]>;
}

export function parseReport(stdout: string, into: Report): void {
  const complete = stdout.slice(0, stdout.lastIndexOf('\n') + 1);
  for (const line of complete.split('\n')) {
    const [kind, a, b, c] = line.split(' ');
    if (kind === 'c') into.maxCommitted = Math.max(into.maxCommitted, Number(a));
    if (kind === 'r') into.removals.set(Number(a), [Number(b), Number(c)]);
  }
}

export function commitLines(stdout: string): number {
  return stdout.split('\n').filter((l) => l.startsWith('c ')).length;
}

/** Checks one decoded batch against its stored row and the writer's numbering; returns its reading numbers. */
function checkBatch(buffer: SqliteBuffer, stored: ReturnType<SqliteBuffer['batchesAfter']>[number]): number[] {
  const batch = decodeBatch(stored.payload);
  expect(batch.seq).toBe(stored.seq);
  expect(batch.deviceId).toBe(DEVICE);
  expect(Buffer.from(batch.streamId).equals(Buffer.from(buffer.streamId))).toBe(true);
  expect(batch.readings).toHaveLength(stored.readings);
  expect(batch.clock.synced).toBe(stored.synced);
  const values = batch.readings.map((r) => r.value);
  for (const r of batch.readings) {
    expect(r.ts, `reading ${r.value} in batch ${stored.seq}`).toBe(T0 + r.value);
    expect(syncedFor(r.value), `reading ${r.value} in batch ${stored.seq} (synced=${stored.synced})`).toBe(stored.synced);
  }
  expect(stored.firstTs).toBe(T0 + Math.min(...values));
  expect(stored.lastTs).toBe(T0 + Math.max(...values));
  return values;
}

/**
 * Reopens the buffer after a crash and returns every reading number it accounts for, in order: batches by
 * seq (a missing seq must be one the writer removed), then the pending readings (read by sealing a copy).
 */
export function verify(path: string, scratchDir: string, report: Report, streamId: string | undefined, opts: { removalsMayBeLater?: boolean } = {}): { numbers: number[]; streamId: string; nextSeq: number } {
  const buffer = SqliteBuffer.open({ path, deviceId: DEVICE });
  let stored;
  let nextSeq;
  try {
    if (streamId !== undefined) expect(buffer.streamIdHex, 'stream id survives the crash').toBe(streamId);
    streamId = buffer.streamIdHex;
    nextSeq = buffer.stats().nextSeq;
    stored = buffer.batchesAfter(0, 1_000_000);
    const bySeq = new Map(stored.map((s) => [s.seq, s]));
    expect(Math.max(0, ...bySeq.keys()), 'a stored seq at or above next_seq would be reused').toBeLessThan(nextSeq);

    const numbers: number[] = [];
    for (let seq = 1; seq < nextSeq; seq++) {
      const s = bySeq.get(seq);
      if (s) {
        numbers.push(...checkBatch(buffer, s));
        continue;
      }
      const removed = report.removals.get(seq);
      expect(removed, `batch ${seq} is gone but the writer never removed it`).toBeDefined();
      for (let n = removed![0]; n <= removed![1]; n++) numbers.push(n);
    }
    // A removal reported after a snapshot was taken may name a batch sealed after it.
    if (!opts.removalsMayBeLater) for (const seq of report.removals.keys()) expect(seq).toBeLessThan(nextSeq);
    buffer.close();

    // Pending readings have no read API: seal them in a copy (closing above checkpointed the WAL into the file).
    copyFileSync(path, join(scratchDir, 'inspect.db'));
    const copy = SqliteBuffer.open({ path: join(scratchDir, 'inspect.db'), deviceId: DEVICE });
    try {
      const encode = encoderFor(copy);
      let expectSeq = nextSeq;
      for (let s = copy.seal(1_000_000, encode, T0); s; s = copy.seal(1_000_000, encode, T0)) {
        expect(s.seq).toBe(expectSeq++);
        numbers.push(...checkBatch(copy, copy.batchesAfter(s.seq - 1, 1)[0]!));
      }
    } finally {
      copy.close();
    }
    return { numbers, streamId, nextSeq };
  } finally {
    buffer.close();
  }
}

