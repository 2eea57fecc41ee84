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
import { ResourceHealth } from '../health/resource-health.js';
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

/** A SQLite stream store that refuses appends while `full` is set, as a full disk does. */
class FillableStore extends SqliteStreamStore {
  full = false;
  appends = 0;
  override async append(items: Parameters<SqliteStreamStore['append']>[0]) {
    this.appends++;
    if (this.full) throw Object.assign(new Error('stream append failed: database or disk is full'), { code: 'STORAGE' });
    return super.append(items);
  }
}

describe('Ingestor while the stream store refuses writes', () => {
  it('acks nothing it could not store, reports the store failing, backs off, and stores the resends once it is back', async () => {
    const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'tidemark-ingest-'));
    dirs.push(dir);
    const store = new FillableStore({ path: path.join(dir, 'stream.db') });
    await store.start();
    stores.push(store);
    const bus = new MemoryBus();
    const metrics = new MetricsRegistry('tidemark_cloud');
    const logger = createLogger({ name: 't', level: 'silent' });
    const health = new ResourceHealth(logger, metrics, { initialMs: 60_000, maxMs: 60_000 });
    const stream = health.reporter('stream-store');
    const ingestor = new Ingestor(
      store,
      bus,
      undefined,
      { maxBatchReadings: 100_000, commitIntervalMs: 1000, health: { stream, deadLetters: health.reporter('dead-letters') } },
      logger,
      metrics,
    );
    const streamId = new Uint8Array(16).fill(7);
    const batch = (seq: number) =>
      encodeBatch({ deviceId: 'gw-1', streamId, seq, clock: { synced: true, anchorWallMs: 1, anchorMonoMs: 1 }, readings: [{ sensor: 's', ts: 1_764_000_000_000 + seq, value: seq }] });

    store.full = true;
    bus.handler!('gw-1', batch(1));
    await ingestor.flush();
    expect(bus.acks).toEqual([]);
    expect(health.failing()).toMatchObject([{ resource: 'stream-store', reason: expect.stringContaining('disk is full') }]);
    // Backing off (60 s here): the next group is refused without another append, still unacked.
    bus.handler!('gw-1', batch(2));
    await ingestor.flush();
    expect(store.appends).toBe(1);
    expect(bus.acks).toEqual([]);
    expect(await counterValue(metrics.counter('ingest_unstored_batches_total', '', ['reason']), { reason: 'store_failing' })).toBe(2);

    // Space is back and the backoff has passed: the device's resends are stored and acked, and health recovers.
    store.full = false;
    (ingestor as unknown as { retryAppendAt: number }).retryAppendAt = 0;
    for (const seq of [1, 2]) bus.handler!('gw-1', batch(seq));
    await ingestor.flush();
    expect(bus.acks.flatMap((a) => a.ack.results).map((r) => [r.seq, r.status])).toEqual([
      [1, 'ok'],
      [2, 'ok'],
    ]);
    expect(health.failing()).toEqual([]);
    expect((await store.read(1, 10)).map((r) => r.seq)).toEqual([1, 2]);
    await ingestor.stop();
  });

  it('bounds the queue in bytes: beyond it a batch is refused unacked, never held', async () => {
    const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'tidemark-ingest-'));
    dirs.push(dir);
    const store = new FillableStore({ path: path.join(dir, 'stream.db') });
    await store.start();
    stores.push(store);
    const bus = new MemoryBus();
    const metrics = new MetricsRegistry('tidemark_cloud');
    const ingestor = new Ingestor(store, bus, undefined, { maxBatchReadings: 100_000, commitIntervalMs: 1000, maxQueuedBytes: 1000, maxGroup: 10_000 }, createLogger({ name: 't', level: 'silent' }), metrics);
    const streamId = new Uint8Array(16).fill(8);
    const payload = (seq: number) =>
      encodeBatch({ deviceId: 'gw-2', streamId, seq, clock: { synced: true, anchorWallMs: 1, anchorMonoMs: 1 }, readings: Array.from({ length: 20 }, (_, i) => ({ sensor: 's', ts: 1_764_000_000_000 + seq * 100 + i, value: i })) });
    const size = payload(1).byteLength;
    const fits = Math.floor(1000 / size);
    for (let seq = 1; seq <= fits + 5; seq++) bus.handler!('gw-2', payload(seq));
    expect(await counterValue(metrics.counter('ingest_unstored_batches_total', '', ['reason']), { reason: 'queue_full' })).toBe(5);
    await ingestor.flush();
    expect(bus.acks.flatMap((a) => a.ack.results)).toHaveLength(fits);
    await ingestor.stop();
  });
});
