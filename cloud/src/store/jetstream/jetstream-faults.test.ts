// JetStreamStreamStore under faults: a PubAck lost after its message landed, the nats-server SIGKILLed
// mid-stream, a second writer on the same partition, and a 3-node cluster losing its stream leader.
import { requireTool, startNatsCluster, startNatsServer, useProcessReaper, waitFor, type NatsServer } from '@tidemark/shared/testing';
import { beforeAll, describe, expect, it } from 'vitest';
import { item } from '../stream-store.contract.js';
import type { AppendItem, AppendOutcome } from '../stream-store.js';
import type { JetStreamStreamStore } from './jetstream-stream-store.js';
import { deleteStreams, dups, expectStoreError, freshStream, idOf, oks, readAll, seqs, started, withNats } from './test-support/jetstream-fixtures.js';

requireTool('nats-server', 'nats-server');
useProcessReaper();

let nats: NatsServer;
beforeAll(async () => {
  nats = await startNatsServer();
});

describe('JetStreamStreamStore under faults', { timeout: 60_000 }, () => {
  it('a PubAck lost after the message landed: reported ok once, stored once', async () => {
    const stream = freshStream();
    const a = await started([nats.url], stream);
    const js = (a as unknown as { c: { js: { publish: (...args: unknown[]) => Promise<unknown> } } }).c.js;
    const real = js.publish.bind(js);
    let calls = 0;
    js.publish = async (...args: unknown[]) => {
      const ack = await real(...args);
      if (++calls === 2) throw Object.assign(new Error('TIMEOUT'), { code: 'TIMEOUT' });
      return ack;
    };
    expect(await a.append(seqs('d', 1, [1, 2, 3]))).toEqual(oks(3));
    expect(a.stats.catchUps).toBe(1);
    expect((await readAll(a)).map((r) => r.seq)).toEqual([1, 2, 3]);
    expect(await a.append(seqs('d', 1, [1, 2, 3, 4]))).toEqual([...dups(3), 'ok']);
    await a.stop();
    await deleteStreams([nats.url], stream);
  });

  it('keeps every acked batch when the nats-server is SIGKILLed mid-stream and restarted on its store', async () => {
    const server = await startNatsServer();
    const stream = freshStream();
    const a = await started([server.url], stream, { requestTimeoutMs: 2_000 });
    const acked = new Set<string>();
    const total = 400;
    let killed = false;
    // A device-like writer: groups of 20.
    for (let next = 1; next <= total; ) {
      const group = seqs('press-07', 1, Array.from({ length: 20 }, (_, i) => next + i));
      // A failed group is sent again (every 100 ms, as a device would) until the store takes it.
      const out: AppendOutcome[] = await waitFor(
        () =>
          a.append(group).catch((err: unknown) => {
            expectStoreError(err);
            return undefined;
          }),
        { timeoutMs: 30_000, intervalMs: 100, description: 'the store to take the group after the restart' },
      );
      for (const it of group) acked.add(idOf(it));
      expect(out.every((o) => o === 'ok' || o === 'duplicate')).toBe(true);
      next += 20;
      if (!killed && next > total / 2) {
        killed = true;
        await server.kill();
        // Appends fail while the server is down, without acking anything.
        expectStoreError(await a.append(seqs('press-07', 1, [next])).catch((e: unknown) => e));
        await server.restart();
      }
    }
    const records = await waitFor(async () => readAll(a), { timeoutMs: 20_000 });
    expect(records.map(idOf)).toEqual([...acked]);
    expect(new Set(records.map(idOf)).size).toBe(records.length);
    // Dedups them in this instance and in a rebuilt one.
    const again = seqs('press-07', 1, [1, 100, 200, 201, 399, 400]);
    expect(await a.append(again)).toEqual(dups(again.length));
    await a.abandon();
    const b = await started([server.url], stream);
    expect(await b.append(again)).toEqual(dups(again.length));
    expect(await b.endOffset()).toBe(total + 1);
    await b.stop();
  });

  it('a second writer on the same stream: no identity is ever stored twice, outcomes stay consistent', async () => {
    const stream = freshStream();
    const a = await started([nats.url], stream);
    const b = await started([nats.url], stream);
    const okCount = new Map<string, number>();
    const sent = new Set<string>();
    let failedCalls = 0;
    const run = async (store: JetStreamStreamStore, items: AppendItem[]): Promise<void> => {
      for (let attempt = 0; ; attempt++) {
        try {
          const out = await store.append(items);
          out.forEach((o, i) => {
            const id = idOf(items[i]!);
            if (o === 'ok') okCount.set(id, (okCount.get(id) ?? 0) + 1);
          });
          return;
        } catch (err) {
          expectStoreError(err);
          failedCalls++;
          if (attempt > 20) throw err;
        }
      }
    };
    for (let round = 0; round < 30; round++) {
      // Both writers get overlapping groups (devices resending to two collectors).
      const base = round * 6;
      const ga = [...seqs('d', 1, [base + 1, base + 2, base + 3, base + 4]), ...seqs('e', round % 3, [round + 1])];
      const gb = [...seqs('d', 1, [base + 3, base + 4, base + 5, base + 6]), ...seqs('e', round % 3, [round + 1, round + 2])];
      for (const it of [...ga, ...gb]) sent.add(idOf(it));
      await Promise.all([run(a, ga), run(b, gb)]);
      if (round === 15) await Promise.all([a.snapshot(), b.snapshot()]);
    }
    const records = await readAll(a);
    const stored = records.map(idOf);
    expect(new Set(stored).size).toBe(stored.length);
    expect(new Set(stored)).toEqual(sent);
    for (const id of stored) expect(okCount.get(id) ?? 0).toBeLessThanOrEqual(1);
    if (failedCalls === 0) for (const id of stored) expect(okCount.get(id)).toBe(1);
    expect(a.stats.catchUps + b.stats.catchUps).toBeGreaterThan(0);
    // Both snapshots (merged in the KV bucket) and the stream rebuild a state that knows everything.
    await a.abandon();
    await b.stop();
    const c = await started([nats.url], stream);
    const everything = records.map((r) => ({ ...item(r.deviceId, r.streamId[15]!, r.seq) }));
    expect(await c.append(everything)).toEqual(dups(everything.length));
    await c.stop();
    await deleteStreams([nats.url], stream);
  });

  it('on a 3-node cluster (replicas 3) keeps appending and reading when a node is SIGKILLed, and after it rejoins', async () => {
    const cluster = await startNatsCluster({ size: 3 });
    const stream = freshStream();
    const a = await started(cluster.urls, stream, { replicas: 3, requestTimeoutMs: 3_000 });
    expect(await a.append(seqs('d', 1, [1, 2, 3, 4, 5]))).toEqual(oks(5));
    expect((await a.read(1, 10)).map((r) => r.seq)).toEqual([1, 2, 3, 4, 5]);

    // Kill the stream's leader: the worst node to lose.
    const leader = await withNats(cluster.urls, async (nc) => (await (await nc.jetstreamManager()).streams.info(stream)).cluster?.leader);
    const victim = cluster.servers.find((s) => s.process.commandLine.includes(`-n ${leader}`))!;
    expect(victim).toBeDefined();
    await victim.kill();

    const appendUntilAnswered = (items: AppendItem[]) =>
      waitFor(async () => a.append(items), { timeoutMs: 40_000, intervalMs: 200, description: 'an append on the degraded cluster' });
    expect(await appendUntilAnswered(seqs('d', 1, [6, 7, 8]))).toEqual(oks(3));
    expect(await a.append(seqs('d', 1, [1, 8, 9]))).toEqual(['duplicate', 'duplicate', 'ok']);
    const records = await waitFor(async () => readAll(a), { timeoutMs: 20_000 });
    expect(records.map((r) => r.seq)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9]);

    await victim.restart();
    await waitFor(
      async () =>
        withNats(cluster.urls, async (nc) => {
          const c = (await (await nc.jetstreamManager()).streams.info(stream)).cluster;
          return c?.replicas?.length === 2 && c.replicas.every((r) => r.current);
        }),
      { timeoutMs: 30_000, description: 'the restarted node to catch up' },
    );
    expect(await a.append(seqs('d', 1, [9, 10]))).toEqual(['duplicate', 'ok']);
    await a.abandon();
    const b = await started(cluster.urls, stream, { replicas: 3 });
    expect(await b.append(seqs('d', 1, [1, 5, 10, 11]))).toEqual([...dups(3), 'ok']);
    expect((await readAll(b)).map((r) => r.offset)).toEqual([...Array(11).keys()].map((i) => i + 1));
    await b.stop();
  }, 150_000);
});
