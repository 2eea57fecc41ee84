// The aggregator gives the same result on every aggregate store backend: the reference and crash properties
// of aggregator.test.ts, run on PostgreSQL and compared field for field with SQLite, everything read back
// through the AggregateStore interface only.
import path from 'node:path';
import fc from 'fast-check';
import { createLogger, MetricsRegistry } from '@tidemark/shared';
import { afterAll, afterEach, beforeEach, describe, expect, it } from 'vitest';
import { SqliteStreamStore } from '../store/sqlite-stream-store.js';
import type { AggregateStore } from './aggregate-store.js';
import { Aggregator, type AggregatorOptions } from './aggregator.js';
import { PostgresAggregateStore } from './postgres-aggregate-store.js';
import { SqliteAggregateStore } from './sqlite-aggregate-store.js';
import { TestResources } from './testing/test-resources.js';
import { dropSchemas, requirePostgres, schemaPrefix } from './testing/postgres.js';
import {
  append,
  appendInCalls,
  batch,
  DEVICES,
  dumpStore,
  expectBucketsMatch,
  HOUR,
  LATENESS,
  MINUTE,
  referenceBuckets,
  RESOLUTIONS,
  SKEW,
  T0,
  workloadArb,
} from './testing/aggregator-workload.js';

const logger = createLogger({ name: 'aggregator-backends-test', level: 'silent' });
const prefix = schemaPrefix();
let schemas = 0;
let url: string;
beforeEach(async () => {
  url = await requirePostgres(); // per test: each fails, naming the package, if the server is missing
});
afterAll(async () => {
  if (url) await dropSchemas(url, prefix);
});

const res = new TestResources('tidemark-aggb-');
const { closeAll } = res;
const started = <T extends { start(): Promise<void>; stop(): Promise<void> }>(c: T) => res.started(c);
afterEach(closeAll);

async function streamStore(): Promise<SqliteStreamStore> {
  const dir = await res.tempDir();
  return started(new SqliteStreamStore({ path: path.join(dir, 'stream.db') }));
}

const sqliteStore = async () => {
  const dir = await res.tempDir();
  return started(new SqliteAggregateStore(path.join(dir, 'aggregates.db')));
};
const pgSchema = () => `${prefix}_${++schemas}`;
const pgStore = (schema = pgSchema()) => started(new PostgresAggregateStore({ url, schema }));

function aggregator(stream: SqliteStreamStore, store: AggregateStore, opts: Partial<AggregatorOptions> = {}): Aggregator {
  return new Aggregator(stream, store, { resolutions: RESOLUTIONS, allowedLatenessMs: LATENESS, maxFutureSkewMs: SKEW, ...opts }, logger, new MetricsRegistry('tidemark_cloud'));
}

describe('Aggregator on PostgreSQL', () => {
  it('property: buckets equal the reference, and equal SQLite field for field, for any batching, resends and chunk size', async () => {
    await fc.assert(
      fc.asyncProperty(workloadArb, async ({ order, batches, callSizes, chunkRecords }) => {
        try {
          const stream = await streamStore();
          await appendInCalls(stream, order, callSizes);
          const lite = await sqliteStore();
          const pg = await pgStore();
          await aggregator(stream, lite, { chunkRecords }).drain();
          await aggregator(stream, pg, { chunkRecords }).drain();
          const got = await dumpStore(pg);
          const counted = batches.filter((b) => b.synced).flatMap((b) => b.readings.map((r) => ({ ...r, device: b.device })));
          expectBucketsMatch(got.buckets, referenceBuckets(counted));
          expect(got.checkpoint).toBe(batches.length + 1);
          expect(got).toStrictEqual(await dumpStore(lite));
        } finally {
          await closeAll();
        }
      }),
      { numRuns: 15 },
    );
  }, 120_000);

  it('property: a crash after any commit resumes to exactly the state of an uninterrupted run', async () => {
    await fc.assert(
      fc.asyncProperty(workloadArb, fc.nat(), fc.integer({ min: 1, max: 9 }), async ({ order, callSizes, chunkRecords }, crashAfter, chunkAfter) => {
        try {
          const stream = await streamStore();
          await appendInCalls(stream, order, callSizes);
          const whole = await pgStore();
          await aggregator(stream, whole, { chunkRecords }).drain();

          // A few commits, then the process is gone without a word (its pool is simply abandoned).
          const schema = pgSchema();
          const first = aggregator(stream, await pgStore(schema), { chunkRecords });
          const steps = crashAfter % (Math.ceil(order.length / chunkRecords) + 1);
          for (let i = 0; i < steps; i++) await first.step();
          const restarted = await pgStore(schema);
          await aggregator(stream, restarted, { chunkRecords: chunkAfter }).drain();
          expect(await dumpStore(restarted)).toStrictEqual(await dumpStore(whole));
        } finally {
          await closeAll();
        }
      }),
      { numRuns: 10 },
    );
  }, 120_000);

  it('late revisions, unaggregated readings and extreme values come out the same as on SQLite', async () => {
    const stream = await streamStore();
    const b10 = T0 + 10 * HOUR;
    const big = Number.MAX_VALUE;
    await append(
      stream,
      batch('press-07', [['temp_c', b10 + 30_000, 1], ['x', T0, big], ['x', T0 + 1, -big], ['x', T0 + 2, big], ['x', T0 + 3, -big / 3]]),
      batch('press-07', [['temp_c', b10 + MINUTE + LATENESS, 3]]),
      batch('press-07', [['temp_c', b10 + 1, 5], ['temp_c', b10 + 2, 0.1 + 0.2], ['temp_c', b10 + 59_999, 1e-300]]),
      batch('press-07', [['temp_c', b10 + 50_000, 8]], { synced: false }),
      batch('van.3', [['temp_c', b10, 1], ['temp_c', b10 + HOUR, 2]], { stream: 2, receivedMs: b10 - HOUR }),
    );
    const lite = await sqliteStore();
    const pg = await pgStore();
    await aggregator(stream, lite, { chunkRecords: 2 }).drain();
    await aggregator(stream, pg, { chunkRecords: 3 }).drain();
    const got = await dumpStore(pg, ['press-07', 'van.3'], ['temp_c', 'x']);
    expect(got.buckets.find((b) => b.sensor === 'temp_c' && b.resolution === '1m' && b.start === b10)).toMatchObject({ count: 4, revision: 1 });
    expect(got.buckets.find((b) => b.sensor === 'x')).toMatchObject({ m2: Infinity, max: big, min: -big });
    expect(got.unaggregated).toEqual({ clock_unsynced: 1, future_timestamp: 2 });
    expect(got).toStrictEqual(await dumpStore(lite, ['press-07', 'van.3'], ['temp_c', 'x']));
  });
});
