// Replay on both aggregate backends: a full rebuild equals the live aggregates and switches over atomically,
// keeping the previous store; --from rebuilds only later buckets to the same result; it refuses while an
// aggregator holds the store; and a failed rebuild leaves the live store as it was and nothing behind.
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { createLogger, MetricsRegistry, PermanentError } from '@tidemark/shared';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { SqliteStreamStore } from '../store/sqlite-stream-store.js';
import type { AggregateStore } from './aggregate-store.js';
import { Aggregator } from './aggregator.js';
import { aggregatorGuard, openAggregateStore, type AggregatesConfig } from './open-aggregate-store.js';
import { replayAggregates, type ReplayOptions } from './replay.js';
import { dropSchemas, requirePostgres, schemaPrefix, sql } from './testing/postgres.js';
import { append, batch, DAY, DEVICES, dumpStore, HOUR, LATENESS, MINUTE, RESOLUTIONS, SKEW, T0, type TestBatch } from './testing/aggregator-workload.js';

const logger = createLogger({ name: 'replay-test', level: 'silent' });
const prefix = schemaPrefix();
let schemas = 0;
let pgUrl: string | undefined;
afterAll(async () => {
  if (pgUrl) await dropSchemas(pgUrl, prefix);
});
const cleanup: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const f of cleanup.splice(0).reverse()) await f();
});

interface Backend {
  name: string;
  config: () => Promise<AggregatesConfig>;
  /** Names of what the backend keeps: previous stores and leftovers of a replay. */
  leftovers: (dir: string, config: AggregatesConfig) => Promise<string[]>;
}

const backends: Backend[] = [
  {
    name: 'SQLite',
    config: async () => ({ type: 'sqlite' }),
    leftovers: async (dir) => (await fs.readdir(dir)).filter((f) => f.startsWith('aggregates.db.')).sort(),
  },
  {
    name: 'PostgreSQL',
    // Each PostgreSQL test fails (naming the package) when the server is missing; the SQLite ones still run.
    config: async () => ({ type: 'postgres', url: (pgUrl = await requirePostgres()), schema: `${prefix}_${++schemas}` }),
    leftovers: async (_dir, c) => {
      const live = (c as { schema: string }).schema;
      const rows = await sql<{ n: string }>(pgUrl!, 'SELECT nspname AS n FROM pg_namespace WHERE starts_with(nspname, $1) ORDER BY 1', [`${live}_`]);
      return rows.map((r) => r.n);
    },
  },
];

/** A stream with two devices over three days, late and unsynced readings included (after `before`), aggregated live. */
async function setup(b: Backend, before: TestBatch[] = []) {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'tidemark-replay-'));
  cleanup.push(() => fs.rm(dir, { recursive: true, force: true }));
  const config = await b.config();
  const streamPath = path.join(dir, 'stream.db');
  const sqlitePath = path.join(dir, 'aggregates.db');
  const stream = new SqliteStreamStore({ path: streamPath });
  await stream.start();
  if (before.length > 0) await append(stream, ...before);
  for (let d = 0; d < 3; d++) {
    await append(
      stream,
      batch('press-07', [['temp_c', T0 + d * DAY + HOUR, d], ['temp_c', T0 + d * DAY + HOUR + 30_000, 0.1 + d], ['rpm', T0 + d * DAY + 2 * HOUR, 900]]),
      batch('van.3', [['temp_c', T0 + d * DAY + 3 * HOUR, -d], ['temp_c', T0 + d * DAY + 9 * HOUR, 1e-300]], { stream: 2 }),
      batch('press-07', [['temp_c', T0 + d * DAY + HOUR + 1, 7]]), // late for its minute: a revision
      batch('press-07', [['temp_c', T0 + d * DAY + 5, 1]], { synced: false }),
    );
  }
  const live = openAggregateStore(config, sqlitePath);
  await live.start();
  const agg = new Aggregator(stream, live, { resolutions: RESOLUTIONS, allowedLatenessMs: LATENESS, maxFutureSkewMs: SKEW, chunkRecords: 3 }, logger, new MetricsRegistry('t'));
  await agg.drain();
  const expected = await dumpStore(live);
  await live.stop();
  await stream.stop();
  const options = (over: Partial<ReplayOptions> = {}): ReplayOptions => ({
    streamPath,
    aggregates: config,
    sqlitePath,
    resolutions: RESOLUTIONS,
    allowedLatenessMs: LATENESS,
    maxFutureSkewMs: SKEW,
    logger,
    ...over,
  });
  /** What the live store holds now (opened afresh, as a restarted collector would). */
  const current = async (devices: readonly string[] = DEVICES) => {
    const s: AggregateStore = openAggregateStore(config, sqlitePath);
    await s.start();
    try {
      return await dumpStore(s, devices);
    } finally {
      await s.stop();
    }
  };
  return { dir, config, streamPath, sqlitePath, expected, options, current };
}

describe.each(backends)('replay ($name)', (b) => {
  it('rebuilds everything into a fresh store and switches over, keeping the previous one', async () => {
    const e = await setup(b);
    expect(e.expected.buckets.length).toBeGreaterThan(20);
    const r = await replayAggregates(e.options({ now: () => new Date(Date.UTC(2026, 10, 28, 9, 30)) }));
    expect(r).toMatchObject({ records: 12, from: null, copiedBuckets: 0 });
    expect(await e.current()).toStrictEqual(e.expected);
    const kept = await b.leftovers(e.dir, e.config);
    expect(kept).toEqual([b.name === 'SQLite' ? 'aggregates.db.pre-replay-2026-11-28T09-30-00-000Z' : `${(e.config as { schema: string }).schema}_pre_replay_20261128t093000000z`]);
    expect(r.previous).toContain(kept[0]);
    // Twice in a row: the second keeps the first's result as its previous store.
    await replayAggregates(e.options());
    expect(await e.current()).toStrictEqual(e.expected);
    expect(await b.leftovers(e.dir, e.config)).toHaveLength(2);
  });

  it('--from copies earlier buckets and rebuilds later ones to the same result', async () => {
    const e = await setup(b);
    const r = await replayAggregates(e.options({ from: T0 + DAY + 7 * HOUR + 5 * MINUTE }));
    expect(r.from).toBe(new Date(T0 + DAY).toISOString()); // aligned to the largest resolution
    expect(r.copiedBuckets).toBe(e.expected.buckets.filter((x) => x.start < T0 + DAY).length);
    expect(await e.current()).toStrictEqual(e.expected);
  });

  it('--from on a stream trimmed by retention keeps the live watermarks, catalogue and tally, and folds what came after', async () => {
    // gw-old sent only on day 0; gw_1's highest reading is on day 0, a later record carries an older one.
    const e = await setup(b, [
      batch('gw-old', [['temp_c', T0 + 4 * HOUR, 3]]),
      batch('gw_1', [['door_open', T0 + 23 * HOUR, 1]]),
      batch('gw_1', [['rpm', T0 + 10 * HOUR, 5]], { receivedMs: T0 + DAY + HOUR }),
    ]);
    const devices = [...DEVICES, 'gw-old'];
    const stream = new SqliteStreamStore({ path: e.streamPath });
    await stream.start();
    cleanup.push(() => stream.stop());
    const liveCheckpoint = (await e.current()).checkpoint;
    expect(liveCheckpoint).toBe(await stream.endOffset());
    // Records the live aggregator has not folded yet: replay must count them on top of the live catalogue.
    await append(
      stream,
      batch('press-07', [['temp_c', T0 + 3 * DAY + HOUR, 4], ['rpm', T0 + 3 * DAY + HOUR, 950]]),
      batch('press-07', [['temp_c', T0 + 2 * DAY + HOUR + 2, 8]]), // late: a revision
      batch('van.3', [['temp_c', T0 + 3 * DAY, 5]], { stream: 2, synced: false }),
    );
    // The reference: every record folded from offset 1, before any is trimmed (same backend: SQLite does not keep -0).
    const reference = openAggregateStore(await b.config(), path.join(e.dir, 'reference.db'));
    await reference.start();
    await new Aggregator(stream, reference, { resolutions: RESOLUTIONS, allowedLatenessMs: LATENESS, maxFutureSkewMs: SKEW }, logger, new MetricsRegistry('t')).drain();
    const expected = await dumpStore(reference, devices);
    await reference.stop();
    expect(expected.watermarks.map(([d]) => d)).toContain('gw-old');

    expect(await stream.trim({ beforeReceivedMs: T0 + DAY, belowOffset: liveCheckpoint })).toBe(6);
    expect((await stream.read(1, 1))[0]!.offset).toBe(3);
    const r = await replayAggregates(e.options({ from: T0 + DAY }));
    expect(r.records).toBe((await stream.endOffset()) - 1 - 6);
    expect(await e.current(devices)).toStrictEqual(expected);
  });

  it('refuses a full replay of a stream trimmed down to nothing, which would drop every aggregate', async () => {
    const e = await setup(b);
    const stream = new SqliteStreamStore({ path: e.streamPath });
    await stream.start();
    const end = await stream.endOffset();
    expect(await stream.trim({ beforeReceivedMs: Number.MAX_SAFE_INTEGER, belowOffset: end })).toBe(end - 1);
    expect(await stream.read(1, 10)).toEqual([]);
    await stream.stop();
    await expect(replayAggregates(e.options())).rejects.toThrow(new RegExp(`trimmed by retention \\(it starts at offset ${end}\\)`));
    expect(await e.current()).toStrictEqual(e.expected); // the live store is untouched
  });

  it('applies retention to the rebuilt store, copied buckets included', async () => {
    const e = await setup(b);
    const now = T0 + 3 * DAY;
    const retention = { '1m': DAY, '1h': 2.8 * DAY, '1d': null };
    const horizon: Record<string, number> = { '1m': T0 + 2 * DAY, '1h': T0 + 4 * HOUR, '1d': -Infinity };
    const kept = { ...e.expected, buckets: e.expected.buckets.filter((x) => x.start >= horizon[x.resolution]!) };
    expect(kept.buckets.length).toBeLessThan(e.expected.buckets.length);
    expect(kept.buckets.some((x) => x.resolution === '1h' && x.start < T0 + DAY)).toBe(true);
    const r = await replayAggregates(e.options({ from: T0 + DAY, retention, now: () => new Date(now) }));
    expect(r.copiedBuckets).toBe(e.expected.buckets.filter((x) => x.start < T0 + DAY).length);
    expect(await e.current()).toStrictEqual(kept);
    await replayAggregates(e.options({ retention, now: () => new Date(now + 1) }));
    expect(await e.current()).toStrictEqual(kept);
  });

  it('builds a store from nothing when there is no live store yet', async () => {
    const e = await setup(b);
    const fresh = await b.config(); // a new, never-opened live store (PostgreSQL: another schema)
    if (fresh.type === 'sqlite') await fs.rm(e.sqlitePath);
    const r = await replayAggregates(e.options({ aggregates: fresh }));
    expect(r.previous).toBeNull();
    const s = openAggregateStore(fresh, e.sqlitePath);
    await s.start();
    expect(await dumpStore(s)).toStrictEqual(e.expected);
    await s.stop();
  });

  it('refuses while an aggregator holds the store, and works once it stopped', async () => {
    const e = await setup(b);
    const guard = aggregatorGuard(e.config, e.sqlitePath);
    await guard.start();
    cleanup.push(() => guard.stop());
    const err = (await replayAggregates(e.options()).catch((x: unknown) => x)) as Error;
    expect(err).toBeInstanceOf(PermanentError);
    expect(err.message).toMatch(new RegExp(`^the aggregator is running \\(pid ${process.pid}[ )].*stop tidemark-cloud \\(or run it with --role collector\\) before replay`));
    await guard.stop();
    await replayAggregates(e.options());
    expect(await e.current()).toStrictEqual(e.expected);
  });

  it('a failed rebuild leaves the live store untouched and no fresh store behind', async () => {
    const e = await setup(b);
    await expect(replayAggregates(e.options({ streamPath: path.join(e.dir, 'absent.db') }))).rejects.toThrow(/no stream store at/);
    // Fails halfway through folding (as a full disk or a lost connection would), after the fresh store was made.
    const failing = e.options({ onProgress: (n) => { if (n >= 6) throw new Error('disk full'); } });
    await expect(replayAggregates(failing)).rejects.toThrow('disk full');
    await expect(replayAggregates({ ...failing, from: T0 + DAY })).rejects.toThrow('disk full');
    expect(await b.leftovers(e.dir, e.config)).toEqual([]);
    expect(await e.current()).toStrictEqual(e.expected);
    // ...and the claim was released: the next replay runs.
    await replayAggregates(e.options());
    expect(await e.current()).toStrictEqual(e.expected);
  });
});
