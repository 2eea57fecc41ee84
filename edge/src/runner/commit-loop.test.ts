// The commit loop with the agent's real buffer and fake timers: a commit or deadline tick first has the sources
// read what already arrived (readSources), and what that read queues goes into the same seal or commit.
import { counterValue, createLogger, MetricsRegistry, RateLimitedLogger, tally } from '@tidemark/shared';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { BufferGuard } from '../buffer/buffer-guard.js';
import { SqliteBuffer } from '../buffer/sqlite-buffer.js';
import { encoderFor, numbered, payloadNumbers, T0, tempDir, type TempDir } from '../buffer/test-support/buffer-fixtures.js';
import type { EdgeConfig } from '../config.js';
import { doctorConfig } from '../doctor/test-support/doctor-config.js';
import { CommitLoop } from './commit-loop.js';
import { earlySendLead } from './early-send.js';

const ACK_RTT_MS = 5;
const open: { dir: TempDir; buffer: SqliteBuffer; loop: CommitLoop }[] = [];
afterEach(() => {
  for (const o of open.splice(0)) {
    o.loop.stop();
    o.buffer.close();
    o.dir.remove();
  }
  vi.useRealTimers();
});

function setup(buffer: Partial<EdgeConfig['buffer']>, batch: Partial<EdgeConfig['batch']> = {}) {
  vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'performance'] });
  const dir = tempDir('tidemark-commit-loop-');
  const config = doctorConfig(dir.path, { buffer: { commit_interval_ms: 100, ...buffer }, batch: { max_readings: 1000, max_delay_ms: 250, ...batch } });
  const buf = SqliteBuffer.open({ path: dir.file('buffer.db'), deviceId: config.device.id });
  const metrics = new MetricsRegistry('tidemark_edge');
  const logger = createLogger({ name: 'commit-loop-test', level: 'silent' });
  const guard = new BufferGuard(buf, { maxBytes: config.buffer.max_bytes, maxAgeMs: config.buffer.max_age, onFull: config.buffer.on_full }, logger, metrics);
  const counter = (name: string) => metrics.counter(name, name);
  const metric = { committed: counter('committed'), sealed: counter('sealed'), sentUnwritten: counter('sent_unwritten'), writtenLate: counter('written_late') };
  const counters = { committed: tally(metric.committed), sealed: tally(metric.sealed), sentUnwritten: tally(metric.sentUnwritten), writtenLate: tally(metric.writtenLate) };
  let n = 0;
  const reads: number[] = [];
  /** A source: its reads queue the next reading number, as Agent.accept does. */
  const read = () => {
    buf.append([numbered(++n)]);
    loop.queued();
  };
  const loop = new CommitLoop({
    buffer: buf,
    guard,
    encode: encoderFor(buf),
    sender: { inflightCount: 0, ackRttMs: ACK_RTT_MS, pump: () => Promise.resolve() },
    linkUp: () => true,
    config: () => config,
    now: () => T0,
    errors: new RateLimitedLogger(logger, 10_000),
    counters,
    readSources: () => {
      reads.push(performance.now());
      read();
    },
  });
  open.push({ dir, buffer: buf, loop });
  loop.start();
  const value = (c: keyof typeof metric) => counterValue(metric[c]);
  return { buffer: buf, loop, read, reads, value };
}

describe('CommitLoop: the sources read on its ticks', () => {
  it('persist unacked: the early seal takes what the sources read on that tick', async () => {
    const { buffer, read, reads, value } = setup({ persist: 'unacked' });
    read();
    read();
    const lead = earlySendLead(100, ACK_RTT_MS)!;
    vi.advanceTimersByTime(lead - 1);
    expect(reads).toEqual([]);
    vi.advanceTimersByTime(1);
    expect(reads).toHaveLength(1); // the sources were read once, on the seal's tick
    expect(await value('sentUnwritten')).toBe(1);
    const [batch, ...more] = buffer.batchesAfter(0, 10);
    expect(more).toEqual([]);
    expect(payloadNumbers(batch!.payload)).toEqual([1, 2, 3]); // 3: read on the tick, sealed with the others
    expect(buffer.queuedCount).toBe(0);
    expect(vi.getTimerCount()).toBe(1); // only the persist deadline of the volatile batch
  });

  it('persist all: the group commit takes what the sources read on that tick', async () => {
    const { buffer, read, reads, value } = setup({ persist: 'all' });
    read();
    vi.advanceTimersByTime(100);
    expect(reads).toHaveLength(1);
    expect(await value('committed')).toBe(2);
    expect(buffer.queuedCount).toBe(0);
    expect(buffer.pendingReadings).toBe(2);
  });

  it('the max_delay_ms deadline tick reads the sources too, and seals what they read', () => {
    const { buffer, read, reads } = setup({ persist: 'all', commit_interval_ms: 100 }, { max_delay_ms: 150 });
    read(); // committed at 100 (that tick reads the sources: reading 2), sealed at 150
    vi.advanceTimersByTime(100);
    expect(reads).toHaveLength(1);
    expect(buffer.pendingReadings).toBe(2);
    vi.advanceTimersByTime(50);
    expect(reads).toHaveLength(2); // the deadline tick: reading 3
    const batches = buffer.batchesAfter(0, 10);
    expect(batches.flatMap((b) => payloadNumbers(b.payload))).toEqual([1, 2, 3]);
    expect(buffer.queuedCount + buffer.pendingReadings).toBe(0);
  });
});
