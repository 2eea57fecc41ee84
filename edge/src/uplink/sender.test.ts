import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { decodeBatch, encodeAck, newStreamId, topics, type AckResult } from '@tidemark/proto';
import { counterValue, createLogger, MetricsRegistry } from '@tidemark/shared';
import { waitFor } from '@tidemark/shared/testing';
import { SqliteBuffer } from '../buffer/sqlite-buffer.js';
import { encoderFor, numbered, range, T0, tempDir, type TempDir } from '../buffer/test-support/buffer-fixtures.js';
import { BatchSender, type SenderOptions } from './sender.js';
import { FakeUplink } from './test-support/fake-uplink.js';

const DEVICE = 'press-07';
const ACK_TIMEOUT_MS = 10_000;
const logger = createLogger({ name: 'sender-test', level: 'silent' });

let dir: TempDir;
let buffer: SqliteBuffer;
let uplink: FakeUplink;
let metrics: MetricsRegistry;
let now: number;

beforeEach(() => {
  dir = tempDir('tidemark-sender-');
  buffer = SqliteBuffer.open({ path: dir.file('buffer.db'), deviceId: DEVICE });
  uplink = new FakeUplink();
  metrics = new MetricsRegistry('tidemark_edge');
  now = T0;
});

afterEach(() => {
  buffer.close();
  dir.remove();
});

function makeSender(opts: Partial<SenderOptions> = {}): BatchSender {
  return new BatchSender(buffer, uplink.asUplink(), { maxInflight: 2, ackTimeoutMs: ACK_TIMEOUT_MS, ...opts }, logger, metrics, () => now);
}

/** Seals `count` batches of `perBatch` numbered readings: batch k holds readings (k-1)*perBatch+1 … k*perBatch. */
function sealBatches(count: number, perBatch = 2): void {
  const first = buffer.stats().nextSeq;
  const base = (first - 1) * perBatch;
  buffer.append(range(base + 1, base + count * perBatch).map((n) => numbered(n)));
  buffer.commit();
  for (let i = 0; i < count; i++) buffer.seal(perBatch, encoderFor(buffer), now);
}

function ack(results: AckResult[], streamId: Uint8Array = buffer.streamId): Uint8Array {
  return encodeAck({ deviceId: DEVICE, streamId, results });
}

const ok = (...seqs: number[]): AckResult[] => seqs.map((seq) => ({ seq, status: 'ok' as const }));
const seqOf = (payload: Uint8Array): number => decodeBatch(payload).seq;
const publishedSeqs = (since = 0): number[] => uplink.seqs(seqOf, since);
const bufferedSeqs = (): number[] => buffer.batchesAfter(0, 1000).map((b) => b.seq);
const storedPayload = (seq: number): Buffer => Buffer.from(buffer.batchesAfter(seq - 1, 1)[0]!.payload);

describe('publishing', () => {
  it('publishes each sealed batch, oldest first, on the device batch topic with the stored bytes', async () => {
    sealBatches(2);
    await makeSender().pump();
    expect(uplink.publishes.map((p) => p.topic)).toEqual([topics.batch(DEVICE), topics.batch(DEVICE)]);
    expect(publishedSeqs()).toEqual([1, 2]);
    expect(Buffer.from(uplink.publishes[0]!.payload).equals(storedPayload(1))).toBe(true);
    expect(Buffer.from(uplink.publishes[1]!.payload).equals(storedPayload(2))).toBe(true);
  });

  it('publishes nothing while disconnected, and nothing when the buffer has no batches', async () => {
    const sender = makeSender();
    await sender.pump();
    expect(uplink.publishes).toHaveLength(0);
    sealBatches(2);
    uplink.connected = false;
    await sender.pump();
    expect(uplink.publishes).toHaveLength(0);
    expect(sender.inflightCount).toBe(0);
  });

  it('keeps at most max_inflight batches awaiting an ack', async () => {
    sealBatches(5);
    const sender = makeSender({ maxInflight: 2 });
    await sender.pump();
    expect(publishedSeqs()).toEqual([1, 2]);
    expect(sender.inflightCount).toBe(2);

    await sender.pump();
    expect(publishedSeqs(), 'no room: nothing more goes out').toEqual([1, 2]);

    sender.handleAck(ack(ok(1)));
    expect(sender.inflightCount).toBe(1);
    await sender.pump();
    expect(publishedSeqs()).toEqual([1, 2, 3]);
    expect(sender.inflightCount).toBe(2);

    sender.handleAck(ack(ok(2, 3)));
    await sender.pump();
    expect(publishedSeqs()).toEqual([1, 2, 3, 4, 5]);
    await sender.pump();
    expect(publishedSeqs()).toEqual([1, 2, 3, 4, 5]);
  });

  it('pipelines publishes within the window and does not publish twice while they are outstanding', async () => {
    sealBatches(3);
    uplink.mode = 'hold';
    const sender = makeSender({ maxInflight: 3 });
    await sender.pump();
    expect(publishedSeqs(), 'publishes do not wait for each other (a PUBACK means nothing to delivery)').toEqual([1, 2, 3]);
    await sender.pump();
    expect(publishedSeqs()).toEqual([1, 2, 3]);
    uplink.mode = 'ack';
    while (uplink.heldCount > 0) uplink.release();
    await sender.pump();
    expect(publishedSeqs(), 'still awaiting the collector ack').toEqual([1, 2, 3]);
  });

  it('sends a batch whose publish failed again on the next pump, with the same bytes', async () => {
    sealBatches(2);
    const sender = makeSender();
    uplink.mode = 'fail';
    await sender.pump();
    expect(publishedSeqs()).toEqual([1, 2]);
    await waitFor(() => sender.inflightCount === 0, { description: 'failed publishes leave the window' });
    expect(bufferedSeqs()).toEqual([1, 2]);

    uplink.mode = 'ack';
    await sender.pump();
    expect(publishedSeqs()).toEqual([1, 2, 1, 2]);
    expect(Buffer.from(uplink.publishes[2]!.payload).equals(Buffer.from(uplink.publishes[0]!.payload))).toBe(true);
  });
});

describe('live data before the backlog', () => {
  it('sends batches sealed since the reconnect ahead of the backlog, and drains the backlog in the free slots', async () => {
    sealBatches(5); // the backlog of an outage: seqs 1..5
    const sender = makeSender({ maxInflight: 3 });
    sender.reset(); // the link comes back
    sealBatches(2); // fresh readings: seqs 6, 7
    await sender.pump();
    expect(publishedSeqs()).toEqual([6, 7, 1]);
    sender.handleAck(ack(ok(1)));
    sealBatches(1); // seq 8 is sealed while the backlog drains
    await sender.pump();
    expect(publishedSeqs()).toEqual([6, 7, 1, 8]);
    sender.handleAck(ack(ok(6, 7, 8)));
    await sender.pump();
    expect(publishedSeqs()).toEqual([6, 7, 1, 8, 2, 3, 4]);
  });
});

describe('acks', () => {
  it('never removes a batch because its publish completed (PUBACK), only on the collector ack', async () => {
    sealBatches(2);
    const sender = makeSender();
    await sender.pump();
    expect(publishedSeqs()).toEqual([1, 2]);
    expect(bufferedSeqs()).toEqual([1, 2]);
    expect(buffer.stats().sealedReadings).toBe(4);

    sender.handleAck(ack(ok(1)));
    expect(bufferedSeqs()).toEqual([2]);
    expect(sender.inflightCount).toBe(1);
  });

  it('removes a batch on ok and on duplicate, and counts the acknowledged readings', async () => {
    sealBatches(3, 4);
    const sender = makeSender({ maxInflight: 3 });
    await sender.pump();
    sender.handleAck(ack([{ seq: 1, status: 'ok' }, { seq: 2, status: 'duplicate' }]));
    expect(bufferedSeqs()).toEqual([3]);
    expect(sender.inflightCount).toBe(1);
    expect(await counterValue(metrics.counter('readings_acked_total', ''))).toBe(8);
    const acked = metrics.counter('batches_acked_total', '', ['status']);
    expect(await counterValue(acked, { status: 'ok' })).toBe(1);
    expect(await counterValue(acked, { status: 'duplicate' })).toBe(1);
    expect(buffer.stats().drops).toEqual({});
  });

  it('drops a rejected batch and records the drop with the reason', async () => {
    sealBatches(3, 3);
    const sender = makeSender({ maxInflight: 3 });
    await sender.pump();
    sender.handleAck(
      ack([
        { seq: 1, status: 'rejected', reason: 'sensor name too long' },
        { seq: 3, status: 'rejected' },
      ]),
    );
    expect(bufferedSeqs()).toEqual([2]);
    expect(sender.inflightCount).toBe(1);
    expect(buffer.stats().drops).toEqual({ 'rejected: sensor name too long': 3, 'rejected: unspecified': 3 });
    expect(await counterValue(metrics.counter('readings_dropped_total', '', ['reason']), { reason: 'rejected' })).toBe(6);
    expect(await counterValue(metrics.counter('readings_acked_total', ''))).toBe(0);
  });

  it('ignores acks for another stream id', async () => {
    sealBatches(2);
    const sender = makeSender();
    await sender.pump();
    sender.handleAck(ack(ok(1, 2), newStreamId()));
    sender.handleAck(ack([{ seq: 1, status: 'rejected', reason: 'x' }], newStreamId()));
    expect(bufferedSeqs()).toEqual([1, 2]);
    expect(sender.inflightCount).toBe(2);
    expect(buffer.stats().drops).toEqual({});
  });

  it('ignores an undecodable ack without throwing', async () => {
    sealBatches(2);
    const sender = makeSender();
    await sender.pump();
    const good = ack(ok(1));
    const garbage = [
      new Uint8Array([0xff, 0xff, 0xff, 0xff, 0x0f]),
      new Uint8Array(0),
      good.subarray(0, good.length - 3),
      new TextEncoder().encode('{"seq":1,"status":"ok"}'),
    ];
    for (const bytes of garbage) expect(() => sender.handleAck(bytes)).not.toThrow();
    expect(bufferedSeqs()).toEqual([1, 2]);
    expect(sender.inflightCount).toBe(2);
    sender.handleAck(good);
    expect(bufferedSeqs()).toEqual([2]);
  });

  it('accepts an ack for a batch that is already gone without counting anything twice', async () => {
    sealBatches(1, 5);
    const sender = makeSender();
    await sender.pump();
    sender.handleAck(ack(ok(1)));
    sender.handleAck(ack(ok(1)));
    sender.handleAck(ack([{ seq: 1, status: 'rejected', reason: 'late' }]));
    sender.handleAck(ack(ok(99)));
    expect(bufferedSeqs()).toEqual([]);
    expect(buffer.stats().drops).toEqual({});
    expect(await counterValue(metrics.counter('readings_acked_total', ''))).toBe(5);
  });

  it('does not count a rejected batch as dropped again when the buffer already dropped it for room', async () => {
    sealBatches(2, 3);
    const sender = makeSender();
    await sender.pump();
    expect(buffer.dropOldestBatches(1, 'buffer_full')).toBe(3);
    sender.handleAck(ack([{ seq: 1, status: 'rejected', reason: 'late' }, ...ok(2)]));
    expect(bufferedSeqs()).toEqual([]);
    expect(buffer.stats().drops).toEqual({ buffer_full: 3 });
    expect(await counterValue(metrics.counter('readings_dropped_total', '', ['reason']), { reason: 'rejected' })).toBe(0);
    expect(await counterValue(metrics.counter('readings_acked_total', ''))).toBe(3);
  });

  it('reads the buffer only when a batch can be there: acks and pumps with nothing new query nothing', async () => {
    sealBatches(2, 4);
    const sender = makeSender({ maxInflight: 4 });
    const reads: number[] = [];
    const batchesAfter = buffer.batchesAfter.bind(buffer);
    buffer.batchesAfter = (after, limit) => {
      reads.push(after);
      return batchesAfter(after, limit);
    };
    await sender.pump();
    expect(publishedSeqs()).toEqual([1, 2]);
    const afterFirstPump = reads.length;
    sender.handleAck(ack(ok(1, 2)));
    await sender.pump();
    await sender.pump();
    expect(reads.length, 'the ack counted its readings from what was sent; nothing new was sealed').toBe(afterFirstPump);
    expect(await counterValue(metrics.counter('readings_acked_total', ''))).toBe(8);
    sealBatches(1, 4);
    await sender.pump();
    expect(publishedSeqs()).toEqual([1, 2, 3]);
  });
});

describe('resending', () => {
  it('after reset() on reconnect, publishes every unacked batch again with byte-identical payloads', async () => {
    sealBatches(4);
    const sender = makeSender({ maxInflight: 3 });
    await sender.pump();
    expect(publishedSeqs()).toEqual([1, 2, 3]);
    const firstBytes = new Map(uplink.publishes.map((p) => [seqOf(p.payload), Buffer.from(p.payload)]));
    sender.handleAck(ack(ok(2)));

    // The link drops: the agent resets the window; nothing goes out while disconnected.
    uplink.connected = false;
    sender.reset();
    expect(sender.inflightCount).toBe(0);
    await sender.pump();
    expect(publishedSeqs()).toEqual([1, 2, 3]);

    // Reconnected.
    uplink.connected = true;
    sender.reset();
    const mark = uplink.publishes.length;
    await sender.pump();
    expect(publishedSeqs(mark)).toEqual([1, 3, 4]);
    for (const p of uplink.publishes.slice(mark, mark + 2)) {
      expect(Buffer.from(p.payload).equals(firstBytes.get(seqOf(p.payload))!)).toBe(true);
    }
    expect(bufferedSeqs()).toEqual([1, 3, 4]);
  });

  it('publishes unacked batches again once the ack timeout passes', async () => {
    sealBatches(3);
    const sender = makeSender({ maxInflight: 2 });
    await sender.pump();
    expect(publishedSeqs()).toEqual([1, 2]);

    now = T0 + ACK_TIMEOUT_MS - 1;
    await sender.pump();
    expect(publishedSeqs(), 'not yet timed out').toEqual([1, 2]);

    now = T0 + ACK_TIMEOUT_MS;
    await sender.pump();
    expect(publishedSeqs()).toEqual([1, 2, 1, 2]);
    expect(Buffer.from(uplink.publishes[2]!.payload).equals(Buffer.from(uplink.publishes[0]!.payload))).toBe(true);
    expect(Buffer.from(uplink.publishes[3]!.payload).equals(Buffer.from(uplink.publishes[1]!.payload))).toBe(true);
    expect(bufferedSeqs(), 'a timeout never drops a batch').toEqual([1, 2, 3]);

    // The resends got a fresh deadline; the acks for them free the window for the rest.
    now += ACK_TIMEOUT_MS - 1;
    sender.handleAck(ack(ok(1, 2)));
    await sender.pump();
    expect(publishedSeqs()).toEqual([1, 2, 1, 2, 3]);
  });

  it.each([
    ['complete on the new connection', () => uplink.release()],
    ['fail with the old connection', () => uplink.fail()],
  ])('resends every unacked batch when the link resets while publishes are outstanding (they then %s)', async (_, settle) => {
    sealBatches(3);
    const sender = makeSender({ maxInflight: 3 });
    uplink.mode = 'hold';
    await sender.pump();
    expect(publishedSeqs()).toEqual([1, 2, 3]);
    uplink.release(); // seq 1 reaches the broker (PUBACK); 2 and 3 are still outstanding …

    // … then the link drops and comes back. The agent resets on both events and pumps on connect.
    uplink.connected = false;
    sender.reset();
    uplink.connected = true;
    sender.reset();
    const mark = uplink.publishes.length;
    uplink.mode = 'ack';
    await sender.pump();
    settle();
    settle();
    await new Promise((r) => setImmediate(r));

    // The new window holds every unacked batch again (seq 1's ack may have been lost with the link), and
    // the old link's late failures must not evict the new window's entries.
    expect(new Set(publishedSeqs(mark))).toEqual(new Set([1, 2, 3]));
    expect(sender.inflightCount).toBe(3);
    now = T0 + ACK_TIMEOUT_MS;
    sender.handleAck(ack(ok(2, 3)));
    const late = uplink.publishes.length;
    await sender.pump();
    expect(publishedSeqs(late), 'seq 1 is still covered by the ack timeout').toContain(1);
  });
});
