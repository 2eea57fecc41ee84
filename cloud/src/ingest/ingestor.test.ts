// The ingestor against a real SQLite stream store and an in-memory bus: a batch the store cannot take in one
// record (a NATS message limit) is refused on its own — acked `rejected`, dead-lettered, counted — while the
// rest of its group is stored and acked as usual.
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { decodeAck, encodeBatch, type Ack } from '@tidemark/proto';
import { counterValue, createLogger, MetricsRegistry } from '@tidemark/shared';
import { afterEach, describe, expect, it } from 'vitest';
import type { MessageBus, MessageHandler } from '../broker/message-bus.js';
import { SqliteStreamStore } from '../store/sqlite-stream-store.js';
import { Ingestor } from './ingestor.js';

const dirs: string[] = [];
const stores: SqliteStreamStore[] = [];
afterEach(async () => {
  for (const s of stores.splice(0)) await s.stop();
  for (const d of dirs.splice(0)) await fs.rm(d, { recursive: true, force: true });
});

class MemoryBus implements MessageBus {
  readonly name = 'memory-bus';
  readonly acks: { device: string; ack: Ack }[] = [];
  handler: MessageHandler | undefined;
  onBatch(h: MessageHandler): void {
    this.handler = h;
  }
  onStatus(): void {}
  async publishAck(device: string, payload: Uint8Array): Promise<void> {
    this.acks.push({ device, ack: decodeAck(payload) });
  }
  async publish(): Promise<void> {}
  async start(): Promise<void> {}
  async stop(): Promise<void> {}
}

/** A SQLite stream store that says it takes at most `max` bytes per record, as a JetStream partition does. */
class LimitedStore extends SqliteStreamStore {
  constructor(
    file: string,
    readonly maxPayloadBytes: number,
  ) {
    super({ path: file });
  }
}

describe('Ingestor', () => {
  it('refuses a batch larger than the store takes per record, alone; the rest of the group is stored and acked', async () => {
    const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'tidemark-ingest-'));
    dirs.push(dir);
    const store = new LimitedStore(path.join(dir, 'stream.db'), 2000);
    await store.start();
    stores.push(store);
    const bus = new MemoryBus();
    const metrics = new MetricsRegistry('tidemark_cloud');
    const ingestor = new Ingestor(store, bus, undefined, { maxBatchReadings: 100_000, commitIntervalMs: 1000 }, createLogger({ name: 't', level: 'silent' }), metrics);
    const streamId = new Uint8Array(16).fill(3);
    const batch = (seq: number, n: number) =>
      encodeBatch({
        deviceId: 'press-07',
        streamId,
        seq,
        clock: { synced: true, anchorWallMs: 1, anchorMonoMs: 1 },
        readings: Array.from({ length: n }, (_, i) => ({ sensor: 'temp_c', ts: 1_764_000_000_000 + i, value: i * 1.37 })),
      });
    const small1 = batch(1, 10);
    const big = batch(2, 2000);
    const small3 = batch(3, 10);
    expect(big.byteLength).toBeGreaterThan(2000);
    for (const p of [small1, big, small3]) bus.handler!('press-07', p);
    await ingestor.flush();

    const results = bus.acks.flatMap((a) => a.ack.results).sort((a, b) => a.seq - b.seq);
    expect(results.map((r) => [r.seq, r.status])).toEqual([
      [1, 'ok'],
      [2, 'rejected'],
      [3, 'ok'],
    ]);
    expect(results[1]!.reason).toMatch(/^too_large: \d+ bytes is more than the stream store takes in one record \(2000\)/);
    expect((await store.read(1, 10)).map((r) => r.seq)).toEqual([1, 3]);
    expect(await counterValue(metrics.counter('rejected_total', '', ['reason']), { reason: 'too_large' })).toBe(1);
    await ingestor.stop();
  });
});
