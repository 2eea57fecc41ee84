// Chooses the aggregate store backend from the config (`aggregates: { type: sqlite }` → data_dir's
// aggregates.db, `{ type: postgres, url, schema }` → that schema), and the matching "an aggregator runs
// here" guard that replay respects: a pid file beside the SQLite file, a session advisory lock in PostgreSQL.
import { rmSync, writeFileSync } from 'node:fs';
import type { Component, Logger } from '@tidemark/shared';
import type { AggregateStore } from './aggregate-store.js';
import { claimWriterLock, type WriterLock } from './postgres-aggregator-lock.js';
import { PostgresAggregateStore } from './postgres-aggregate-store.js';
import { DEFAULT_POSTGRES_SCHEMA } from './postgres-schema-name.js';
import { SqliteAggregateStore } from './sqlite-aggregate-store.js';

/** The parsed `aggregates` config section (schema defaults to "tidemark"). */
export type AggregatesConfig = { type: 'sqlite' } | { type: 'postgres'; url: string; schema?: string };

/** The aggregator role records its pid here while it runs, so replay can refuse to race it (SQLite). */
export function aggregatorPidFile(aggregatesPath: string): string {
  return `${aggregatesPath}.aggregator.pid`;
}

/** A new, unstarted store; `sqlitePath` is where the SQLite backend keeps its file (data_dir/aggregates.db). */
export function openAggregateStore(config: AggregatesConfig, sqlitePath: string, opts: { logger?: Logger } = {}): AggregateStore {
  if (config.type === 'sqlite') return new SqliteAggregateStore(sqlitePath);
  return new PostgresAggregateStore({
    url: config.url,
    schema: config.schema ?? DEFAULT_POSTGRES_SCHEMA,
    ...(opts.logger ? { logger: opts.logger } : {}),
  });
}

/**
 * Start it just before the aggregator and stop it just after: while it runs, `replay` refuses. PostgreSQL:
 * it also refuses to start while a replay (or another aggregator) holds the store.
 */
export function aggregatorGuard(config: AggregatesConfig, sqlitePath: string, opts: { logger?: Logger } = {}): Component {
  if (config.type === 'sqlite') {
    const pidFile = aggregatorPidFile(sqlitePath);
    return {
      name: 'aggregator-pid',
      start: async () => writeFileSync(pidFile, `${process.pid}\n`),
      stop: async () => rmSync(pidFile, { force: true }),
    };
  }
  let lock: WriterLock | undefined;
  return {
    name: 'aggregator-lock',
    start: async () => {
      lock = await claimWriterLock(config.url, config.schema ?? DEFAULT_POSTGRES_SCHEMA, 'aggregator', opts.logger);
    },
    stop: async () => {
      await lock?.release();
      lock = undefined;
    },
  };
}
