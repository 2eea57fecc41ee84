// The api-only role's source of live updates, on real SQLite files shared with an aggregator as a separate
// process would: it must publish every bucket each commit changed, in its committed state (equal to what
// the aggregator itself announced), nothing for readings the aggregator skipped, and a gap — not silence —
// when records vanished before it read them or the aggregates were rebuilt.
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { encodeBatch } from '@tidemark/proto';
import { createLogger, MetricsRegistry } from '@tidemark/shared';
import { waitFor } from '@tidemark/shared/testing';
import { afterEach, describe, expect, it } from 'vitest';
import { bucketKey, type AggregateStore, type BucketRecord } from '../aggregate/aggregate-store.js';
import { Aggregator } from '../aggregate/aggregator.js';
import { SqliteAggregateStore } from '../aggregate/sqlite-aggregate-store.js';
import { SqliteStreamStore } from '../store/sqlite-stream-store.js';
import { StoreFollower } from './store-follower.js';

const MINUTE = 60_000;
const RESOLUTIONS = [
  { label: '1m', ms: MINUTE },
  { label: '1h', ms: 60 * MINUTE },
];
const SKEW = 5 * MINUTE;
const T0 = Date.UTC(2026, 10, 27, 10);
const logger = createLogger({ name: 'follower-test', level: 'silent' });

const cleanup: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanup.splice(0).reverse()) await c();
});

async function setup() {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'tidemark-follow-'));
  cleanup.push(() => fs.rm(dir, { recursive: true, force: true }));
  const open = async <T extends { start(): Promise<void>; stop(): Promise<void> }>(c: T) => {
    await c.start();
    cleanup.push(() => c.stop());
    return c;
  };
  // The aggregator's "process" and the API's each open the files themselves.
  const aggStream = await open(new SqliteStreamStore({ path: path.join(dir, 'stream.db') }));
  const aggStore = await open(new SqliteAggregateStore(path.join(dir, 'aggregates.db')));
  const apiStream = await open(new SqliteStreamStore({ path: path.join(dir, 'stream.db') }));
  const apiStore = await open(new SqliteAggregateStore(path.join(dir, 'aggregates.db')));
  const aggregator = new Aggregator(aggStream, aggStore, { resolutions: RESOLUTIONS, allowedLatenessMs: 5 * MINUTE, maxFutureSkewMs: SKEW, chunkRecords: 2 }, logger, new MetricsRegistry('tidemark_cloud'));
  const announced = new Map<string, BucketRecord>();
  aggregator.onUpdate((updates) => {
    for (const b of updates) announced.set(bucketKey(b), structuredClone(b));
  });
  let seq = 0;
  const append = (device: string, readings: Array<[string, number, number]>, opts: { synced?: boolean; receivedMs?: number } = {}) => {
    const streamId = new Uint8Array(16).fill(7);
    const receivedMs = opts.receivedMs ?? T0 + 30 * MINUTE;
    const payload = encodeBatch({
      deviceId: device,
      streamId,
      seq: ++seq,
      clock: { synced: opts.synced ?? true, anchorWallMs: receivedMs, anchorMonoMs: 1 },
      readings: readings.map(([sensor, ts, value]) => ({ sensor, ts, value })),
    });
    return aggStream.append([{ deviceId: device, streamId, seq, receivedMs, readings: readings.length, payload }]);
  };
  return { aggStream, aggStore, apiStream, apiStore, aggregator, announced, append };
}

function follow(env: Awaited<ReturnType<typeof setup>>, store: AggregateStore = env.apiStore, pollMs = 1_000_000) {
  const follower = new StoreFollower(env.apiStream, store, { resolutions: RESOLUTIONS, maxFutureSkewMs: SKEW, chunkRecords: 3, pollMs }, logger);
  const published = new Map<string, BucketRecord>();
  const watermarks = new Map<string, number>();
  const gaps: string[] = [];
  follower.onUpdate((updates, wm) => {
    for (const b of updates) published.set(bucketKey(b), b);
    for (const [d, w] of wm) watermarks.set(d, w);
  });
  follower.onGap((reason) => gaps.push(reason));
  return { follower, published, watermarks, gaps };
}

describe('StoreFollower', () => {
  it('publishes every bucket the aggregator changed, in the state it committed, and nothing it skipped', async () => {
    const env = await setup();
    const f = follow(env);
    await f.follower.start();
    cleanup.push(() => f.follower.stop());
    await env.append('a', [['t', T0, 1], ['t', T0 + MINUTE, 2], ['p', T0, 5]]);
    await env.append('b', [['t', T0 + 2 * MINUTE, 3]]);
    await env.append('a', [['t', T0, 4]]);
    await env.append('a', [['t', T0 + 3 * MINUTE, 9]], { synced: false }); // not aggregated
    await env.append('b', [['t', T0 + 2 * 3_600_000, 9]]); // beyond max_future_skew: not aggregated
    await env.aggregator.drain();

    expect(await f.follower.poll()).toBe(5);
    expect([...f.published.keys()].sort()).toEqual([...env.announced.keys()].sort());
    for (const [k, b] of f.published) expect(b, k).toEqual(env.announced.get(k));
    expect(f.published.get(bucketKey({ device: 'a', sensor: 't', resolution: '1m', start: T0 }))!.stats.count).toBe(2);
    expect(f.watermarks.get('a')).toBe(T0 + MINUTE);
    expect(f.gaps).toEqual([]);

    // Caught up: nothing more until the aggregator commits again.
    f.published.clear();
    expect(await f.follower.poll()).toBe(0);
    await env.append('b', [['t', T0 + 2 * MINUTE, 1]]);
    expect(await f.follower.poll()).toBe(0); // stored but not yet aggregated
    await env.aggregator.drain();
    expect(await f.follower.poll()).toBe(1);
    expect([...f.published.values()].map((b) => [b.device, b.resolution, b.stats.count])).toEqual([
      ['b', '1m', 2],
      ['b', '1h', 2],
    ]);
  });

  it('decodes nothing while nobody wants updates, and resumes from where the aggregator is then', async () => {
    const env = await setup();
    const f = follow(env);
    let wanted = false;
    f.follower.setDemand(() => wanted);
    await f.follower.start();
    cleanup.push(() => f.follower.stop());
    await env.append('a', [['t', T0, 1]]);
    await env.aggregator.drain();
    expect(await f.follower.poll()).toBe(0);
    wanted = true;
    expect(await f.follower.poll()).toBe(0);
    expect(f.published.size).toBe(0);
    await env.append('a', [['t', T0 + MINUTE, 1]]);
    await env.aggregator.drain();
    expect(await f.follower.poll()).toBe(1);
    expect([...f.published.values()].map((b) => b.start)).toEqual([T0 + MINUTE, T0]);
  });

  it('follows on its own timer once started, and stops cleanly', async () => {
    const env = await setup();
    const f = follow(env, env.apiStore, 10);
    await f.follower.start();
    await env.append('a', [['t', T0, 1]]);
    await env.aggregator.drain();
    await waitFor(() => f.published.size === 2, { description: 'both resolutions published' });
    await f.follower.stop();
  });

  it('reports a gap when records were trimmed before it read them, then carries on', async () => {
    const env = await setup();
    const f = follow(env);
    await f.follower.start();
    cleanup.push(() => f.follower.stop());
    await env.append('a', [['t', T0, 1]]);
    await env.append('a', [['t', T0 + MINUTE, 1]]);
    await env.append('a', [['t', T0 + 2 * MINUTE, 1]]);
    await env.aggregator.drain();
    expect(await env.aggStream.trim({ beforeReceivedMs: Number.MAX_SAFE_INTEGER, belowOffset: 3 })).toBe(2);
    expect(await f.follower.poll()).toBe(1);
    expect(f.gaps).toHaveLength(1);
    expect(f.gaps[0]).toMatch(/trimmed/);
    expect(f.published.has(bucketKey({ device: 'a', sensor: 't', resolution: '1m', start: T0 + 2 * MINUTE }))).toBe(true);
  });

  it('reports a gap when the checkpoint moves back (aggregates rebuilt)', async () => {
    const env = await setup();
    await env.append('a', [['t', T0, 1]]);
    await env.aggregator.drain();
    let rebuilt = false;
    const store = Object.create(env.apiStore) as AggregateStore;
    store.checkpoint = async () => (rebuilt ? 1 : env.apiStore.checkpoint());
    const f = follow(env, store);
    await f.follower.start();
    cleanup.push(() => f.follower.stop());
    rebuilt = true;
    expect(await f.follower.poll()).toBe(0);
    expect(f.gaps).toEqual([expect.stringMatching(/rebuilt/)]);
  });
});
