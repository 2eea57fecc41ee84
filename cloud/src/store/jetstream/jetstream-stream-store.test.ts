// JetStreamStreamStore against the shared StreamStore contract on a private nats-server, plus what only this
// backend promises: dedup rebuilt from snapshot + stream after a crash, trim bounds, positioned reads,
// read-only instances, dead letters, clear refusals, shared connections. Faults: jetstream-faults.test.ts.
import { connect } from 'nats';
import { NotConnectedError, StorageError } from '@tidemark/shared';
import { freePort, requireTool, startNatsServer, useProcessReaper, waitFor, type NatsServer } from '@tidemark/shared/testing';
import { beforeAll, describe, expect, it } from 'vitest';
import { describeStreamStoreContract, item } from '../stream-store.contract.js';
import type { AppendItem } from '../stream-store.js';
import { trimStream } from './stream-trim.js';
import { deleteStreams, dups, freshStream, oks, readAll, seqs, started, storeOn, withNats } from './test-support/jetstream-fixtures.js';

requireTool('nats-server', 'nats-server');
useProcessReaper();

let nats: NatsServer;
beforeAll(async () => {
  nats = await startNatsServer();
});

describeStreamStoreContract('JetStreamStreamStore', async () => {
  const stream = freshStream();
  let current = await started([nats.url], stream);
  return {
    store: current,
    reopen: async () => {
      await current.stop();
      current = await started([nats.url], stream);
      return current;
    },
    cleanup: async () => {
      await current.stop();
      await deleteStreams([nats.url], stream);
    },
  };
});

describe('JetStreamStreamStore specifics', { timeout: 60_000 }, () => {
  it('takes the server\'s "duplicate" answer as proof a batch is stored, even when its dedup record is gone', async () => {
    const stream = freshStream();
    const a = await started([nats.url], stream, { snapshotIntervalMs: 3_600_000 });
    await a.append(seqs('d', 1, [1, 2, 3]));
    await a.abandon(); // no snapshot: the records are the only dedup records
    // Someone purges the records by hand (beyond any snapshot): the identities are forgotten by the rebuild...
    await withNats([nats.url], async (nc) => {
      await (await nc.jetstreamManager()).streams.purge(stream);
    });
    const b = await started([nats.url], stream);
    // ...but the server still knows their msg ids (its duplicate window): a resend is a duplicate, stored once.
    expect(await b.append(seqs('d', 1, [2]))).toEqual(dups(1));
    expect(await b.append(seqs('d', 1, [2, 4]))).toEqual(['duplicate', 'ok']);
    expect(await b.endOffset()).toBe(5);
    await b.stop();
    await deleteStreams([nats.url], stream);
  });

  it('skips a message without identity headers (published by something else) and loses nothing around it', async () => {
    const stream = freshStream();
    const w = await started([nats.url], stream);
    await w.append(seqs('d', 1, [1, 2, 3]));
    await withNats([nats.url], async (nc) => {
      await nc.jetstream().publish(`${stream}.b.x`, new Uint8Array([1])); // offset 4
    });
    await w.append(seqs('d', 1, [4, 5, 6, 7, 8, 9])); // offsets 5..10
    const r = await started([nats.url], stream, { readOnly: true });
    expect((await r.read(1, 5)).map((x) => x.offset)).toEqual([1, 2, 3, 5]);
    expect((await r.read(6, 5)).map((x) => x.offset)).toEqual([6, 7, 8, 9, 10]);
    // Only the foreign message left to read is not mistaken for the end, and not for a record.
    expect((await r.read(4, 1)).map((x) => x.offset)).toEqual([5]);
    await r.stop();
    await w.stop();
    await deleteStreams([nats.url], stream);
  });

  it('rebuilds dedup after a crash from the snapshot plus the messages after it (out of order, low-water marks)', async () => {
    const stream = freshStream();
    const a = await started([nats.url], stream, { snapshotIntervalMs: 3_600_000 });
    // Before the snapshot: out of order with a gap (4), and a low-water mark folding 1..9 of e/1.
    expect(await a.append([...seqs('d', 1, [3, 1, 2, 5]), { ...item('e', 1, 10), lowWaterSeq: 10 }])).toEqual(oks(5));
    const s = await a.snapshot();
    expect(s).toBe(5);
    // After it: never snapshotted. d/1 6 out of order again, a mark on e/1, another stream of d.
    expect(await a.append([...seqs('d', 1, [7]), { ...item('e', 1, 13), lowWaterSeq: 12 }, ...seqs('d', 2, [4, 2])])).toEqual(oks(4));
    await a.abandon(); // no stop(): the last snapshot stays at 5

    const b = await started([nats.url], stream);
    expect(b.stats.lastSeq).toBe(9);
    const old = [...seqs('d', 1, [1, 2, 3, 5, 7]), ...seqs('e', 1, [1, 5, 9, 10, 11, 13]), ...seqs('d', 2, [2, 4])];
    expect(await b.append(old)).toEqual(dups(old.length));
    // What was never stored and never given up is still new.
    expect(await b.append([...seqs('d', 1, [4, 6]), ...seqs('e', 1, [12, 14]), ...seqs('d', 2, [1, 3])])).toEqual(oks(6));
    expect(await b.endOffset()).toBe(16);
    await b.stop();
    await deleteStreams([nats.url], stream);
  });

  it('rebuilds from the stream alone when no snapshot was ever written', async () => {
    const stream = freshStream();
    const a = await started([nats.url], stream, { snapshotIntervalMs: 3_600_000 });
    await a.append(seqs('d', 1, [2, 1, 4]));
    await a.abandon();
    const b = await started([nats.url], stream);
    expect(await b.append(seqs('d', 1, [1, 2, 3, 4]))).toEqual(['duplicate', 'duplicate', 'ok', 'duplicate']);
    await b.stop();
    await deleteStreams([nats.url], stream);
  });

  it('trims by age and by bytes, never at or above belowOffset or above the snapshot, and still dedups', async () => {
    const stream = freshStream();
    const a = await started([nats.url], stream, { snapshotIntervalMs: 3_600_000 });
    const t0 = 1_764_000_000_000;
    const batch = (seq: number): AppendItem => ({ ...item('d', 1, seq, t0 + seq * 1000), payload: new Uint8Array(1000).fill(seq & 0xff) });
    expect(await a.append(Array.from({ length: 100 }, (_, i) => batch(i + 1)))).toEqual(oks(100));
    const info = async () => withNats([nats.url], async (nc) => (await (await nc.jetstreamManager()).streams.info(stream)).state);

    // The snapshot bounds the purge: with S = 0 nothing may go, whatever the request.
    await withNats([nats.url], async (nc) => {
      const jsm = await nc.jetstreamManager();
      expect(await trimStream(jsm, stream, { beforeReceivedMs: t0 + 1e9, belowOffset: 101 }, 0)).toBe(0);
      expect(await trimStream(jsm, stream, { beforeReceivedMs: t0 + 1e9, belowOffset: 101 }, 5)).toBe(5);
    });
    expect((await info()).first_seq).toBe(6);

    // By age: received before t0 + 20.5 s -> seqs 6..20.
    expect(await a.trim({ beforeReceivedMs: t0 + 20_500, belowOffset: 101 })).toBe(15);
    expect((await a.read(1, 1))[0]?.offset).toBe(21);
    // By age, but the aggregator is only at 31: 21..30 go, 31 stays although it is old.
    expect(await a.trim({ beforeReceivedMs: t0 + 60_500, belowOffset: 31 })).toBe(10);
    expect((await a.read(1, 1))[0]?.offset).toBe(31);
    // By bytes: 70 records of ~1.1 KB; keep at most ~30 KB, but never at or above 61.
    const before = await info();
    expect(before.messages).toBe(70);
    expect(await a.trim({ beforeReceivedMs: 0, belowOffset: 61, maxBytes: 30_000 })).toBe(30);
    const small = await a.trim({ beforeReceivedMs: 0, belowOffset: 101, maxBytes: 30_000 });
    const after = await info();
    expect(small).toBeGreaterThan(0);
    expect(after.bytes).toBeLessThanOrEqual(30_000);
    expect(after.last_seq).toBe(100);
    expect(await a.endOffset()).toBe(101);

    // Everything purged is still a duplicate, also after a crash (it lives on in the snapshot only).
    await a.abandon();
    const b = await started([nats.url], stream);
    expect(await b.append([batch(1), batch(20), batch(60), batch(100)])).toEqual(dups(4));
    // Purging everything keeps offsets: the next record is 101.
    expect(await b.trim({ beforeReceivedMs: t0 + 1e9, belowOffset: 101 })).toBe(after.messages);
    expect(await b.endOffset()).toBe(101);
    expect(await b.append([batch(101), batch(5)])).toEqual(['ok', 'duplicate']);
    expect((await readAll(b)).map((r) => r.offset)).toEqual([101]);
    await b.stop();
    await deleteStreams([nats.url], stream);
  });

  it('reads sequentially through one positioned consumer; a read-only instance trims only up to the snapshot of the writer', async () => {
    const stream = freshStream();
    const a = await started([nats.url], stream, { snapshotIntervalMs: 3_600_000 });
    await a.append(seqs('d', 1, Array.from({ length: 60 }, (_, i) => i + 1)));
    const consumers = async () => withNats([nats.url], async (nc) => (await (await nc.jetstreamManager()).streams.info(stream)).state.consumer_count);
    const r = await started([nats.url], stream, { readOnly: true });
    expect((await readAll(r)).map((x) => x.offset)).toEqual([...Array(60).keys()].map((i) => i + 1));
    for (let from = 1; from <= 60; from += 7) expect((await r.read(from, 7))[0]?.offset).toBe(from);
    expect(await consumers()).toBe(1);
    // A jump repositions: the old consumer goes away.
    expect((await r.read(5, 2)).map((x) => x.offset)).toEqual([5, 6]);
    await waitFor(async () => (await consumers()) === 1, { description: 'the old read consumer to be deleted' });

    await expect(r.append(seqs('d', 1, [61]))).rejects.toThrow(/read-only/);
    const huge = { ...item('d', 1, 61), payload: new Uint8Array(a.maxPayloadBytes! + 1) };
    await expect(a.append([item('d', 1, 61), huge])).rejects.toThrow(/exceeds what one NATS message can carry/);
    expect(await a.endOffset()).toBe(61);
    expect(await r.trim({ beforeReceivedMs: Number.MAX_SAFE_INTEGER, belowOffset: 50 })).toBe(0); // no snapshot yet
    expect(await a.snapshot()).toBe(60);
    expect(await r.trim({ beforeReceivedMs: Number.MAX_SAFE_INTEGER, belowOffset: 50 })).toBe(49);
    await a.append(seqs('d', 1, [61, 62]));
    expect(await r.trim({ beforeReceivedMs: Number.MAX_SAFE_INTEGER, belowOffset: 63 })).toBe(11); // up to S = 60
    expect((await readAll(r)).map((x) => x.offset)).toEqual([61, 62]);
    await r.stop();
    await a.stop();
    await deleteStreams([nats.url], stream);
  });

  it('keeps dead letters in a bounded stream beside the records', async () => {
    const stream = freshStream();
    const a = await started([nats.url], stream, { maxDeadLetters: 3 });
    for (let i = 1; i <= 5; i++) await a.deadLetter({ deviceId: i % 2 ? 'd.1' : null, reason: `bad\nbatch ${i}`, receivedMs: i, payload: new Uint8Array([i]) });
    await withNats([nats.url], async (nc) => {
      const jsm = await nc.jetstreamManager();
      const dlq = await jsm.streams.info(`${stream}_DLQ`);
      expect(dlq.state.messages).toBe(3);
      const last = await jsm.streams.getMessage(`${stream}_DLQ`, { seq: dlq.state.last_seq });
      expect(last.header.get('Tm-Reason')).toBe('bad batch 5');
      expect(last.header.get('Tm-Device')).toBe('d.1');
      expect(last.subject).toBe(`${stream}_DLQ.d.d=1`);
    });
    expect(await a.endOffset()).toBe(1);
    await a.stop();
    await deleteStreams([nats.url], stream);
  });

  it('refuses clearly: unreachable servers, an incompatible existing stream', async () => {
    const port = await freePort();
    const err = await storeOn([`nats://127.0.0.1:${port}`], freshStream(), { connectTimeoutMs: 1_000 })
      .start()
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(NotConnectedError);
    expect((err as Error).message).toContain(`nats://127.0.0.1:${port}`);

    const stream = freshStream();
    await withNats([nats.url], async (nc) => {
      const jsm = await nc.jetstreamManager();
      await jsm.streams.add({ name: stream, subjects: [`${stream}.b.>`], max_age: 3_600_000_000_000 });
    });
    await expect(storeOn([nats.url], stream).start()).rejects.toThrow(/max_age is set/);
    const plain = await startNatsServer({ jetstream: false });
    await expect(storeOn([plain.url], freshStream()).start()).rejects.toThrow(/JetStream is not available/);
    await expect(storeOn([nats.url], freshStream(), { replicas: 3 }).start()).rejects.toBeInstanceOf(StorageError);
    await deleteStreams([nats.url], stream);

    // A partition remembers its place: another partition count would move devices away from their dedup state.
    const p = freshStream();
    await (await started([nats.url], p, { partition: { index: 2, count: 4 } })).stop();
    await (await started([nats.url], p, { partition: { index: 2, count: 4 } })).stop();
    await expect(storeOn([nats.url], p, { partition: { index: 2, count: 8 } }).start()).rejects.toThrow(/created as partition 2\/4/);
    await deleteStreams([nats.url], p);
  });

  it('partitions can share one connection, which stays open when they stop', async () => {
    const nc = await connect({ servers: [nats.url] });
    const [s1, s2] = [freshStream(), freshStream()];
    const a = await started([nats.url], s1, { connection: nc });
    const b = await started([nats.url], s2, { connection: nc });
    expect(await a.append(seqs('d', 1, [1, 2]))).toEqual(oks(2));
    expect(await b.append(seqs('d', 1, [1]))).toEqual(oks(1));
    await a.stop();
    expect(nc.isClosed()).toBe(false);
    expect(await b.append(seqs('d', 1, [1, 2]))).toEqual(['duplicate', 'ok']);
    await b.stop();
    expect(nc.isClosed()).toBe(false);
    await nc.close();
    await deleteStreams([nats.url], s1);
    await deleteStreams([nats.url], s2);
  });
});
