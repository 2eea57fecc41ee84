import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { newStreamId } from '@tidemark/proto';
import { createLogger, MetricsRegistry } from '@tidemark/shared';
import { StreamRetention } from './retention.js';
import { SqliteStreamStore } from './sqlite-stream-store.js';

const DAY = 86_400_000;

describe('stream retention', () => {
  let dir: string;
  let store: SqliteStreamStore;
  const stream = newStreamId();
  beforeEach(async () => {
    dir = mkdtempSync(join(tmpdir(), 'tidemark-retention-'));
    store = new SqliteStreamStore({ path: join(dir, 'stream.db') });
    await store.start();
    // 10 records a day apart, 1 KB each, received on days 0..9.
    await store.append(
      Array.from({ length: 10 }, (_, i) => ({ deviceId: 'gw', streamId: stream, seq: i + 1, receivedMs: i * DAY, readings: 1, payload: new Uint8Array(1024).fill(i) })),
    );
  });
  afterEach(async () => {
    await store.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  const offsets = async () => (await store.read(1, 100)).map((r) => r.offset);

  it('deletes records older than the retention, never one the aggregator has not consumed', async () => {
    expect(await store.trim({ beforeReceivedMs: 5 * DAY, belowOffset: 3 })).toBe(2); // only offsets 1, 2 are consumed
    expect(await offsets()).toEqual([3, 4, 5, 6, 7, 8, 9, 10]);
    expect(await store.trim({ beforeReceivedMs: 5 * DAY, belowOffset: 11 })).toBe(3);
    expect(await offsets()).toEqual([6, 7, 8, 9, 10]);
    expect(await store.endOffset()).toBe(11); // offsets are never reused
  });

  it('trims the oldest consumed records while the store is over max_bytes', async () => {
    await store.append(
      Array.from({ length: 200 }, (_, i) => ({ deviceId: 'gw', streamId: stream, seq: i + 11, receivedMs: 10 * DAY, readings: 1, payload: new Uint8Array(1024).fill(i % 256) })),
    );
    const before = (await store.read(1, 1000)).length;
    // ~210 KiB of payloads on top of a ~24 KiB empty schema.
    const n = await store.trim({ beforeReceivedMs: 0, belowOffset: 1000, maxBytes: 120 * 1024 });
    expect(n).toBeGreaterThan(0);
    expect(n).toBeLessThan(before);
    const left = (await store.read(1, 1000)).map((r) => r.offset);
    expect(left.length).toBe(before - n);
    expect(left[left.length - 1]).toBe(210); // the newest survive
    expect(left[0]).toBe(n + 1); // the oldest went first
  });

  it('the background task trims with the retention and the consumed offset and counts it', async () => {
    const metrics = new MetricsRegistry('tidemark_cloud');
    const task = new StreamRetention(store, { retentionMs: 3 * DAY, consumedBelow: async () => 8, now: () => 9 * DAY }, createLogger({ name: 't', level: 'silent' }), metrics);
    await task.runOnce();
    expect(await offsets()).toEqual([7, 8, 9, 10]);
    expect(await metrics.metrics()).toMatch(/tidemark_cloud_stream_trimmed_records_total 6/);
  });
});
