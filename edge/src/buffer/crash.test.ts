// A real kill -9: a child process commits numbered readings (sealing and removing batches as it goes) and
// is SIGKILLed at a random point. Every reading whose commit it reported must be in the reopened buffer
// exactly once, in order (pending, or inside a sealed batch), unless it was in a batch it removed; seqs
// are contiguous and never reused across the crashes.
import { fileURLToPath } from 'node:url';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { spawnProcess, useProcessReaper, waitFor } from '@tidemark/shared/testing';
import { tempDir, type TempDir } from './test-support/buffer-fixtures.js';
import { commitLines, DEVICE, parseReport, verify, type Report } from './test-support/crash-verify.js';

const WRITER = fileURLToPath(new URL('./test-support/crash-writer.ts', import.meta.url));
const REPO_ROOT = fileURLToPath(new URL('../../../', import.meta.url));
/** Rounds are bounded by count and by time: the whole test stays well under 10 s on a slow machine. */
const MAX_ROUNDS = 4;
const MIN_ROUNDS = 2;
const ROUND_BUDGET_MS = 4_500;

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

      const { numbers, streamId: id, nextSeq } = verify(dir.file('buffer.db'), dir.path, report, streamId);
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
