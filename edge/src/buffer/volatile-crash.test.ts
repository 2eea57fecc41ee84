// A real kill -9 of a writer that seals most of its queue as volatile batches (sent before any write, stored
// by the next commit unless acked first): after every crash, no seq the writer ever handed out is assigned
// again, a stored volatile batch holds exactly the readings it was sent with, no reading is stored twice, and
// every reading the writer reported committed is still there — unless it was in a batch it acked, or in a
// volatile batch no commit came after (sent, never durable on the gateway: the collector has it, or it was
// within its commit deadline when the writer died).
import { copyFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { decodeBatch } from '@tidemark/proto';
import { spawnProcess, useProcessReaper, waitFor } from '@tidemark/shared/testing';
import { SqliteBuffer } from './sqlite-buffer.js';
import { encoderFor, tempDir, type TempDir } from './test-support/buffer-fixtures.js';

const WRITER = fileURLToPath(new URL('./test-support/volatile-crash-writer.ts', import.meta.url));
const REPO_ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const DEVICE = 'crash-01';
const ROUNDS = 3;

interface Reports {
  maxCommitted: number;
  /**
   * Volatile batches: readings, and whether a commit line of the same run came after them (then they were
   * stored, or acked). One the run died with before a commit is lost for good: a later run cannot store it.
   */
  volatile: Map<number, { first: number; last: number; committedAfter: boolean; lost?: boolean }>;
  /** Batches the writer was about to ack. */
  removed: Map<number, [number, number]>;
  maxNumber: number;
}

function parse(stdout: string, into: Reports): void {
  const complete = stdout.slice(0, stdout.lastIndexOf('\n') + 1);
  for (const line of complete.split('\n')) {
    const [kind, a, b, c] = line.split(' ');
    if (kind === 'c') {
      into.maxCommitted = Math.max(into.maxCommitted, Number(a));
      into.maxNumber = Math.max(into.maxNumber, Number(a));
      for (const v of into.volatile.values()) if (!v.lost) v.committedAfter = true;
    } else if (kind === 'v') {
      into.volatile.set(Number(a), { first: Number(b), last: Number(c), committedAfter: false });
      into.maxNumber = Math.max(into.maxNumber, Number(c));
    } else if (kind === 'r') into.removed.set(Number(a), [Number(b), Number(c)]);
  }
}

/** Every reading number the file holds (stored batches, then pending ones), and its seq floor. */
function contents(path: string, scratch: string): { numbers: number[]; bySeq: Map<number, number[]>; nextSeq: number } {
  const buffer = SqliteBuffer.open({ path, deviceId: DEVICE });
  const bySeq = new Map<number, number[]>();
  let nextSeq: number;
  try {
    nextSeq = buffer.nextSequence;
    for (const b of buffer.batchesAfter(0, 1_000_000)) {
      const batch = decodeBatch(b.payload);
      expect(batch.seq).toBe(b.seq);
      bySeq.set(b.seq, batch.readings.map((r) => r.value));
    }
  } finally {
    buffer.close();
  }
  const numbers = [...bySeq.values()].flat();
  copyFileSync(path, scratch); // pending readings have no read API: seal them in a copy
  const copy = SqliteBuffer.open({ path: scratch, deviceId: DEVICE });
  try {
    for (let s = copy.seal(1_000_000, encoderFor(copy), 0); s; s = copy.seal(1_000_000, encoderFor(copy), 0)) numbers.push(...decodeBatch(s.payload).readings.map((r) => r.value));
  } finally {
    copy.close();
  }
  return { numbers, bySeq, nextSeq };
}

describe('volatile batches under SIGKILL', () => {
  useProcessReaper();
  let dir: TempDir;
  beforeEach(() => {
    dir = tempDir('tidemark-volatile-crash-');
  });
  afterEach(() => dir.remove());

  it('never reuses a seq, never stores a reading twice, and keeps every committed reading across repeated kills', async () => {
    const reports: Reports = { maxCommitted: 0, volatile: new Map(), removed: new Map(), maxNumber: 0 };
    let floor = 1; // every seq below this was handed out before the last crash
    let volatileSeen = 0;
    for (let round = 1; round <= ROUNDS; round++) {
      const seed = Math.floor(Math.random() * 2 ** 31);
      const killAfter = 20 + Math.floor(Math.random() * 60);
      const child = spawnProcess(process.execPath, ['--import', 'tsx', WRITER, dir.file('buffer.db'), DEVICE, String(reports.maxNumber + 1), String(seed)], {
        name: `volatile-writer#${round}`,
        cwd: REPO_ROOT,
      });
      const why = `round ${round} (seed ${seed}, kill after ${killAfter} lines)`;
      await waitFor(() => !child.running || child.stdout().split('\n').length > killAfter, { timeoutMs: 8_000, intervalMs: 5, description: `${why}: lines from the writer` });
      expect(child.running, `${why}: the writer exited by itself:\n${child.output()}`).toBe(true);
      expect((await child.sigkill()).signal).toBe('SIGKILL');
      const before = new Set(reports.volatile.keys());
      parse(child.stdout(), reports);
      const fresh = [...reports.volatile.keys()].filter((s) => !before.has(s));
      volatileSeen += fresh.length;
      for (const seq of fresh) expect(seq, `${why}: volatile seq ${seq} reuses one handed out before the last crash`).toBeGreaterThanOrEqual(floor);

      const { numbers, bySeq, nextSeq } = contents(dir.file('buffer.db'), dir.file('inspect.db'));
      for (const seq of [...reports.volatile.keys(), ...bySeq.keys()]) expect(seq, `${why}: seq ${seq} is at or above the floor ${nextSeq}`).toBeLessThan(nextSeq);
      for (const [seq, values] of bySeq) {
        const v = reports.volatile.get(seq);
        if (v) expect(values, `${why}: stored volatile batch ${seq}`).toEqual(Array.from({ length: v.last - v.first + 1 }, (_, i) => v.first + i));
      }
      expect(new Set(numbers).size, `${why}: a reading is stored twice`).toBe(numbers.length);
      const present = new Set(numbers);
      const mayBeGone = (k: number) =>
        [...reports.removed.values()].some(([a, b]) => k >= a && k <= b) || [...reports.volatile.values()].some((v) => (v.lost || !v.committedAfter) && k >= v.first && k <= v.last);
      const about = (k: number) =>
        JSON.stringify({ v: [...reports.volatile].filter(([, v]) => k >= v.first && k <= v.last), r: [...reports.removed].filter(([, [a, b]]) => k >= a && k <= b), stored: [...bySeq].filter(([, vs]) => vs.includes(k - 1) || vs.includes(k + 1)).map(([s, vs]) => [s, vs[0], vs[vs.length - 1]]) });
      for (let k = 1; k <= reports.maxCommitted; k++) if (!present.has(k)) expect(mayBeGone(k), `${why}: committed reading ${k} is missing ${about(k)}`).toBe(true);
      reports.maxNumber = Math.max(reports.maxNumber, ...numbers);
      for (const v of reports.volatile.values()) if (!v.committedAfter) v.lost = true;
      floor = nextSeq;
    }
    expect(volatileSeen, 'volatile batches reported').toBeGreaterThan(0);
    expect(reports.maxCommitted, 'commits reported').toBeGreaterThan(0);
  }, 40_000);
});
