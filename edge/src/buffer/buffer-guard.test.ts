import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createLogger, MetricsRegistry } from '@tidemark/shared';
import { BufferGuard, type OnFull } from './buffer-guard.js';
import { SqliteBuffer } from './sqlite-buffer.js';
import { encoderFor, numbered, T0, tempDir, type TempDir } from './test-support/buffer-fixtures.js';

const MAX_BYTES = 96 * 1024;
// Every tick fsyncs (synchronous=FULL), so give slow CI disks room.
const TIMEOUT_MS = 60_000;

function setup(dir: TempDir, onFull: OnFull, maxBlockedReadings?: number) {
  const buffer = SqliteBuffer.open({ path: dir.file('buffer.db'), deviceId: 'gw' });
  const metrics = new MetricsRegistry('tidemark_edge');
  const guard = new BufferGuard(buffer, { maxBytes: MAX_BYTES, maxAgeMs: 3_600_000, onFull, maxBlockedReadings }, createLogger({ name: 't', level: 'silent' }), metrics);
  let n = 0;
  /** One agent tick: 500 new readings, guarded commit, seal in batches of 100. Returns readings committed. */
  const tick = () => {
    buffer.append(Array.from({ length: 500 }, () => numbered(++n)));
    let committed = 0;
    if (guard.beforeCommit()) committed = buffer.commit();
    while (buffer.seal(100, encoderFor(buffer), T0)) {
      /* seal everything */
    }
    return committed;
  };
  const dropped = async (reason: string) =>
    (await metrics.counter('readings_dropped_total', '', ['reason']).get()).values.find((v) => v.labels.reason === reason)?.value ?? 0;
  return { buffer, guard, tick, dropped, produced: () => n };
}

describe('buffer bounds and on_full', () => {
  let dir: TempDir;
  beforeEach(() => {
    dir = tempDir();
  });
  afterEach(() => dir.remove());

  it('drop_oldest keeps the database near max_bytes, drops the oldest and counts every dropped reading', async () => {
    const { buffer, guard, tick, dropped, produced } = setup(dir, 'drop_oldest');
    let committed = 0;
    for (let i = 0; i < 150; i++) committed += tick();
    expect(committed).toBe(produced()); // nothing refused: room is made by dropping old data
    expect(guard.isFull || buffer.usedBytes() < MAX_BYTES).toBe(true);
    expect(buffer.usedBytes()).toBeLessThan(MAX_BYTES * 1.25);
    const stats = buffer.stats();
    const lost = await dropped('buffer_full');
    expect(lost).toBeGreaterThan(0);
    expect(stats.bufferedReadings + lost).toBe(committed);
    expect(stats.drops.buffer_full).toBe(lost);
    // What remains is the newest data.
    expect(stats.newestTs).toBe(T0 + produced());
    expect(stats.oldestTs).toBe(T0 + lost + 1);
    buffer.close();
  }, TIMEOUT_MS);

  it('drop_newest keeps what it has and refuses new readings while full', async () => {
    const { buffer, tick, dropped, produced } = setup(dir, 'drop_newest');
    let committed = 0;
    for (let i = 0; i < 150; i++) committed += tick();
    const stats = buffer.stats();
    expect(committed).toBeLessThan(produced());
    expect(await dropped('buffer_full')).toBe(produced() - committed);
    expect(stats.drops.buffer_full).toBe(produced() - committed);
    expect(stats.oldestTs).toBe(T0 + 1); // the oldest data is kept
    expect(stats.bufferedReadings).toBe(committed);
    buffer.close();
  }, TIMEOUT_MS);

  it('block holds new readings in memory (capped) until there is room again', async () => {
    const { buffer, guard, tick, dropped, produced } = setup(dir, 'block', 2000);
    let committed = 0;
    for (let i = 0; i < 150; i++) committed += tick();
    expect(guard.isFull).toBe(true);
    expect(buffer.queuedCount).toBe(2000);
    expect(await dropped('blocked_overflow')).toBe(produced() - committed - 2000);
    // The collector acks everything: room again, and the held readings are committed.
    for (const b of buffer.batchesAfter(0, 1_000_000)) buffer.remove(b.seq);
    expect(guard.beforeCommit()).toBe(true);
    expect(buffer.commit()).toBe(2000);
    buffer.close();
  }, TIMEOUT_MS);

  it('max_age drops trusted readings older than the limit, never untrusted ones', async () => {
    const { buffer, guard, dropped } = setup(dir, 'drop_oldest');
    buffer.append([numbered(1), numbered(2), numbered(3, false), numbered(4_000_000)]);
    buffer.commit();
    buffer.seal(2, encoderFor(buffer), T0);
    guard.expire(T0 + 3_600_000 + 10); // cutoff T0 + 10
    const stats = buffer.stats();
    expect(await dropped('max_age')).toBe(2);
    expect(stats.drops.max_age).toBe(2);
    expect(stats.bufferedReadings).toBe(2);
    buffer.close();
  }, TIMEOUT_MS);
});

describe('a full disk (real SQLITE_FULL from a capped database file)', () => {
  let dir: TempDir;
  beforeEach(() => {
    dir = tempDir();
  });
  afterEach(() => dir.remove());

  /** A buffer whose file cannot grow past 40 pages (160 KiB), with max_bytes far above that. */
  function fullDisk(onFull: OnFull) {
    const buffer = SqliteBuffer.open({ path: dir.file('buffer.db'), deviceId: 'gw', maxPageCount: 40 });
    const metrics = new MetricsRegistry('tidemark_edge');
    const guard = new BufferGuard(buffer, { maxBytes: 1e12, maxAgeMs: 3_600_000, onFull }, createLogger({ name: 't', level: 'silent' }), metrics);
    let n = 0;
    const encode = encoderFor(buffer);
    /** The agent's commit step: commitAndSeal, and on failure the guard's disk-full handling and one retry. */
    const tick = () => {
      buffer.append(Array.from({ length: 500 }, () => numbered(++n)));
      if (!guard.beforeCommit()) return 0;
      try {
        return buffer.commitAndSeal(100, encode, T0).committed;
      } catch (err) {
        expect((err as { cause?: { code?: string } }).cause?.code).toBe('SQLITE_FULL');
        if (!guard.onCommitError(err)) return 0;
        return buffer.commitAndSeal(100, encode, T0).committed;
      }
    };
    const dropped = async (reason: string) =>
      (await metrics.counter('readings_dropped_total', '', ['reason']).get()).values.find((v) => v.labels.reason === reason)?.value ?? 0;
    return { buffer, guard, tick, dropped, produced: () => n };
  }

  it('drop_oldest frees pages inside the file and keeps committing the newest readings', async () => {
    const { buffer, tick, dropped, produced } = fullDisk('drop_oldest');
    let committed = 0;
    for (let i = 0; i < 200; i++) committed += tick();
    expect(committed, 'every tick committed: room is made by dropping the oldest').toBe(produced());
    expect(await dropped('disk_full')).toBeGreaterThan(0);
    const stats = buffer.stats();
    expect(stats.newestTs).toBe(T0 + produced()); // the newest readings made it in
    expect(stats.bufferedReadings + (await dropped('disk_full'))).toBe(committed);
    buffer.close();
  }, 60_000);

  it('drop_newest discards what does not fit and keeps the oldest', async () => {
    const { buffer, tick, dropped, produced } = fullDisk('drop_newest');
    let committed = 0;
    for (let i = 0; i < 200; i++) committed += tick();
    expect(await dropped('disk_full')).toBe(produced() - committed - buffer.queuedCount);
    expect(buffer.stats().oldestTs).toBe(T0 + 1);
    buffer.close();
  }, 60_000);

  it('block keeps readings in memory, never throws, and commits them once there is room', async () => {
    const { buffer, tick } = fullDisk('block');
    let ticks = 0;
    while (buffer.queuedCount === 0 && ticks++ < 500) tick(); // until the disk is full
    tick();
    expect(buffer.queuedCount).toBeGreaterThan(0);
    for (const b of buffer.batchesAfter(0, 1_000_000)) buffer.remove(b.seq); // acks arrive
    expect(buffer.commitAndSeal(100, encoderFor(buffer), T0).committed).toBeGreaterThan(0);
    buffer.close();
  }, 60_000);
});
