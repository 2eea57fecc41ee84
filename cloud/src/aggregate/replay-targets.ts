// What replay needs from each aggregate backend: refuse while an aggregator writes the store, build into a
// fresh store beside the live one, copy the live buckets before a boundary and the live watermarks, sensor
// catalogue and tally (--from), and switch over atomically, keeping the previous store. SQLite: files renamed
// into place. PostgreSQL: schemas renamed in one transaction.
import { existsSync, readFileSync, renameSync, rmSync } from 'node:fs';
import Database from 'better-sqlite3';
import { PermanentError, type Logger } from '@tidemark/shared';
import type { AggregateStore } from './aggregate-store.js';
import { aggregatorPidFile, type AggregatesConfig } from './open-aggregate-store.js';
import { PostgresAggregateStore } from './postgres-aggregate-store.js';
import { claimWriterLock } from './postgres-aggregator-lock.js';
import { DEFAULT_POSTGRES_SCHEMA } from './postgres-schema-name.js';
import { SqliteAggregateStore } from './sqlite-aggregate-store.js';

export interface ReplayTarget {
  /** Throws PermanentError while an aggregator runs; holds whatever keeps one from starting until release. */
  claim(): Promise<{ release(): Promise<void> }>;
  /** A started, empty store under a new name. */
  openFresh(): Promise<AggregateStore>;
  /** Copies the live store's buckets that start before `boundary` into the fresh one; 0 without a live store. */
  copyLiveBucketsBefore(boundary: number): Promise<number>;
  /** The live store's checkpoints (per partition, the next offset it would read); undefined without a live store. */
  liveCheckpoints(): Promise<Map<number, number> | undefined>;
  /** Replaces the fresh store's watermarks, sensor catalogue and unaggregated tally with the live store's. */
  adoptLiveState(): Promise<void>;
  /** After a failure: stops and deletes the fresh store. */
  discard(): Promise<void>;
  /** Stops the fresh store and makes it the live one; returns where the previous one was kept, if any. */
  switchOver(): Promise<string | null>;
}

/** `stamp`: a time, used to name the fresh store and the kept previous one. */
export function replayTarget(config: AggregatesConfig, sqlitePath: string, stamp: Date, logger?: Logger): ReplayTarget {
  return config.type === 'sqlite' ? sqliteTarget(sqlitePath, stamp) : postgresTarget(config.url, config.schema ?? DEFAULT_POSTGRES_SCHEMA, stamp, logger);
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

function sqliteTarget(live: string, when: Date): ReplayTarget {
  const stamp = when.toISOString().replace(/[:.]/g, '-');
  const freshPath = `${live}.replay-${stamp}`;
  let fresh: SqliteAggregateStore | undefined;
  return {
    claim: async () => {
      const pid = runningAggregator(live);
      if (pid !== undefined) {
        throw new PermanentError(`the aggregator is running (pid ${pid}): stop tidemark-cloud (or run it with --role collector) before replay`);
      }
      return { release: async () => undefined };
    },
    openFresh: async () => {
      fresh = new SqliteAggregateStore(freshPath);
      await fresh.start();
      return fresh;
    },
    copyLiveBucketsBefore: async (boundary) => {
      if (!existsSync(live)) return 0;
      settle(live);
      return fresh!.copyBucketsBefore(live, boundary);
    },
    liveCheckpoints: async () => (existsSync(live) ? fresh!.checkpointsOf(live) : undefined),
    adoptLiveState: async () => fresh!.adoptStateOf(live),
    discard: async () => {
      await fresh?.stop();
      for (const suffix of ['', '-wal', '-shm']) rmSync(freshPath + suffix, { force: true });
    },
    switchOver: async () => {
      await fresh!.stop();
      settle(freshPath);
      // Keep the previous store beside it, then move the fresh one into place (atomic rename).
      let previous: string | null = null;
      if (existsSync(live)) {
        settle(live);
        previous = `${live}.pre-replay-${stamp}`;
        renameSync(live, previous);
      }
      renameSync(freshPath, live);
      return previous;
    },
  };
}

function postgresTarget(url: string, live: string, when: Date, logger?: Logger): ReplayTarget {
  // 20261127t164200123z: short enough for <schema>_pre_replay_<stamp> to fit a 63-byte identifier.
  const stamp = when.toISOString().replace(/[-:.]/g, '').toLowerCase();
  const freshName = `${live}_replay_${stamp}`;
  const previousName = `${live}_pre_replay_${stamp}`;
  let fresh: PostgresAggregateStore | undefined;
  return {
    // The same lock the aggregator holds while it runs: taken for the whole replay, it also keeps an
    // aggregator from starting on the old schema halfway through.
    claim: () => claimWriterLock(url, live, 'replay', logger),
    openFresh: async () => {
      fresh = new PostgresAggregateStore({ url, schema: freshName, createOnly: true, applicationName: `tidemark-cloud replay pid ${process.pid}`, ...(logger ? { logger } : {}) });
      await fresh.start();
      return fresh;
    },
    copyLiveBucketsBefore: (boundary) => fresh!.copyBucketsBefore(live, boundary),
    liveCheckpoints: () => fresh!.checkpointsOf(live),
    adoptLiveState: () => fresh!.adoptStateOf(live),
    discard: async () => {
      await fresh?.drop();
    },
    switchOver: async () => ((await fresh!.promote(live, previousName)) ? `PostgreSQL schema ${previousName}` : null),
  };
}
