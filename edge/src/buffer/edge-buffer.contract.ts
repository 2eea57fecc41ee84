// The EdgeBuffer contract suite: what every edge buffer implementation must do, tested only through the
// interface (edge-buffer.ts). An implementation's test file calls describeEdgeBufferContract with a factory.
// Readings are numbered (value n, time T0 + n), so loss, duplication and order are visible after decoding.
// Test-only: imports vitest and fast-check.
import fc from 'fast-check';
import { afterEach, describe, expect, it } from 'vitest';
import { decodeBatch, encodeBatch } from '@tidemark/proto';
import type { BatchEncoder, BufferedReading, EdgeBuffer } from './edge-buffer.js';

export interface EdgeBufferFixture {
  /** A buffer over fresh, empty storage for device `gw-contract`. */
  buffer: EdgeBuffer;
  /** Closes the current instance (a clean shutdown) and opens a new one over the same storage. */
  reopen: () => EdgeBuffer;
  /**
   * Abandons the current instance without closing it, as a kill -9 would (nothing in its memory reaches the
   * storage), and opens a new one over the same storage.
   */
  crashReopen: () => EdgeBuffer;
  /** Closes whatever instance is open and deletes the storage. */
  cleanup: () => void;
}

export const CONTRACT_DEVICE = 'gw-contract';
const T0 = 1_700_000_000_000;

const reading = (n: number, synced = true): BufferedReading => ({ sensor: 'temp_c', ts: T0 + n, value: n, synced });
const readings = (from: number, to: number, synced = true) => Array.from({ length: to - from + 1 }, (_, i) => reading(from + i, synced));

function encoderFor(buffer: EdgeBuffer): BatchEncoder {
  return (seq, rs, synced, lowWaterSeq) =>
    encodeBatch({
      deviceId: buffer.deviceId,
      streamId: buffer.streamId,
      seq,
      lowWaterSeq,
      clock: { synced, anchorWallMs: T0, anchorMonoMs: 0 },
      readings: rs.map((r) => ({ sensor: r.sensor, ts: r.ts, value: r.value })),
    });
}

const numbersIn = (payload: Uint8Array) => decodeBatch(payload).readings.map((r) => r.value);

export function describeEdgeBufferContract(name: string, make: () => EdgeBufferFixture): void {
  describe(`EdgeBuffer contract: ${name}`, () => {
    let fixture: EdgeBufferFixture | undefined;
    afterEach(() => {
      fixture?.cleanup();
      fixture = undefined;
    });
    const open = () => (fixture = make());

    it('has a fixed 16-byte stream id and starts at seq 1; both survive a reopen', () => {
      const f = open();
      const b = f.buffer;
      expect(b.deviceId).toBe(CONTRACT_DEVICE);
      expect(b.streamId).toHaveLength(16);
      expect(b.streamIdHex).toBe(Buffer.from(b.streamId).toString('hex'));
      expect(b.nextSequence).toBe(1);
      b.append(readings(1, 3));
      b.commit();
      expect(b.seal(10, encoderFor(b), T0)?.seq).toBe(1);
      const again = f.reopen();
      expect(again.streamIdHex).toBe(b.streamIdHex);
      expect(again.nextSequence).toBe(2);
    });

    it('holds appended readings in memory until commit; committed readings survive a reopen', () => {
      const f = open();
      const b = f.buffer;
      b.append(readings(1, 5));
      expect(b.queuedCount).toBe(5);
      expect(b.pendingReadings).toBe(0);
      expect(b.commit()).toBe(5);
      expect(b.queuedCount).toBe(0);
      expect(b.pendingReadings).toBe(5);
      b.append(readings(6, 7)); // never committed: a clean reopen does not promise these
      const again = f.reopen();
      expect(again.pendingReadings).toBe(5);
      const batch = again.seal(100, encoderFor(again), T0)!;
      expect(numbersIn(batch.payload)).toEqual([1, 2, 3, 4, 5]);
    });

    it('seals the oldest pending readings in order into batches of at most maxReadings, with consecutive seqs', () => {
      const b = open().buffer;
      b.append(readings(1, 25));
      const { committed, sealed } = b.commitAndSeal(10, encoderFor(b), T0);
      expect(committed).toBe(25);
      expect(sealed.map((s) => [s.seq, s.readings])).toEqual([[1, 10], [2, 10]]); // only full batches
      expect(b.pendingReadings).toBe(5);
      const last = b.seal(10, encoderFor(b), T0)!;
      expect([last.seq, last.readings, last.firstTs, last.lastTs]).toEqual([3, 5, T0 + 21, T0 + 25]);
      expect(b.seal(10, encoderFor(b), T0)).toBeUndefined();
      expect(b.batchesAfter(0, 10).flatMap((s) => numbersIn(s.payload))).toEqual(readings(1, 25).map((r) => r.value));
    });

    it('never mixes synced and unsynced readings in one batch', () => {
      const b = open().buffer;
      b.append([...readings(1, 3, true), ...readings(4, 6, false), ...readings(7, 8, true)]);
      b.commit();
      const batches = [];
      for (let s; (s = b.seal(100, encoderFor(b), T0)); ) batches.push(s);
      expect(batches.map((s) => [s.synced, ...numbersIn(s.payload)])).toEqual([[true, 1, 2, 3], [false, 4, 5, 6], [true, 7, 8]]);
    });

    it('serves sealed batches after a seq with a limit; a sent batch keeps its bytes; remove forgets it once', () => {
      const f = open();
      const b = f.buffer;
      b.append(readings(1, 30));
      b.commitAndSeal(10, encoderFor(b), T0);
      expect(b.batchesAfter(1, 1).map((s) => s.seq)).toEqual([2]);
      const before = b.batchesAfter(0, 10)[1]!.payload;
      b.markSent(2, T0 + 1);
      expect(b.remove(1)).toBe(true);
      expect(b.remove(1)).toBe(false);
      expect(b.batchesAfter(0, 10).map((s) => s.seq)).toEqual([2, 3]);
      const again = f.reopen();
      expect(again.batchesAfter(0, 10)[0]!.payload).toEqual(before); // the same bytes after a reopen
      expect(again.nextSequence).toBe(4); // a removed seq is never reused
    });

    it('seals the queue without storing it: an acked volatile batch never reaches storage, an unacked one is stored by the next commit', () => {
      const f = open();
      const b = f.buffer;
      b.append(readings(1, 25));
      const sealed = b.sealVolatile(10, encoderFor(b), T0);
      expect(sealed.map((s) => [s.seq, s.readings, s.firstTs, s.lastTs])).toEqual([[1, 10, T0 + 1, T0 + 10], [2, 10, T0 + 11, T0 + 20], [3, 5, T0 + 21, T0 + 25]]);
      expect([b.queuedCount, b.pendingReadings, b.volatileBatches, b.nextSequence]).toEqual([0, 0, 3, 4]);
      // In custody until acked: served to the sender, counted as buffered.
      expect(b.batchesAfter(1, 10).map((s) => s.seq)).toEqual([2, 3]);
      expect(b.bufferedReadings()).toBe(25);
      expect(b.stats()).toMatchObject({ sealedBatches: 3, sealedReadings: 25, bufferedReadings: 25, oldestTs: T0 + 1, newestTs: T0 + 25 });
      expect(b.remove(1)).toBe(true);
      expect(b.remove(1)).toBe(false);
      expect(b.volatileBatches).toBe(2);
      const unacked = b.batchesAfter(0, 10).map((s) => s.payload);
      b.commit(); // stores 2 and 3: not acked by their deadline
      expect(b.volatileBatches).toBe(0);
      const again = f.crashReopen(); // what the commit stored is durable without a clean close
      expect(again.batchesAfter(0, 10).map((s) => s.seq)).toEqual([2, 3]);
      expect(again.batchesAfter(0, 10).map((s) => [...s.payload])).toEqual(unacked.map((p) => [...p])); // the bytes that were sent
      expect(again.nextSequence).toBeGreaterThanOrEqual(4);
    });

    it('never reuses a volatile seq: a crash before anything was stored skips the reserved seqs; a clean close gives them back', () => {
      const f = open();
      const b = f.buffer;
      b.append(readings(1, 4));
      expect(b.sealVolatile(2, encoderFor(b), T0).map((s) => s.seq)).toEqual([1, 2]);
      const crashed = f.crashReopen(); // batches 1 and 2 were sent, maybe stored by the collector, lost here
      expect(crashed.batchesAfter(0, 10)).toEqual([]);
      const after = crashed.nextSequence;
      expect(after).toBeGreaterThan(2);
      crashed.append(readings(5, 6));
      expect(crashed.sealVolatile(10, encoderFor(crashed), T0).map((s) => s.seq)).toEqual([after]);
      crashed.remove(after);
      const clean = f.reopen();
      expect(clean.nextSequence).toBe(after + 1); // no gap after a clean close
      clean.append(readings(7, 7));
      clean.commit();
      expect(clean.seal(10, encoderFor(clean), T0)!.seq).toBe(after + 1);
    });

    it("a volatile batch's lowWaterSeq never claims an older unacked batch done (stored or volatile)", () => {
      // After an outage the backlog is stored batches while live readings go the volatile way: a low water above
      // the backlog would make the collector treat the backlog as duplicates.
      const b = open().buffer;
      const lowOf = (s: { payload: Uint8Array }) => decodeBatch(s.payload).lowWaterSeq;
      b.append(readings(1, 3));
      b.commit();
      expect(b.seal(10, encoderFor(b), T0)!.seq).toBe(1); // stored, not acked
      b.append(readings(4, 5));
      expect(b.sealVolatile(10, encoderFor(b), T0).map(lowOf)).toEqual([1]);
      b.append(readings(6, 7));
      expect(b.sealVolatile(10, encoderFor(b), T0).map(lowOf)).toEqual([1]); // not 2: batch 1 is still unacked
      b.remove(1); // acked: the low water may move past it (or lag: lower is always safe)
      b.append(readings(8, 9));
      const [late] = b.sealVolatile(10, encoderFor(b), T0);
      expect(lowOf(late!)).toBeLessThanOrEqual(2);
    });

    it('seals nothing volatile while committed readings are pending (they are older and go first)', () => {
      const b = open().buffer;
      b.append(readings(1, 3));
      b.commit();
      b.append(readings(4, 5));
      expect(b.sealVolatile(10, encoderFor(b), T0)).toEqual([]);
      expect([b.queuedCount, b.pendingReadings, b.volatileBatches]).toEqual([2, 3, 0]);
    });

    it('reports consistent stats, and counts what it discards by reason', () => {
      const b = open().buffer;
      b.append(readings(1, 12));
      b.commitAndSeal(5, encoderFor(b), T0);
      b.append(readings(13, 20));
      expect(b.discardQueued(3, 'test_overflow')).toBe(5);
      expect(b.queuedCount).toBe(3);
      b.commit();
      const s = b.stats();
      expect(s).toMatchObject({ deviceId: CONTRACT_DEVICE, streamId: b.streamIdHex, nextSeq: 3, sealedBatches: 2, sealedReadings: 10, pendingReadings: 5, bufferedReadings: 15 });
      expect(b.bufferedReadings()).toBe(15);
      expect(s.oldestTs).toBe(T0 + 1);
      expect(s.newestTs).toBe(T0 + 15);
      expect(s.drops.test_overflow).toBe(5);
    });

    it('model check: any interleaving of append, commit, seal, volatile seal and ack delivers every committed reading exactly once, in order', () => {
      const op = fc.oneof(
        fc.record({ kind: fc.constant('append' as const), n: fc.integer({ min: 1, max: 40 }) }),
        fc.record({ kind: fc.constant('commit' as const) }),
        fc.record({ kind: fc.constant('commitAndSeal' as const), max: fc.integer({ min: 1, max: 15 }) }),
        fc.record({ kind: fc.constant('seal' as const), max: fc.integer({ min: 1, max: 15 }) }),
        fc.record({ kind: fc.constant('ackOldest' as const) }),
        fc.record({ kind: fc.constant('sealVolatile' as const), max: fc.integer({ min: 1, max: 15 }) }),
        fc.record({ kind: fc.constant('reopen' as const) }),
      );
      fc.assert(
        fc.property(fc.array(op, { maxLength: 40 }), (ops) => {
          const f = make();
          try {
            let b = f.buffer;
            let next = 1;
            let committedUpTo = 0; // readings 1..committedUpTo are durable, or in volatile batches (stored by the next commit or close)
            let lastSeq = 0;
            const delivered: number[] = [];
            /** Sealed and not acked: a batch's lowWaterSeq must not claim any of these done. */
            const unacked = new Set<number>();
            const checkLowWater = (sealed: readonly { seq: number; payload: Uint8Array }[]) => {
              for (const s of sealed) {
                const low = decodeBatch(s.payload).lowWaterSeq ?? s.seq;
                expect(low, `batch ${s.seq} says every seq below ${low} is done; unacked: ${[...unacked].join(',')}`).toBeLessThanOrEqual(Math.min(s.seq, ...unacked));
                unacked.add(s.seq);
              }
            };
            for (const o of ops) {
              if (o.kind === 'append') {
                b.append(readings(next, next + o.n - 1));
                next += o.n;
              } else if (o.kind === 'commit') {
                b.commit();
                committedUpTo = next - 1;
              } else if (o.kind === 'commitAndSeal' || o.kind === 'seal') {
                const sealed = o.kind === 'seal' ? [b.seal(o.max, encoderFor(b), T0)].filter((s) => s !== undefined) : b.commitAndSeal(o.max, encoderFor(b), T0).sealed;
                if (o.kind === 'commitAndSeal') committedUpTo = next - 1;
                checkLowWater(sealed);
                for (const s of sealed) {
                  expect(s.seq).toBe(lastSeq + 1);
                  expect(s.readings).toBeLessThanOrEqual(o.max);
                  lastSeq = s.seq;
                }
              } else if (o.kind === 'sealVolatile') {
                const pendingBefore = b.pendingReadings;
                const queued = b.queuedCount;
                const sealed = b.sealVolatile(o.max, encoderFor(b), T0);
                expect(sealed.length > 0).toBe(pendingBefore === 0 && queued > 0);
                if (sealed.length > 0) committedUpTo = next - 1;
                checkLowWater(sealed);
                for (const s of sealed) {
                  expect(s.seq).toBe(lastSeq + 1); // consecutive while nothing crashed
                  expect(s.readings).toBeLessThanOrEqual(o.max);
                  lastSeq = s.seq;
                }
              } else if (o.kind === 'ackOldest') {
                const oldest = b.batchesAfter(0, 1)[0];
                if (oldest) {
                  delivered.push(...numbersIn(oldest.payload));
                  expect(b.remove(oldest.seq)).toBe(true);
                  unacked.delete(oldest.seq);
                }
              } else {
                b = f.reopen();
                next = committedUpTo + 1; // what was only queued is gone; the source would read on from here
              }
              // Committed and not acked: pending or sealed, never what is only queued.
              expect(b.bufferedReadings()).toBe(committedUpTo - delivered.length);
            }
            expect(b.stats().bufferedReadings).toBe(b.bufferedReadings());
            b.commit();
            committedUpTo = next - 1;
            for (let s; (s = b.seal(1000, encoderFor(b), T0)); ) expect(s.seq).toBe(++lastSeq);
            for (const s of b.batchesAfter(0, 10_000)) delivered.push(...numbersIn(s.payload));
            expect(delivered).toEqual(Array.from({ length: committedUpTo }, (_, i) => i + 1));
          } finally {
            f.cleanup();
          }
        }),
        { numRuns: 150 },
      );
    });
  });
}
