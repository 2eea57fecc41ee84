// The aggregator's run loop when its aggregate store goes away (PostgreSQL stopped, disk full): it reports
// `aggregate-store` failing, survives, backs off, resumes by itself when the store is back, and ends with
// exactly the buckets of a run that never saw the fault.
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import { createLogger, MetricsRegistry } from '@tidemark/shared';
import { waitFor } from '@tidemark/shared/testing';
import { afterEach, describe, expect, it } from 'vitest';
import { ResourceHealth } from '../health/resource-health.js';
import { SqliteStreamStore } from '../store/sqlite-stream-store.js';
import type { AggregateStore } from './aggregate-store.js';
import { Aggregator } from './aggregator.js';
import { SqliteAggregateStore } from './sqlite-aggregate-store.js';
import { append, batch, HOUR, LATENESS, RESOLUTIONS, SKEW, T0 } from './testing/aggregator-workload.js';

const logger = createLogger({ name: 'aggregator-health-test', level: 'silent' });
const cleanup: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const f of cleanup.splice(0).reverse()) await f();
});

/** The store, with every call refused while `down` (as a stopped PostgreSQL refuses connections). */
function switchable(store: AggregateStore) {
  const ctl = { down: false, refused: 0 };
  const proxy = new Proxy(store, {
    get(target, key, receiver) {
      const v = Reflect.get(target, key, receiver) as unknown;
      if (typeof v !== 'function' || key === 'start' || key === 'stop') return v;
      return (...args: unknown[]) => {
        if (ctl.down) {
          ctl.refused++;
          return Promise.reject(Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:5432'), { code: 'ECONNREFUSED' }));
        }
        return (v as (...a: unknown[]) => unknown).apply(target, args);
      };
    },
  });
  return { store: proxy, ctl };
}

const dump = (file: string) => {
  const db = new Database(file, { readonly: true });
  try {
    return db.prepare('SELECT * FROM buckets ORDER BY device, sensor, resolution, start').all();
  } finally {
    db.close();
  }
};

describe('Aggregator when the aggregate store fails', () => {
  it('reports it, stays up, resumes by itself, and ends equal to an uninterrupted run', async () => {
    const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'tidemark-agg-health-'));
    cleanup.push(() => fs.rm(dir, { recursive: true, force: true }));
    const stream = new SqliteStreamStore({ path: path.join(dir, 'stream.db') });
    await stream.start();
    cleanup.push(() => stream.stop());
    const aggregates = new SqliteAggregateStore(path.join(dir, 'aggregates.db'));
    await aggregates.start();
    cleanup.push(() => aggregates.stop());
    const { store, ctl } = switchable(aggregates);
    const metrics = new MetricsRegistry('tidemark_cloud');
    const health = new ResourceHealth(logger, metrics, { initialMs: 20, maxMs: 100 });
    const agg = new Aggregator(stream, store, {
      resolutions: RESOLUTIONS,
      allowedLatenessMs: LATENESS,
      maxFutureSkewMs: SKEW,
      idleMs: 20,
      health: { stream: health.reporter('stream-reader'), aggregates: health.reporter('aggregate-store') },
    }, logger, metrics);
    await agg.start();
    cleanup.push(() => agg.stop());

    const t = T0 + 10 * HOUR;
    const some = (k: number) => batch('press-07', Array.from({ length: 20 }, (_, i): [string, number, number] => ['temp_c', t + k * 60_000 + i * 1000, k * 100 + i]));
    await append(stream, some(0));
    await waitFor(async () => (await aggregates.checkpoint(0)) > 1, { timeoutMs: 10_000, description: 'first chunk aggregated' });

    ctl.down = true;
    for (let k = 1; k <= 5; k++) await append(stream, some(k));
    agg.notify();
    await waitFor(() => health.failing().find((f) => f.resource === 'aggregate-store'), { timeoutMs: 10_000, description: 'aggregate-store reported failing' });
    expect(health.failing()[0]!.reason).toContain('ECONNREFUSED');
    await waitFor(() => ctl.refused >= 3, { timeoutMs: 10_000, description: 'the loop keeps retrying' });

    ctl.down = false;
    await waitFor(() => health.failing().length === 0, { timeoutMs: 10_000, description: 'aggregate-store recovered' });
    const end = await stream.endOffset();
    await waitFor(async () => (await aggregates.checkpoint(0)) === end, { timeoutMs: 10_000, description: 'caught up with the stream' });
    await agg.stop();

    // The reference: the same stream folded by an aggregator that never saw the fault.
    const refFile = path.join(dir, 'reference.db');
    const ref = new SqliteAggregateStore(refFile);
    await ref.start();
    cleanup.push(() => ref.stop());
    await new Aggregator(stream, ref, { resolutions: RESOLUTIONS, allowedLatenessMs: LATENESS, maxFutureSkewMs: SKEW }, logger, new MetricsRegistry('tidemark_cloud')).drain();
    expect(dump(path.join(dir, 'aggregates.db'))).toEqual(dump(refFile));
    expect(dump(refFile).length).toBeGreaterThan(5);
  });
});
