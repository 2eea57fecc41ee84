// `tidemark-cloud replay`: rebuilds every aggregate from the stream store into a fresh aggregate store, then
// switches over by renaming it into place (the previous store is kept as aggregates.db.pre-replay-<time>).
// Processing is a pure function of stream order, so the result equals what the live aggregator computed.
// With --from, buckets before the (largest-resolution-aligned) boundary are copied and only later ones are
// rebuilt; watermarks still see every reading, so the rebuilt buckets equal a full replay's.
// The aggregator must not be running: it holds the store open and would keep writing the old file.
import { existsSync, readFileSync, renameSync, rmSync } from 'node:fs';
import Database from 'better-sqlite3';
import { createLogger, MetricsRegistry, PermanentError, type Logger } from '@tidemark/shared';
import type { CloudConfig } from '../config.js';
import { SqliteStreamStore } from '../store/sqlite-stream-store.js';
import { Aggregator } from './aggregator.js';
import { bucketStart } from './bucket-stats.js';
import { SqliteAggregateStore } from './sqlite-aggregate-store.js';

export interface ReplayResult {
  records: number;
  seconds: number;
  from: string | null;
  copiedBuckets: number;
  previous: string | null;
}

/** The aggregator role records its pid here while it runs, so replay can refuse to race it. */
export function aggregatorPidFile(aggregatesPath: string): string {
  return `${aggregatesPath}.aggregator.pid`;
}

function runningAggregator(aggregatesPath: string): number | undefined {
  const file = aggregatorPidFile(aggregatesPath);
  if (!existsSync(file)) return undefined;
  const pid = Number(readFileSync(file, 'utf8').trim());
  if (!Number.isInteger(pid) || pid <= 0) return undefined;
  try {
    process.kill(pid, 0);
    return pid;
  } catch {
    return undefined; // stale pid file (a crash): safe to go on
  }
}

/** Checkpoints and closes a SQLite file so no -wal/-shm is left beside it before a rename. */
function settle(path: string): void {
  if (!existsSync(path)) return;
  const db = new Database(path);
  db.pragma('wal_checkpoint(TRUNCATE)');
  db.close();
  for (const suffix of ['-wal', '-shm']) rmSync(path + suffix, { force: true });
}

export async function replay(
  config: CloudConfig,
  files: { stream: string; aggregates: string },
  opts: { from?: number; logger?: Logger; now?: () => Date } = {},
): Promise<ReplayResult> {
  const pid = runningAggregator(files.aggregates);
  if (pid !== undefined) {
    throw new PermanentError(`the aggregator is running (pid ${pid}): stop tidemark-cloud (or run it with --role collector) before replay`);
  }
  if (!existsSync(files.stream)) throw new PermanentError(`no stream store at ${files.stream}: nothing to replay`);
  const logger = opts.logger ?? createLogger({ name: 'tidemark-cloud', level: config.log.level });
  const stamp = (opts.now?.() ?? new Date()).toISOString().replace(/[:.]/g, '-');
  const fresh = `${files.aggregates}.replay-${stamp}`;
  const largest = Math.max(...config.aggregation.resolutions.map((r) => r.ms));
  const boundary = opts.from === undefined ? undefined : bucketStart(opts.from, largest);

  const started = performance.now();
  const stream = new SqliteStreamStore({ path: files.stream, readonly: true });
  const store = new SqliteAggregateStore(fresh);
  let copiedBuckets = 0;
  let records = 0;
  await stream.start();
  const first = (await stream.read(1, 1))[0];
  if (boundary === undefined && first !== undefined && first.offset > 1) {
    await stream.stop();
    throw new PermanentError(
      `the stream store was trimmed by retention (it starts at offset ${first.offset}): a full replay would drop the older aggregates; ` +
        'use --from TIME to rebuild only buckets whose readings are still in the stream',
    );
  }
  await store.start();
  try {
    if (boundary !== undefined && existsSync(files.aggregates)) {
      settle(files.aggregates);
      copiedBuckets = store.copyBucketsBefore(files.aggregates, boundary);
    }
    const aggregator = new Aggregator(
      stream,
      store,
      {
        resolutions: config.aggregation.resolutions,
        allowedLatenessMs: config.aggregation.allowed_lateness,
        maxFutureSkewMs: config.ingest.max_future_skew,
        chunkRecords: 2000,
        ...(boundary !== undefined ? { bucketsFrom: boundary } : {}),
      },
      logger.child({ component: 'replay' }),
      new MetricsRegistry('tidemark_cloud'),
    );
    for (let n = await aggregator.step(); n > 0; n = await aggregator.step()) records += n;
  } catch (err) {
    await store.stop();
    rmSync(fresh, { force: true });
    rmSync(`${fresh}-wal`, { force: true });
    rmSync(`${fresh}-shm`, { force: true });
    throw err;
  } finally {
    await stream.stop();
  }
  await store.stop();
  settle(fresh);

  // Switch over: keep the previous store beside it, then move the fresh one into place (atomic rename).
  let previous: string | null = null;
  if (existsSync(files.aggregates)) {
    settle(files.aggregates);
    previous = `${files.aggregates}.pre-replay-${stamp}`;
    renameSync(files.aggregates, previous);
  }
  renameSync(fresh, files.aggregates);
  const seconds = (performance.now() - started) / 1000;
  return { records, seconds, from: boundary === undefined ? null : new Date(boundary).toISOString(), copiedBuckets, previous };
}
