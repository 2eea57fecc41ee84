// Chooses the aggregate store backend from the config (`aggregates: { type: sqlite }` → data_dir's
// aggregates.db, `{ type: postgres, url, schema }` → that schema), and the matching "an aggregator runs
// here" guard that replay respects: a pid file beside the SQLite file, a session advisory lock in PostgreSQL
// (the session the aggregator's writes go through, so they are fenced by it: postgres-writer-session.ts).
import { rmSync, writeFileSync } from 'node:fs';
import type { Component, Logger } from '@tidemark/shared';
import type { AggregateStore } from './aggregate-store.js';
import { PostgresAggregateStore } from './postgres-aggregate-store.js';
import { PostgresWriterSession } from './postgres-writer-session.js';
import { DEFAULT_POSTGRES_SCHEMA } from './postgres-schema-name.js';
import { SqliteAggregateStore } from './sqlite-aggregate-store.js';

/** The parsed `aggregates` config section (schema defaults to "tidemark"). */
export type AggregatesConfig = { type: 'sqlite' } | { type: 'postgres'; url: string; schema?: string };

/** The aggregator role records its pid here while it runs, so replay can refuse to race it (SQLite). */
export function aggregatorPidFile(aggregatesPath: string): string {
  return `${aggregatesPath}.aggregator.pid`;
}

/** A new, unstarted store; `sqlitePath` is where the SQLite backend keeps its file (data_dir/aggregates.db). */
export function openAggregateStore(
  config: AggregatesConfig,
  sqlitePath: string,
  opts: { logger?: Logger; writer?: PostgresWriterSession } = {},
): AggregateStore {
  if (config.type === 'sqlite') return new SqliteAggregateStore(sqlitePath);
  return new PostgresAggregateStore({
    url: config.url,
    schema: config.schema ?? DEFAULT_POSTGRES_SCHEMA,
    ...(opts.logger ? { logger: opts.logger } : {}),
    ...(opts.writer ? { writer: opts.writer } : {}),
  });
}

/** The aggregator's guard; on PostgreSQL also the writer session to hand to openAggregateStore. */
export type AggregatorGuard = Component & { readonly writer?: PostgresWriterSession };

/**
 * Start it just before the aggregator and stop it just after: while it runs, `replay` refuses. PostgreSQL:
 * it also refuses to start while a replay (or another aggregator) holds the store.
 */
export function aggregatorGuard(config: AggregatesConfig, sqlitePath: string, opts: { logger?: Logger } = {}): AggregatorGuard {
  if (config.type === 'sqlite') {
    const pidFile = aggregatorPidFile(sqlitePath);
    return {
      name: 'aggregator-pid',
      start: async () => writeFileSync(pidFile, `${process.pid}\n`),
      stop: async () => rmSync(pidFile, { force: true }),
    };
  }
  const session = new PostgresWriterSession({
    url: config.url,
    schema: config.schema ?? DEFAULT_POSTGRES_SCHEMA,
    role: 'aggregator',
    ...(opts.logger ? { logger: opts.logger } : {}),
  });
  return { name: session.name, start: () => session.start(), stop: () => session.stop(), writer: session };
}
