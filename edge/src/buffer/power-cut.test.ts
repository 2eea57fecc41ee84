// Power-cut emulation: while a child process commits, seals and removes as fast as it can, the test freezes
// it at random moments (SIGSTOP), copies buffer.db and its WAL as they are at that instant (the state a
// power cut would leave, torn WAL frames included), and lets it run on. Every copy must open, pass SQLite's
// integrity check, and hold exactly once every reading whose commit was reported before the freeze.
import { copyFileSync, existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { spawnProcess, useProcessReaper, waitFor } from '@tidemark/shared/testing';
import { checkIntegrity } from './recovery.js';
import { tempDir, type TempDir } from './test-support/buffer-fixtures.js';
import { commitLines, DEVICE, parseReport, verify, type Report } from './test-support/crash-verify.js';

const WRITER = fileURLToPath(new URL('./test-support/crash-writer.ts', import.meta.url));
const REPO_ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const SNAPSHOTS = 8;

describe('buffer power-cut safety (file snapshots of a live writer)', () => {
  useProcessReaper();
  let dir: TempDir;
  beforeEach(() => {
    dir = tempDir('tidemark-powercut-');
  });
  afterEach(() => dir.remove());

  it('every snapshot opens consistent with everything committed before it', async () => {
    const path = dir.file('buffer.db');
    const seed = Math.floor(Math.random() * 2 ** 31);
    const child = spawnProcess(process.execPath, ['--import', 'tsx', WRITER, path, DEVICE, '1', String(seed)], {
      name: 'powercut-writer',
      cwd: REPO_ROOT,
    });
    await child.waitForOutput('ready\n', 15_000);
    let checked = 0;
    const snapshots: { dir: string; maxCommitted: number }[] = [];
    for (let i = 0; i < SNAPSHOTS; i++) {
      const target = commitLines(child.stdout()) + 1 + Math.floor(Math.random() * 200);
      await waitFor(() => !child.running || commitLines(child.stdout()) >= target, { timeoutMs: 10_000, intervalMs: 2, description: `${target} commits` });
      expect(child.running, child.output()).toBe(true);
      process.kill(child.pid, 'SIGSTOP');
      // Commits printed so far happened before the freeze (output still in the pipe only makes this lower).
      const atFreeze: Report = { maxCommitted: 0, removals: new Map() };
      parseReport(child.stdout(), atFreeze);
      const snap = join(dir.path, `snap-${i}`);
      mkdirSync(snap);
      copyFileSync(path, join(snap, 'buffer.db'));
      if (existsSync(`${path}-wal`)) copyFileSync(`${path}-wal`, join(snap, 'buffer.db-wal'));
      process.kill(child.pid, 'SIGCONT');
      snapshots.push({ dir: snap, maxCommitted: atFreeze.maxCommitted });
    }
    await child.sigkill();
    // Removal lines may still have been in the pipe at a freeze: judge every snapshot with the full output.
    const full: Report = { maxCommitted: 0, removals: new Map() };
    parseReport(child.stdout(), full);
    for (const [i, snap] of snapshots.entries()) {
      const why = `snapshot ${i} (seed ${seed})`;
      expect(checkIntegrity(join(snap.dir, 'buffer.db')), why).toBeUndefined();
      const { numbers } = verify(join(snap.dir, 'buffer.db'), snap.dir, { maxCommitted: snap.maxCommitted, removals: full.removals }, undefined, {
        removalsMayBeLater: true,
      });
      expect(numbers.length, why).toBeGreaterThanOrEqual(snap.maxCommitted);
      const firstWrong = numbers.findIndex((n, k) => n !== k + 1);
      expect(firstWrong, `${why}: reading ${firstWrong + 1} is ${numbers[firstWrong]}`).toBe(-1);
      checked++;
    }
    expect(checked).toBe(SNAPSHOTS);
  }, 60_000);
});
