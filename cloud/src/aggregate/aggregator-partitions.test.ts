// A partitioned stream (devices spread over several logs, as on NATS JetStream) aggregates to exactly what one
// log gives, whatever the chunk size, and a crash after any commit resumes from the per-partition
// checkpoints to the same state.
import path from 'node:path';
import fc from 'fast-check';
import { createLogger, MetricsRegistry } from '@tidemark/shared';
import { afterEach, describe, expect, it } from 'vitest';
import { PartitionedStreamStore } from '../store/partitioned-stream-store.js';
import { SqliteStreamStore } from '../store/sqlite-stream-store.js';
import type { StreamStore } from '../store/stream-store.js';
import type { AggregateStore } from './aggregate-store.js';
import { Aggregator } from './aggregator.js';
import { SqliteAggregateStore } from './sqlite-aggregate-store.js';
import { TestResources } from './testing/test-resources.js';
import { appendItem, dumpStore, LATENESS, RESOLUTIONS, SKEW, workloadArb, type TestBatch } from './testing/aggregator-workload.js';

const logger = createLogger({ name: 'aggregator-partitions-test', level: 'silent' });
const res = new TestResources('tidemark-aggp-');
const { closeAll } = res;
const tempDir = () => res.tempDir();
const started = <T extends { start(): Promise<void>; stop(): Promise<void> }>(c: T) => res.started(c);
afterEach(closeAll);

/** The same batches into one log and into `n` partitions, in the same order and calls. */
async function streams(order: readonly TestBatch[], n: number) {
  const dir = await tempDir();
  const single = await started(new SqliteStreamStore({ path: path.join(dir, 'single.db') }));
  const parts = await started(new PartitionedStreamStore(Array.from({ length: n }, (_, p) => new SqliteStreamStore({ path: path.join(dir, `p${p}.db`) }))));
  for (const b of order) {
    const a = await single.append([appendItem(b)]);
    const c = await parts.append([appendItem(b)]);
    expect(c).toEqual(a);
  }
  return { single, partitions: parts.partitions };
}

function aggregator(stream: StreamStore | readonly StreamStore[], store: AggregateStore, chunkRecords: number): Aggregator {
  return new Aggregator(stream, store, { resolutions: RESOLUTIONS, allowedLatenessMs: LATENESS, maxFutureSkewMs: SKEW, chunkRecords }, logger, new MetricsRegistry('tidemark_cloud'));
}

async function aggregates(): Promise<SqliteAggregateStore> {
  return started(new SqliteAggregateStore(path.join(await tempDir(), 'aggregates.db')));
}

/** dumpStore without the checkpoint (a partitioned store has one per partition). */
async function state(store: AggregateStore) {
  const { checkpoint: _, ...rest } = await dumpStore(store);
  return rest;
}

describe('Aggregator over a partitioned stream', () => {
  it('property: 1–4 partitions give exactly the buckets, watermarks, catalogue and tally of one log', async () => {
    await fc.assert(
      fc.asyncProperty(workloadArb, fc.integer({ min: 1, max: 4 }), async ({ order, chunkRecords }, n) => {
        try {
          const { single, partitions } = await streams(order, n);
          const one = await aggregates();
          const many = await aggregates();
          await aggregator(single, one, chunkRecords).drain();
          await aggregator(partitions, many, chunkRecords).drain();
          expect(await state(many)).toStrictEqual(await state(one));
          for (const [p, s] of partitions.entries()) {
            const end = await s.endOffset();
            if (end > 1) expect(await many.checkpoint(p)).toBe(end);
          }
        } finally {
          await closeAll();
        }
      }),
      { numRuns: 40 },
    );
  }, 120_000);

  it('property: a crash after any commit resumes from the per-partition checkpoints to the same state', async () => {
    await fc.assert(
      fc.asyncProperty(workloadArb, fc.integer({ min: 2, max: 4 }), fc.nat(), async ({ order, chunkRecords }, n, crashAfter) => {
        try {
          const { partitions } = await streams(order, n);
          const whole = await aggregates();
          await aggregator(partitions, whole, chunkRecords).drain();

          const file = path.join(await tempDir(), 'aggregates.db');
          const first = new SqliteAggregateStore(file);
          await first.start();
          const doomed = aggregator(partitions, first, chunkRecords);
          for (let i = 0; i < crashAfter % 12 && (await doomed.step()) > 0; i++) {
            /* a few commits */
          }
          await first.stop(); // the process dies here; the next one opens the same file
          const resumed = await started(new SqliteAggregateStore(file));
          await aggregator(partitions, resumed, chunkRecords).drain();
          expect(await state(resumed)).toStrictEqual(await state(whole));
          expect(await resumed.checkpoints()).toEqual(await whole.checkpoints());
        } finally {
          await closeAll();
        }
      }),
      { numRuns: 40 },
    );
  }, 120_000);
});
