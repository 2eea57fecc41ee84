// SqliteBuffer against the EdgeBuffer contract suite.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CONTRACT_DEVICE, describeEdgeBufferContract } from './edge-buffer.contract.js';
import type { EdgeBuffer } from './edge-buffer.js';
import { SqliteBuffer } from './sqlite-buffer.js';

describeEdgeBufferContract('SqliteBuffer', () => {
  const dir = mkdtempSync(join(tmpdir(), 'tidemark-buffer-contract-'));
  const path = join(dir, 'buffer.db');
  let current: EdgeBuffer = SqliteBuffer.open({ path, deviceId: CONTRACT_DEVICE });
  const abandoned: EdgeBuffer[] = [];
  return {
    buffer: current,
    crashReopen: () => {
      // Left open, never closed by this test: a second connection sees only what the first committed.
      abandoned.push(current);
      current = SqliteBuffer.open({ path, deviceId: CONTRACT_DEVICE });
      return current;
    },
    reopen: () => {
      current.close();
      current = SqliteBuffer.open({ path, deviceId: CONTRACT_DEVICE });
      return current;
    },
    cleanup: () => {
      current.close();
      // Closed only now (close stores what is volatile: after the checks, into a file about to be deleted).
      for (const b of abandoned) b.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
});
