// The consumer seam's timing option: settleMs gathers the records that arrive shortly after a wake-up into
// one chunk (one processor transaction), and stop() does not wait it out.
import path from 'node:path';
import { createLogger } from '@tidemark/shared';
import { waitFor } from '@tidemark/shared/testing';
import { afterEach, describe, expect, it } from 'vitest';
import { SqliteStreamStore } from '../store/sqlite-stream-store.js';
import type { StreamRecord } from '../store/stream-store.js';
import { append, batch, T0 } from '../aggregate/testing/aggregator-workload.js';
import { TestResources } from '../aggregate/testing/test-resources.js';
import { StreamConsumer, type ChunkProcessor } from './stream-consumer.js';

const logger = createLogger({ name: 'consumer-test', level: 'silent' });
const res = new TestResources('tidemark-consumer-');
afterEach(res.closeAll);

class Recorder implements ChunkProcessor {
  readonly chunks: number[] = [];
  private next = 1;
  async checkpoint(): Promise<number> {
    return this.next;
  }
  async process(_p: number, records: readonly StreamRecord[], _expected: number, next: number): Promise<void> {
    this.chunks.push(records.length);
    this.next = next;
  }
}

async function rig(settleMs: number) {
  const dir = await res.tempDir();
  const stream = await res.started(new SqliteStreamStore({ path: path.join(dir, 'stream.db') }));
  const rec = new Recorder();
  // A long idle poll: only notify() makes it read.
  const consumer = new StreamConsumer(stream, rec, { idleMs: 60_000, settleMs }, logger);
  await consumer.start();
  const add = async (i: number) => {
    await append(stream, batch(`gw-${i}`, [['v', T0 + i, i]]));
    consumer.notify();
  };
  return { consumer, rec, add };
}

describe('StreamConsumer settleMs', () => {
  it('without it, a record is processed as soon as it is notified', async () => {
    const { consumer, rec, add } = await rig(0);
    await add(1);
    await waitFor(() => rec.chunks.length === 1, { timeoutMs: 5_000, description: 'first record processed' });
    await add(2);
    await add(3);
    await waitFor(() => rec.chunks.reduce((a, b) => a + b, 0) === 3, { timeoutMs: 5_000, description: 'all processed' });
    expect(rec.chunks[0]).toBe(1);
    await consumer.stop();
  });

  it('with it, records notified within the settle time after a wake-up go in one chunk', async () => {
    const { consumer, rec, add } = await rig(1_000);
    await add(1);
    await add(2);
    await add(3);
    await waitFor(() => rec.chunks.length > 0, { timeoutMs: 5_000, description: 'a chunk processed' });
    expect(rec.chunks).toEqual([3]);
    await consumer.stop();
  });

  it('stop() ends a settle wait at once', async () => {
    const { consumer, rec, add } = await rig(60_000);
    await add(1);
    const t0 = Date.now();
    await consumer.stop();
    expect(Date.now() - t0).toBeLessThan(5_000);
    expect(rec.chunks).toEqual([]);
  });
});
