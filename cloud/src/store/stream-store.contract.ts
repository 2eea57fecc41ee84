// The StreamStore contract suite: what every backend (SQLite now, NATS JetStream later) must do, tested only
// through the interface. A backend's test file calls describeStreamStoreContract with a factory.
// Test-only: imports vitest and fast-check.
import fc from 'fast-check';
import { afterEach, describe, expect, it } from 'vitest';
import type { AppendItem, AppendOutcome, StreamRecord, StreamStore } from './stream-store.js';

export interface StreamStoreFixture {
  /** A started store over fresh, empty storage. */
  store: StreamStore;
  /**
   * Closes the current instance (as a clean shutdown would) and returns a new, started instance over the same
   * storage. Absent when the backend cannot be reopened; the persistence tests are then skipped.
   */
  reopen?: () => Promise<StreamStore>;
  /** Stops whatever instance is open and deletes the storage. */
  cleanup: () => Promise<void>;
}

/** Stream ids are 16 bytes; a few fixed ones keep failures readable. */
export function streamIdOf(n: number): Uint8Array {
  const id = new Uint8Array(16);
  id[0] = 0xa5;
  id[15] = n & 0xff;
  id[14] = (n >> 8) & 0xff;
  return id;
}

/** An append item whose payload encodes its identity, so a stored record can be checked against it. */
export function item(deviceId: string, stream: number, seq: number, receivedMs = 1_764_000_000_000): AppendItem {
  return {
    deviceId,
    streamId: streamIdOf(stream),
    seq,
    receivedMs,
    readings: 1,
    payload: new TextEncoder().encode(`${deviceId}/${stream}/${seq}`),
  };
}

function identity(r: { deviceId: string; streamId: Uint8Array; seq: number }): string {
  return `${r.deviceId}/${Buffer.from(r.streamId).toString('hex')}/${r.seq}`;
}

async function readAll(store: StreamStore, page = 1000): Promise<StreamRecord[]> {
  const out: StreamRecord[] = [];
  for (let from = 1; ; ) {
    const got = await store.read(from, page);
    out.push(...got);
    if (got.length < page) return out;
    from = got[got.length - 1]!.offset + 1;
  }
}

export function describeStreamStoreContract(
  name: string,
  make: () => Promise<StreamStoreFixture>,
): void {
  describe(`StreamStore contract: ${name}`, () => {
    let fixture: StreamStoreFixture | undefined;
    const open = async (): Promise<StreamStoreFixture> => {
      fixture = await make();
      return fixture;
    };
    afterEach(async () => {
      await fixture?.cleanup();
      fixture = undefined;
    });

    it('starts empty: endOffset 1, nothing to read', async () => {
      const { store } = await open();
      expect(await store.endOffset()).toBe(1);
      expect(await store.read(1, 10)).toEqual([]);
      expect(await store.append([])).toEqual([]);
      expect(await store.endOffset()).toBe(1);
    });

    it('accepts a batch once and reports every later copy as duplicate', async () => {
      const { store } = await open();
      expect(await store.append([item('press-07', 1, 1)])).toEqual(['ok']);
      expect(await store.append([item('press-07', 1, 1)])).toEqual(['duplicate']);
      expect(await store.append([item('press-07', 1, 1)])).toEqual(['duplicate']);
      const all = await readAll(store);
      expect(all).toHaveLength(1);
      expect(all[0]!.deviceId).toBe('press-07');
      expect(Array.from(all[0]!.streamId)).toEqual(Array.from(streamIdOf(1)));
      expect(all[0]!.seq).toBe(1);
      expect(all[0]!.receivedMs).toBe(1_764_000_000_000);
      expect(new TextDecoder().decode(all[0]!.payload)).toBe('press-07/1/1');
    });

    it('dedups within one append call, keeping outcomes in item order', async () => {
      const { store } = await open();
      const out = await store.append([item('d', 1, 1), item('d', 1, 2), item('d', 1, 1), item('d', 1, 2), item('d', 1, 3)]);
      expect(out).toEqual(['ok', 'ok', 'duplicate', 'duplicate', 'ok']);
      expect((await readAll(store)).map((r) => r.seq)).toEqual([1, 2, 3]);
    });

    it('dedups out-of-order seqs: 3,1,2 then 1,2,3 again are all duplicates', async () => {
      const { store } = await open();
      expect(await store.append([item('d', 1, 3)])).toEqual(['ok']);
      expect(await store.append([item('d', 1, 1), item('d', 1, 2)])).toEqual(['ok', 'ok']);
      expect(await store.append([item('d', 1, 1)])).toEqual(['duplicate']);
      expect(await store.append([item('d', 1, 2), item('d', 1, 3)])).toEqual(['duplicate', 'duplicate']);
      // A gap left open stays open: 5 arrives before 4, then 4 is still new.
      expect(await store.append([item('d', 1, 5), item('d', 1, 4), item('d', 1, 5)])).toEqual(['ok', 'ok', 'duplicate']);
      expect((await readAll(store)).map((r) => r.seq)).toEqual([3, 1, 2, 5, 4]);
    });

    it('keeps different streams and devices independent', async () => {
      const { store } = await open();
      const out = await store.append([item('a', 1, 1), item('a', 2, 1), item('b', 1, 1), item('b', 2, 1)]);
      expect(out).toEqual(['ok', 'ok', 'ok', 'ok']);
      expect(await store.append([item('a', 1, 1), item('a', 2, 1), item('b', 1, 1), item('b', 2, 1), item('c', 1, 1)])).toEqual([
        'duplicate',
        'duplicate',
        'duplicate',
        'duplicate',
        'ok',
      ]);
      // A stream id that differs only in one byte is another stream.
      const near = { ...item('a', 1, 1), streamId: Uint8Array.from(streamIdOf(1)).fill(7, 3, 4) };
      expect(await store.append([near])).toEqual(['ok']);
      expect(await readAll(store)).toHaveLength(6);
    });

    it('takes the stream id by value: a view into a larger buffer is the same id', async () => {
      const { store } = await open();
      const big = new Uint8Array(40);
      big.set(streamIdOf(9), 12);
      const view = big.subarray(12, 28);
      expect(await store.append([{ ...item('d', 9, 1), streamId: view }])).toEqual(['ok']);
      big.fill(0); // mutating the caller's buffer afterwards must not matter
      expect(await store.append([item('d', 9, 1)])).toEqual(['duplicate']);
      const [rec] = await readAll(store);
      expect(Array.from(rec!.streamId)).toEqual(Array.from(streamIdOf(9)));
    });

    it('gives dense ascending offsets from 1 and pages with read(from, limit)', async () => {
      const { store } = await open();
      for (let seq = 1; seq <= 25; seq += 5) {
        const items = [0, 1, 2, 3, 4].map((i) => item('d', 1, seq + i));
        expect(await store.append([...items, items[0]!])).toEqual(['ok', 'ok', 'ok', 'ok', 'ok', 'duplicate']);
      }
      expect(await store.endOffset()).toBe(26);
      const all = await readAll(store, 7);
      expect(all.map((r) => r.offset)).toEqual([...Array(25).keys()].map((i) => i + 1));
      expect(all.map((r) => r.seq)).toEqual([...Array(25).keys()].map((i) => i + 1));

      expect((await store.read(10, 3)).map((r) => r.offset)).toEqual([10, 11, 12]);
      expect((await store.read(24, 100)).map((r) => r.offset)).toEqual([24, 25]);
      expect(await store.read(26, 100)).toEqual([]);
      expect(await store.read(1000, 100)).toEqual([]);
      expect((await store.read(1, 1)).map((r) => r.offset)).toEqual([1]);
    });

    it('endOffset is the offset the next appended record gets', async () => {
      const { store } = await open();
      for (let seq = 1; seq <= 4; seq++) {
        const next = await store.endOffset();
        await store.append([item('d', 1, seq)]);
        const [rec] = await store.read(next, 1);
        expect(rec?.seq).toBe(seq);
        expect(rec?.offset).toBe(next);
      }
      await store.append([item('d', 1, 2)]); // a duplicate takes no offset
      expect(await store.endOffset()).toBe(5);
    });

    it('keeps dead letters apart from the stream', async () => {
      const { store } = await open();
      await store.append([item('d', 1, 1)]);
      await store.deadLetter({ deviceId: 'd', reason: 'bad batch', receivedMs: 1, payload: new Uint8Array([1, 2, 3]) });
      await store.deadLetter({ deviceId: null, reason: 'no identity', receivedMs: 2, payload: new Uint8Array() });
      expect(await store.endOffset()).toBe(2);
      expect(await readAll(store)).toHaveLength(1);
      expect(await store.append([item('d', 1, 2)])).toEqual(['ok']);
    });

    it('after reopening still dedups everything ever stored and keeps offsets', async (ctx) => {
      const f = await open();
      if (!f.reopen) return ctx.skip();
      let store = f.store;
      // In order, out of order with a gap, several streams and devices.
      await store.append([item('a', 1, 1), item('a', 1, 2), item('a', 1, 3)]);
      await store.append([item('a', 2, 7), item('a', 2, 2), item('b', 1, 1)]);
      const before = await readAll(store);
      store = await f.reopen();
      expect(await readAll(store)).toEqual(before);
      expect(await store.endOffset()).toBe(7);
      const again = [item('a', 1, 1), item('a', 1, 2), item('a', 1, 3), item('a', 2, 7), item('a', 2, 2), item('b', 1, 1)];
      expect(await store.append(again)).toEqual(again.map(() => 'duplicate'));
      // The gaps (a/2: 1, 3..6) are still open, and new records continue the offsets.
      expect(await store.append([item('a', 2, 1), item('a', 2, 4), item('a', 1, 4)])).toEqual(['ok', 'ok', 'ok']);
      expect((await store.read(7, 10)).map((r) => [r.offset, r.seq])).toEqual([
        [7, 1],
        [8, 4],
        [9, 4],
      ]);
      store = await f.reopen();
      expect(await store.append([...again, item('a', 2, 1), item('a', 2, 4), item('a', 1, 4)])).toEqual(Array(9).fill('duplicate'));
      expect(await store.endOffset()).toBe(10);
    });

    // Identities drawn from a small space so repeats are common; appends split into calls at random.
    const identityArb = fc.record({
      device: fc.constantFrom('press-07', 'press-08', 'van.3'),
      stream: fc.integer({ min: 1, max: 3 }),
      seq: fc.integer({ min: 1, max: 12 }),
    });
    const callsArb = fc.array(fc.array(identityArb, { minLength: 0, maxLength: 8 }), { minLength: 1, maxLength: 12 });

    it('property: stores each distinct identity exactly once; ok exactly for first occurrences', async () => {
      await fc.assert(
        fc.asyncProperty(callsArb, fc.boolean(), async (calls, reopenMidway) => {
          const f = await make();
          try {
            let store = f.store;
            const seen = new Set<string>();
            const firsts: string[] = [];
            for (let c = 0; c < calls.length; c++) {
              if (reopenMidway && f.reopen && c === Math.floor(calls.length / 2)) store = await f.reopen();
              const items = calls[c]!.map((x) => item(x.device, x.stream, x.seq));
              const expected: AppendOutcome[] = items.map((it) => {
                const id = identity(it);
                if (seen.has(id)) return 'duplicate';
                seen.add(id);
                firsts.push(id);
                return 'ok';
              });
              expect(await store.append(items)).toEqual(expected);
            }
            const all = await readAll(store, 5);
            // Stored in first-occurrence order, each once, dense offsets, payload intact.
            expect(all.map(identity)).toEqual(firsts);
            expect(all.map((r) => r.offset)).toEqual(firsts.map((_, i) => i + 1));
            for (const r of all) expect(new TextDecoder().decode(r.payload)).toBe(`${r.deviceId}/${r.streamId[15]! + (r.streamId[14]! << 8)}/${r.seq}`);
            expect(await store.endOffset()).toBe(firsts.length + 1);
          } finally {
            await f.cleanup();
          }
        }),
        { numRuns: 40 },
      );
    }, 120_000);
  });
}
