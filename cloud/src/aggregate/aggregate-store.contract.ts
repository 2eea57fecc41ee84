// The AggregateStore contract suite: what every backend (SQLite, PostgreSQL) must do, tested only through
// the interface. A backend's test file calls describeAggregateStoreContract with a factory.
// Test-only: imports vitest and fast-check.
import fc from 'fast-check';
import { afterEach, describe, expect, it } from 'vitest';
import { bucketKey, type AggregateCommit, type AggregateStore, type BucketKey, type BucketRecord, type SensorDelta } from './aggregate-store.js';
import type { BucketStats } from './bucket-stats.js';

export interface AggregateStoreFixture {
  /** A started store over fresh, empty storage. */
  store: AggregateStore;
  /** Stops the current instance (a clean shutdown) and returns a new, started one over the same storage. */
  reopen: () => Promise<AggregateStore>;
  /** Stops whatever instance is open and deletes the storage. */
  cleanup: () => Promise<void>;
  /** SQLite's REAL storage turns -0.0 into 0; a backend that keeps the sign says so. */
  keepsNegativeZero: boolean;
}

const T = Date.UTC(2026, 10, 27); // a UTC day boundary
const M = 60_000;

export function stats(seed: number, over: Partial<BucketStats> = {}): BucketStats {
  return { count: 1 + (seed % 7), sum: seed * 1.5, min: 0 - seed, max: seed + 0.25, mean: seed / 3, m2: seed / 7, firstTs: T + seed, first: seed / 11, lastTs: T + seed + 5, last: seed / 13, ...over };
}

export function rec(device: string, sensor: string, resolution: string, start: number, seed = 1, revision = 0): BucketRecord {
  return { device, sensor, resolution, start, stats: stats(seed), revision };
}

export function commitOf(offset: number, c: Partial<Omit<AggregateCommit, 'offset'>> = {}): AggregateCommit {
  return { offset, buckets: [], watermarks: new Map(), sensors: [], unaggregated: new Map(), ...c };
}

/** One catalogue delta per series of `buckets` (the aggregator never writes a bucket without one). */
export function catalogueOf(buckets: readonly BucketRecord[]): SensorDelta[] {
  const out = new Map<string, SensorDelta>();
  for (const b of buckets) out.set(`${b.device}\u0000${b.sensor}`, { device: b.device, sensor: b.sensor, firstTs: b.start, lastTs: b.start, readings: 1 });
  return [...out.values()];
}

/** Every bucket of one series, oldest first, through queryBuckets (unbounded range). */
export async function series(store: AggregateStore, device: string, sensor: string, resolution: string): Promise<BucketRecord[]> {
  return store.queryBuckets({ device, sensor, resolution, from: -Infinity, to: Infinity, limit: 1_000_000 });
}

/** Everything the interface can tell about a store, for given keys and devices. */
async function snapshot(store: AggregateStore, keys: readonly BucketKey[], devices: readonly string[]) {
  const buckets = await store.getBuckets(keys);
  return {
    checkpoint: await store.checkpoint(),
    buckets: [...buckets.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)),
    watermarks: [...(await store.getWatermarks(devices))].sort(),
    sensors: await Promise.all(devices.map((d) => store.sensors(d))),
    unaggregated: await store.unaggregated(),
  };
}

export function describeAggregateStoreContract(name: string, make: () => Promise<AggregateStoreFixture>): void {
  describe(`AggregateStore contract: ${name}`, () => {
    let fixture: AggregateStoreFixture | undefined;
    const open = async (): Promise<AggregateStoreFixture> => (fixture = await make());
    afterEach(async () => {
      await fixture?.cleanup();
      fixture = undefined;
    });

    it('starts empty: checkpoint 1, no buckets, watermarks, sensors or tallies', async () => {
      const { store } = await open();
      expect(await store.checkpoint()).toBe(1);
      expect(await store.getBuckets([])).toEqual(new Map());
      expect(await store.getBuckets([{ device: 'd', sensor: 's', resolution: '1m', start: T }])).toEqual(new Map());
      expect(await store.getWatermarks([])).toEqual(new Map());
      expect(await store.getWatermarks(['d'])).toEqual(new Map());
      expect(await store.watermark('d')).toBeUndefined();
      expect(await store.sensors('d')).toEqual([]);
      expect(await store.unaggregated()).toEqual({});
      expect(await series(store, 'd', 's', '1m')).toEqual([]);
      expect(await store.deleteBucketsBefore('1m', Infinity, 100)).toBe(0);
    });

    it('commit writes buckets, watermarks, sensors, the tally and the checkpoint; an empty commit moves only the checkpoint', async () => {
      const { store } = await open();
      const a = rec('press-07', 'temp_c', '1m', T, 3, 2);
      const b = rec('press-07', 'temp_c', '1h', T, 4);
      await store.commit(
        commitOf(42, {
          buckets: [a, b],
          watermarks: new Map([['press-07', T + 99]]),
          sensors: [{ device: 'press-07', sensor: 'temp_c', firstTs: T + 1, lastTs: T + 99, readings: 7 }],
          unaggregated: new Map([['clock_unsynced', 3], ['undecodable', 0]]),
        }),
      );
      expect(await store.checkpoint()).toBe(42);
      expect(await store.getBuckets([a, b])).toEqual(new Map([[bucketKey(a), a], [bucketKey(b), b]]));
      expect(await store.watermark('press-07')).toBe(T + 99);
      expect(await store.sensors('press-07')).toEqual([
        { name: 'temp_c', first_seen: new Date(T + 1).toISOString(), last_seen: new Date(T + 99).toISOString(), readings: 7 },
      ]);
      expect(await store.unaggregated()).toEqual({ clock_unsynced: 3, undecodable: 0 });
      await store.commit(commitOf(43));
      expect(await store.checkpoint()).toBe(43);
      expect(await series(store, 'press-07', 'temp_c', '1m')).toEqual([a]);
    });

    it('fences a commit on expectedOffset: a stale writer changes nothing; a partition never committed is at 1', async () => {
      const { store } = await open();
      const a = rec('press-07', 'temp_c', '1m', T, 1);
      await store.commit({ ...commitOf(10, { buckets: [a] }), partition: 2, expectedOffset: 1 });
      expect(await store.checkpoint(2)).toBe(10);
      // A second writer that also read from 1 comes late: refused, nothing of it written.
      const b = rec('press-07', 'temp_c', '1m', T + 60_000, 2);
      await expect(
        store.commit({ ...commitOf(12, { buckets: [b], watermarks: new Map([['press-07', T + 99_999]]) }), partition: 2, expectedOffset: 1 }),
      ).rejects.toThrow(/partition 2's checkpoint is 10, not 1: another writer committed/);
      expect(await store.checkpoint(2)).toBe(10);
      expect(await series(store, 'press-07', 'temp_c', '1m')).toEqual([a]);
      expect(await store.watermark('press-07')).toBeUndefined();
      // The writer that is up to date goes on.
      await store.commit({ ...commitOf(11, { buckets: [b] }), partition: 2, expectedOffset: 10 });
      expect(await store.checkpoint(2)).toBe(11);
      expect(await store.checkpoint(0)).toBe(1); // other partitions untouched
    });

    it('keeps one checkpoint per stream partition; a partition never committed reads 1', async () => {
      const { store } = await open();
      expect(await store.checkpoints()).toEqual(new Map());
      await store.commit({ ...commitOf(17), partition: 3 });
      await store.commit(commitOf(5)); // partition 0 by default
      await store.commit({ ...commitOf(9), partition: 1 });
      await store.commit({ ...commitOf(21), partition: 3 });
      expect(await store.checkpoint(3)).toBe(21);
      expect(await store.checkpoint(1)).toBe(9);
      expect(await store.checkpoint(0)).toBe(5);
      expect(await store.checkpoint()).toBe(5);
      expect(await store.checkpoint(2)).toBe(1);
      expect(await store.checkpoints()).toEqual(new Map([[0, 5], [1, 9], [3, 21]]));
    });

    it('a later commit replaces a bucket (stats and revision) and adds to the tally', async () => {
      const { store } = await open();
      await store.commit(commitOf(2, { buckets: [rec('d', 's', '1m', T, 1)], unaggregated: new Map([['future_timestamp', 2]]) }));
      const newer = rec('d', 's', '1m', T, 9, 4);
      await store.commit(commitOf(3, { buckets: [newer], unaggregated: new Map([['future_timestamp', 5], ['clock_unsynced', 1]]) }));
      expect(await series(store, 'd', 's', '1m')).toEqual([newer]);
      expect(await store.unaggregated()).toEqual({ clock_unsynced: 1, future_timestamp: 7 });
    });

    it('getBuckets returns exactly the present keys; every key part counts', async () => {
      const { store } = await open();
      const stored = [rec('a', 's', '1m', T), rec('a.b', 's', '1m', T, 2), rec('a', 's', '1h', T, 3), rec('a', 's2', '1m', T, 4), rec('a', 's', '1m', T + M, 5)];
      await store.commit(commitOf(2, { buckets: stored }));
      const absent: BucketKey[] = [
        { device: 'A', sensor: 's', resolution: '1m', start: T },
        { device: 'a', sensor: 's', resolution: '1d', start: T },
        { device: 'a', sensor: 's', resolution: '1m', start: T + 1 },
        { device: 'a.', sensor: 's', resolution: '1m', start: T },
      ];
      const got = await store.getBuckets([...absent, ...stored, stored[0]!]);
      expect(got).toEqual(new Map(stored.map((r) => [bucketKey(r), r])));
    });

    it('getBuckets and commit handle many keys at once (more than one load slice)', async () => {
      const { store } = await open();
      const many = Array.from({ length: 10_050 }, (_, i) => rec(`dev-${i % 50}`, 'x', '1m', T + i * M, i));
      await store.commit(commitOf(2, { buckets: many }));
      const probe = [...many, ...many.slice(0, 100).map((r) => ({ ...r, resolution: '1h' }))];
      const got = await store.getBuckets(probe);
      expect(got.size).toBe(many.length);
      expect(got.get(bucketKey(many[10_049]!))).toEqual(many[10_049]);
    });

    it('round-trips stats exactly: awkward doubles, infinities, large integers, times before the epoch', async () => {
      const f = await open();
      const tricky: BucketRecord[] = [
        { ...rec('d', 'f', '1m', -M), stats: { count: 2 ** 53 - 1, sum: 0.1 + 0.2, min: -Number.MAX_VALUE, max: Number.MAX_VALUE, mean: 1 / 3, m2: Infinity, firstTs: -M, first: 5e-324, lastTs: -1, last: -5e-324 }, revision: 2 ** 40 },
        { ...rec('d', 'f', '1m', 0), stats: { count: 1, sum: 1e-300, min: -1e-300, max: 2 ** 53 + 2, mean: Math.PI, m2: 0, firstTs: 0, first: -1e308, lastTs: 59_999, last: 123456789.123456789 }, revision: 0 },
        { ...rec('d', 'f', '1m', 8.64e15 - M), stats: { count: 3, sum: -Infinity, min: -Infinity, max: Infinity, mean: 2.220446049250313e-16, m2: 1.7976931348623157e308, firstTs: 8.64e15 - M, first: 0.30000000000000004, lastTs: 8.64e15 - 1, last: 9007199254740993 }, revision: 1 },
      ];
      const zero = { ...rec('d', 'z', '1m', T), stats: stats(1, { min: -0, first: -0, last: -0, sum: -0 }) };
      await f.store.commit(commitOf(2 ** 53 - 1, { buckets: [...tricky, zero], watermarks: new Map([['d', 8.64e15]]) }));
      for (const reopen of [false, true]) {
        const store = reopen ? await f.reopen() : f.store;
        const byKey = await store.getBuckets([...tricky, zero]);
        for (const r of tricky) expect(byKey.get(bucketKey(r))).toStrictEqual(r);
        expect(await series(store, 'd', 'f', '1m')).toStrictEqual(tricky);
        expect(await store.checkpoint()).toBe(2 ** 53 - 1);
        expect(await store.watermark('d')).toBe(8.64e15);
        const z = byKey.get(bucketKey(zero))!.stats;
        for (const v of [z.min, z.first, z.last, z.sum]) {
          expect(v === 0).toBe(true); // -0 kept, or (SQLite) stored as 0
          expect(Object.is(v, -0)).toBe(f.keepsNegativeZero);
        }
      }
    });

    it('a watermark never moves back', async () => {
      const { store } = await open();
      await store.commit(commitOf(2, { watermarks: new Map([['a', T + 100], ['b', T]]) }));
      await store.commit(commitOf(3, { watermarks: new Map([['a', T + 50], ['b', T + 1]]) }));
      expect(await store.getWatermarks(['a', 'b', 'c'])).toEqual(new Map([['a', T + 100], ['b', T + 1]]));
      await store.commit(commitOf(4, { watermarks: new Map([['a', T + 200]]) }));
      expect(await store.watermark('a')).toBe(T + 200);
    });

    it('the sensor catalogue merges deltas: first = min, last = max, readings summed; sorted by name bytewise', async () => {
      const { store } = await open();
      const names = ['temp_c', 'Temp', 'a.b', 'a_b', 'a-b', 'Z9', 'rpm', '0x'];
      await store.commit(commitOf(2, { sensors: names.map((sensor, i) => ({ device: 'd', sensor, firstTs: T + 10 + i, lastTs: T + 20, readings: 3 })) }));
      await store.commit(
        commitOf(3, {
          sensors: [
            { device: 'd', sensor: 'temp_c', firstTs: T + 5, lastTs: T + 15, readings: 2 },
            { device: 'd', sensor: 'rpm', firstTs: T + 12, lastTs: T + 30, readings: 2 ** 52 },
            { device: 'e', sensor: 'temp_c', firstTs: T, lastTs: T, readings: 1 },
          ],
        }),
      );
      const rows = await store.sensors('d');
      expect(rows.map((r) => r.name)).toEqual([...names].sort());
      const iso = (ms: number) => new Date(ms).toISOString();
      expect(rows.find((r) => r.name === 'temp_c')).toEqual({ name: 'temp_c', first_seen: iso(T + 5), last_seen: iso(T + 20), readings: 5 });
      expect(rows.find((r) => r.name === 'rpm')).toEqual({ name: 'rpm', first_seen: iso(T + 12), last_seen: iso(T + 30), readings: 2 ** 52 + 3 });
      expect(await store.sensors('e')).toEqual([{ name: 'temp_c', first_seen: iso(T), last_seen: iso(T), readings: 1 }]);
    });

    it('queryBuckets: starts in [from, to), oldest first, one series only, limit and `after` paging', async () => {
      const { store } = await open();
      const mine = Array.from({ length: 10 }, (_, i) => rec('d', 's', '1m', T + i * M, i));
      const others = [rec('d', 's', '1h', T), rec('d', 't', '1m', T + M), rec('e', 's', '1m', T + 2 * M)];
      await store.commit(commitOf(2, { buckets: [...mine.slice(5), ...others, ...mine.slice(0, 5)].reverse() }));
      const q = (from: number, to: number, limit = 100, after?: number) =>
        store.queryBuckets({ device: 'd', sensor: 's', resolution: '1m', from, to, limit, ...(after !== undefined ? { after } : {}) });
      expect(await q(T + 2 * M, T + 5 * M)).toEqual(mine.slice(2, 5));
      expect(await q(T + 2 * M - 1, T + 5 * M + 1)).toEqual(mine.slice(2, 6));
      expect(await q(T + 5 * M, T + 5 * M)).toEqual([]);
      expect(await q(-Infinity, Infinity)).toEqual(mine);
      expect(await q(T, T + 10 * M, 3)).toEqual(mine.slice(0, 3));
      expect(await q(T, T + 10 * M, 0)).toEqual([]);
      expect(await q(T + 4 * M, T + 10 * M, 100, T)).toEqual(mine.slice(4)); // from beats an older `after`
      const pages: BucketRecord[][] = [];
      for (let after: number | undefined; ; ) {
        const page = await q(T + M, T + 9 * M, 3, after);
        if (page.length === 0) break;
        pages.push(page);
        after = page[page.length - 1]!.start;
      }
      expect(pages.map((p) => p.length)).toEqual([3, 3, 2]);
      expect(pages.flat()).toEqual(mine.slice(1, 9));
    });

    it('deleteBucketsBefore removes only its resolution, strictly before the bound, for every series, at most `limit` a call', async () => {
      const { store } = await open();
      const all = [
        rec('d', 's', '1m', T - M),
        rec('d', 's', '1m', T),
        rec('e', 'x', '1m', T - 2 * M),
        rec('e', 'x', '1m', T - 3 * M),
        rec('e', 'y', '1m', T - 3 * M),
        rec('d', 's', '1h', T - 3_600_000),
        rec('d', 's', '1d', T - 86_400_000),
      ];
      // As the aggregator does, every bucket's series is in the sensor catalogue (a store may rely on it).
      await store.commit(commitOf(2, { buckets: all, watermarks: new Map([['d', T]]), sensors: catalogueOf(all) }));
      expect(await store.deleteBucketsBefore('1m', T, 3)).toBe(3);
      expect(await store.deleteBucketsBefore('1m', T, 3)).toBe(1);
      expect(await store.deleteBucketsBefore('1m', T, 3)).toBe(0);
      expect([...(await store.getBuckets(all)).values()]).toEqual([all[1], all[5], all[6]]);
      expect(await store.deleteBucketsBefore('1d', T - 86_400_000, 10)).toBe(0);
      expect(await store.deleteBucketsBefore('1d', T - 86_400_000 + 1, 10)).toBe(1);
      expect(await store.checkpoint()).toBe(2);
      expect(await store.watermark('d')).toBe(T);
      expect((await store.sensors('e')).map((r) => r.name)).toEqual(['x', 'y']);
    });

    for (const [what, spoil] of [
      ['its checkpoint (written last)', (c: AggregateCommit) => ({ ...c, offset: NaN })],
      ['a bucket midway', (c: AggregateCommit) => ({ ...c, buckets: c.buckets.map((b, i) => (i === 30 ? { ...b, stats: { ...b.stats, count: 1.5 } } : b)) })],
      ['a watermark', (c: AggregateCommit) => ({ ...c, watermarks: new Map([...c.watermarks, ['zz', NaN]]) })],
    ] as const) {
      it(`a commit that fails on ${what} leaves nothing of itself, and the store keeps working`, async () => {
        const { store } = await open();
        const first = rec('d', 's', '1m', T, 1);
        await store.commit(commitOf(5, { buckets: [first], watermarks: new Map([['d', T]]), sensors: [{ device: 'd', sensor: 's', firstTs: T, lastTs: T, readings: 1 }], unaggregated: new Map([['r', 1]]) }));
        const buckets = Array.from({ length: 50 }, (_, i) => rec('d', 's', '1m', T + i * M, i + 7, 1));
        const good = commitOf(9, {
          buckets,
          watermarks: new Map([['d', T + 50 * M], ['e', T]]),
          sensors: [{ device: 'd', sensor: 's', firstTs: T - 1, lastTs: T + 50 * M, readings: 50 }],
          unaggregated: new Map([['r', 2], ['q', 1]]),
        });
        const keys = [...buckets, rec('d', 's', '1m', T)];
        const before = await snapshot(store, keys, ['d', 'e', 'zz']);
        await expect(store.commit(spoil(good))).rejects.toThrow();
        expect(await snapshot(store, keys, ['d', 'e', 'zz'])).toEqual(before);
        await store.commit(good);
        expect(await store.checkpoint()).toBe(9);
        expect(await series(store, 'd', 's', '1m')).toEqual(buckets);
        expect(await store.unaggregated()).toEqual({ q: 1, r: 3 });
      });
    }

    it('a restart keeps everything, and commits continue from there', async () => {
      const f = await open();
      const b = [rec('d', 's', '1m', T, 1, 3), rec('d', 's', '1h', T, 2)];
      const c = commitOf(77, { buckets: b, watermarks: new Map([['d', T + 5]]), sensors: [{ device: 'd', sensor: 's', firstTs: T, lastTs: T + 5, readings: 2 }], unaggregated: new Map([['r', 4]]) });
      await f.store.commit(c);
      const before = await snapshot(f.store, b, ['d']);
      let store = await f.reopen();
      expect(await snapshot(store, b, ['d'])).toEqual(before);
      await store.commit(commitOf(78, { unaggregated: new Map([['r', 1]]) }));
      store = await f.reopen();
      expect(await store.checkpoint()).toBe(78);
      expect(await store.unaggregated()).toEqual({ r: 5 });
    });

    // Model-based: random commits and retention deletes against a plain in-memory model.
    const doubleArb = fc.double({ noNaN: true }).map((x) => (x === 0 ? 0 : x)); // -0 → 0 (see keepsNegativeZero)
    const statsArb = fc.record({
      count: fc.integer({ min: 1, max: 2 ** 40 }), sum: doubleArb, min: doubleArb, max: doubleArb, mean: doubleArb, m2: doubleArb,
      firstTs: fc.integer({ min: -1e13, max: 1e13 }), first: doubleArb, lastTs: fc.integer({ min: -1e13, max: 1e13 }), last: doubleArb,
    });
    const keyArb = fc.record({ device: fc.constantFrom('a', 'b.2'), sensor: fc.constantFrom('x', 'Y'), resolution: fc.constantFrom('1m', '1h'), start: fc.integer({ min: -3, max: 5 }).map((i) => T + i * M) });
    const opArb = fc.oneof(
      { weight: 4, arbitrary: fc.record({ kind: fc.constant('commit' as const), buckets: fc.array(fc.record({ key: keyArb, stats: statsArb, revision: fc.nat() }), { maxLength: 6 }), wm: fc.array(fc.tuple(fc.constantFrom('a', 'b.2', 'c'), fc.integer({ min: T - 1e9, max: T + 1e9 })), { maxLength: 3 }), tally: fc.array(fc.tuple(fc.constantFrom('r1', 'r2'), fc.nat(1000)), { maxLength: 2 }) }) },
      { weight: 1, arbitrary: fc.record({ kind: fc.constant('delete' as const), resolution: fc.constantFrom('1m', '1h'), before: fc.integer({ min: -3, max: 6 }).map((i) => T + i * M), limit: fc.integer({ min: 1, max: 4 }) }) },
      { weight: 1, arbitrary: fc.constant({ kind: 'reopen' as const }) },
    );

    it('property: any sequence of commits, deletes and restarts reads back as the model', async () => {
      await fc.assert(
        fc.asyncProperty(fc.array(opArb, { maxLength: 12 }), async (ops) => {
          const f = await make();
          try {
            let store = f.store;
            const buckets = new Map<string, BucketRecord>();
            const wms = new Map<string, number>();
            const tally: Record<string, number> = {};
            let offset = 1;
            for (const op of ops) {
              if (op.kind === 'reopen') store = await f.reopen();
              else if (op.kind === 'delete') {
                const doomed = [...buckets].filter(([, b]) => b.resolution === op.resolution && b.start < op.before);
                let deleted = 0;
                for (let n = op.limit; n === op.limit; deleted += n) n = await store.deleteBucketsBefore(op.resolution, op.before, op.limit);
                expect(deleted).toBe(doomed.length);
                for (const [k] of doomed) buckets.delete(k);
              } else {
                const recs = [...new Map(op.buckets.map((b) => [bucketKey(b.key), { ...b.key, stats: { ...b.stats }, revision: b.revision }])).values()];
                const wm = new Map(op.wm);
                const un = new Map(op.tally);
                offset += 1 + recs.length;
                await store.commit(commitOf(offset, { buckets: recs, watermarks: wm, unaggregated: un, sensors: catalogueOf(recs) }));
                for (const r of recs) buckets.set(bucketKey(r), r);
                for (const [d, w] of wm) wms.set(d, Math.max(wms.get(d) ?? -Infinity, w));
                for (const [r, n] of un) tally[r] = (tally[r] ?? 0) + n;
              }
            }
            expect(await store.checkpoint()).toBe(offset);
            expect(await store.getWatermarks(['a', 'b.2', 'c'])).toEqual(wms);
            expect(await store.unaggregated()).toEqual(tally);
            for (const d of ['a', 'b.2']) for (const s of ['x', 'Y']) for (const r of ['1m', '1h']) {
              const want = [...buckets.values()].filter((b) => b.device === d && b.sensor === s && b.resolution === r).sort((x, y) => x.start - y.start);
              expect(await series(store, d, s, r)).toStrictEqual(want);
            }
          } finally {
            await f.cleanup();
          }
        }),
        { numRuns: 30 },
      );
    }, 120_000);
  });
}
