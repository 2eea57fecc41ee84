// Two aggregators on one aggregate store (an operator's mistake, or an aggregator still running while a
// replay swapped the store): commits are fenced on the checkpoint, so whichever writer is stale fails,
// re-reads the checkpoint and goes on — the aggregates are exactly those of a single aggregator.
import path from 'node:path';
import fc from 'fast-check';
import { createLogger, MetricsRegistry, StorageError } from '@tidemark/shared';
import { afterEach, describe, expect, it } from 'vitest';
import { PartitionedStreamStore } from '../store/partitioned-stream-store.js';
import { SqliteStreamStore } from '../store/sqlite-stream-store.js';
import type { StreamStore } from '../store/stream-store.js';
import type { AggregateStore } from './aggregate-store.js';
import { Aggregator } from './aggregator.js';
import { SqliteAggregateStore } from './sqlite-aggregate-store.js';
import { TestResources } from './testing/test-resources.js';
import { appendItem, dumpStore, LATENESS, RESOLUTIONS, SKEW, workloadArb } from './testing/aggregator-workload.js';

const logger = createLogger({ name: 'aggregator-fencing-test', level: 'silent' });
const res = new TestResources('tidemark-aggf-');
afterEach(res.closeAll);

function aggregator(streams: readonly StreamStore[], store: AggregateStore, chunkRecords: number): Aggregator {
  return new Aggregator(streams, store, { resolutions: RESOLUTIONS, allowedLatenessMs: LATENESS, maxFutureSkewMs: SKEW, chunkRecords }, logger, new MetricsRegistry('tidemark_cloud'));
}

describe('Aggregator fencing', () => {
  it('property: two aggregators interleaving on one store give exactly one aggregator\'s result', async () => {
    await fc.assert(
      fc.asyncProperty(workloadArb, fc.integer({ min: 1, max: 3 }), fc.array(fc.boolean(), { minLength: 1, maxLength: 40 }), async ({ order, chunkRecords }, n, turns) => {
        try {
          const dir = await res.tempDir();
          const parts = await res.started(new PartitionedStreamStore(Array.from({ length: n }, (_, p) => new SqliteStreamStore({ path: path.join(dir, `p${p}.db`) }))));
          for (const b of order) await parts.append([appendItem(b)]);
          const alone = await res.started(new SqliteAggregateStore(path.join(dir, 'alone.db')));
          await aggregator(parts.partitions, alone, chunkRecords).drain();

          const shared = await res.started(new SqliteAggregateStore(path.join(dir, 'shared.db')));
          const a = aggregator(parts.partitions, shared, chunkRecords);
          const b = aggregator(parts.partitions, shared, chunkRecords);
          const step = async (agg: Aggregator) => {
            try {
              return await agg.step();
            } catch (err) {
              expect(err).toBeInstanceOf(StorageError);
              expect((err as Error).message).toMatch(/another writer committed/);
              return 1; // it has not caught up: try again
            }
          };
          // Both load their checkpoints first, then take turns as the schedule says, until both are done.
          for (let i = 0, doneA = false, doneB = false; !(doneA && doneB); i++) {
            const turnA = turns[i % turns.length]!;
            if (turnA && !doneA) doneA = (await step(a)) === 0;
            else if (!doneB) doneB = (await step(b)) === 0;
            else doneA = (await step(a)) === 0;
          }
          const { checkpoint: _x, ...want } = await dumpStore(alone);
          const { checkpoint: _y, ...got } = await dumpStore(shared);
          expect(got).toStrictEqual(want);
          expect(await shared.checkpoints()).toEqual(await alone.checkpoints());
        } finally {
          await res.closeAll();
        }
      }),
      { numRuns: 40 },
    );
  }, 120_000);

  it('a stale aggregator is refused, not double-counting, and continues from the winner\'s checkpoint', async () => {
    const dir = await res.tempDir();
    const stream = await res.started(new SqliteStreamStore({ path: path.join(dir, 'stream.db') }));
    const store = await res.started(new SqliteAggregateStore(path.join(dir, 'aggregates.db')));
    const stale = aggregator([stream], store, 10);
    expect(await stale.step()).toBe(0); // it has read its checkpoint (1) and found nothing yet
    const readings = Array.from({ length: 5 }, (_, i) => ({ sensor: 'temp_c', ts: Date.UTC(2026, 10, 27) + i * 1000, value: i }));
    await stream.append([appendItem({ device: 'press-07', stream: 1, seq: 1, synced: true, readings, receivedMs: Date.UTC(2026, 10, 27, 1) })]);
    expect(await aggregator([stream], store, 10).step()).toBe(1); // the other writer folds and commits it
    await expect(stale.step()).rejects.toThrow(/checkpoint is 2, not 1: another writer committed/);
    expect(await stale.step()).toBe(0); // re-read the checkpoint: nothing left to fold
    const [bucket] = await store.queryBuckets({ device: 'press-07', sensor: 'temp_c', resolution: '1m', from: 0, to: 8.64e15, limit: 10 });
    expect(bucket!.stats.count).toBe(5);
  });
});
