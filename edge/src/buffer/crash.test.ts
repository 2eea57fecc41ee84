// A real kill -9: a child process commits numbered readings (sealing and removing batches as it goes) and
// is SIGKILLed at a random point. Every reading whose commit it reported must be in the reopened buffer
// exactly once, in order (pending, or inside a sealed batch), unless it was in a batch it removed; seqs
// are contiguous and never reused across the crashes.
import { copyFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { decodeBatch } from '@tidemark/proto';
import { spawnProcess, useProcessReaper, waitFor } from '@tidemark/shared/testing';
import { SqliteBuffer } from './sqlite-buffer.js';
import { encoderFor, syncedFor, T0, tempDir, type TempDir } from './test-support/buffer-fixtures.js';

const WRITER = fileURLToPath(new URL('./test-support/crash-writer.ts', import.meta.url));
const REPO_ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const DEVICE = 'crash-01';
/** Rounds are bounded by count and by time: the whole test stays well under 10 s on a slow machine. */
const MAX_ROUNDS = 4;
const MIN_ROUNDS = 2;
const ROUND_BUDGET_MS = 4_500;

interface Report {
  maxCommitted: number;
  /** seq -> [first, last] of batches the writer was about to remove. */
  removals: Map<number, [number, number]>;
}

function parseReport(stdout: string, into: Report): void {
  const complete = stdout.slice(0, stdout.lastIndexOf('\n') + 1);
  for (const line of complete.split('\n')) {
    const [kind, a, b, c] = line.split(' ');
    if (kind === 'c') into.maxCommitted = Math.max(into.maxCommitted, Number(a));
    if (kind === 'r') into.removals.set(Number(a), [Number(b), Number(c)]);
  }
}

function commitLines(stdout: string): number {
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
function verify(dir: TempDir, report: Report, streamId: string | undefined): { numbers: number[]; streamId: string; nextSeq: number } {
  const path = dir.file('buffer.db');
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
    for (const seq of report.removals.keys()) expect(seq).toBeLessThan(nextSeq);
    buffer.close();

    // Pending readings have no read API: seal them in a copy (closing above checkpointed the WAL into the file).
    copyFileSync(path, dir.file('inspect.db'));
    const copy = SqliteBuffer.open({ path: dir.file('inspect.db'), deviceId: DEVICE });
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

describe('buffer crash safety (SIGKILL)', () => {
  useProcessReaper();
  let dir: TempDir;
  beforeEach(() => {
    dir = tempDir('tidemark-crash-');
  });
  afterEach(() => dir.remove());

  it('keeps every reported commit exactly once, in order, with contiguous seqs, across repeated kills', async () => {
    const started = Date.now();
    const report: Report = { maxCommitted: 0, removals: new Map() };
    let streamId: string | undefined;
    let nextNumber = 1;
    let lastNextSeq = 1;
    let rounds = 0;
    while (rounds < MAX_ROUNDS && (rounds < MIN_ROUNDS || Date.now() - started < ROUND_BUDGET_MS)) {
      rounds++;
      const seed = Math.floor(Math.random() * 2 ** 31);
      // Commits to wait for before the kill; 0 = right after opening. The first round always writes some.
      const killAfter = (rounds === 1 ? 5 : 0) + Math.floor(Math.random() * 30);
      const child = spawnProcess(process.execPath, ['--import', 'tsx', WRITER, dir.file('buffer.db'), DEVICE, String(nextNumber), String(seed)], {
        name: `crash-writer#${rounds}`,
        cwd: REPO_ROOT,
      });
      const why = `round ${rounds} (seed ${seed}, kill after ${killAfter} commits)`;
      await waitFor(() => !child.running || (child.stdout().includes('ready\n') && commitLines(child.stdout()) >= killAfter), {
        timeoutMs: 8_000,
        intervalMs: 5,
        description: `${why}: commits from the writer`,
      });
      expect(child.running, `${why}: the writer exited by itself:\n${child.output()}`).toBe(true);
      const exit = await child.sigkill();
      expect(exit.signal).toBe('SIGKILL');
      parseReport(child.stdout(), report);

      const { numbers, streamId: id, nextSeq } = verify(dir, report, streamId);
      streamId = id;
      expect(nextSeq, `${why}: next_seq went backwards`).toBeGreaterThanOrEqual(lastNextSeq);
      lastNextSeq = nextSeq;
      // Exactly 1..M in order: no loss, no duplicate, oldest first. M may exceed what was reported
      // (a commit can finish just before its line is printed), never fall short of it.
      expect(numbers.length, why).toBeGreaterThanOrEqual(report.maxCommitted);
      const firstWrong = numbers.findIndex((n, i) => n !== i + 1);
      expect(firstWrong, `${why}: reading ${firstWrong + 1} is ${numbers[firstWrong]}`).toBe(-1);
      nextNumber = numbers.length + 1;
    }
    expect(rounds).toBeGreaterThanOrEqual(MIN_ROUNDS);
    expect(report.maxCommitted).toBeGreaterThan(0);
  }, 30_000);
});
