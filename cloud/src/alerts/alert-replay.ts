// Replay of the alert history: the evaluator runs again over the stream, from the alert store's origin (the
// offsets it began at) to the end, into a fresh file, with the current rules and device tags. Evaluation is a
// pure function of the stream (and the tags, which are fixed for the replay), so the series and transitions (ids included) equal the live ones; operator acks and the
// notification outcomes of transitions that already existed are carried over, and a transition the live
// evaluator never produced (the rules changed since) is recorded but not sent: it is history, not news.
// Then the fresh file replaces alerts.db (the old one is kept as alerts.db.pre-replay-<time>).
// The aggregator role must not be running (the CLI's replay claims the aggregate store first).
import { existsSync, renameSync, rmSync } from 'node:fs';
import { MetricsRegistry, PermanentError, type Logger } from '@tidemark/shared';
import type { StreamStore } from '../store/stream-store.js';
import { pinnedTags, type TagSource } from '../devices/device-tag-source.js';
import type { AlertsConfig } from './alert-config.js';
import { AlertEvaluator } from './alert-evaluator.js';
import { notifierNames } from './notifiers.js';
import { SqliteAlertStore } from './sqlite-alert-store.js';
import { STATUS_KINDS } from './status-watcher.js';

export interface AlertReplayResult {
  transitions: number;
  previous: string;
  /** Transitions found by the replay that the live evaluator never produced (recorded, not sent). */
  unseen: number;
}

export interface AlertReplayOptions {
  alerts: AlertsConfig;
  path: string;
  streams: readonly StreamStore[];
  allowedLatenessMs: number;
  maxFutureSkewMs: number;
  logger: Logger;
  now?: () => Date;
  /** Device tags for tag selectors: read once when the replay starts. */
  tags?: TagSource;
}

/** Rebuilds alerts.db; undefined when there is nothing to rebuild (no rules, or no alert store yet). */
export async function replayAlerts(o: AlertReplayOptions): Promise<AlertReplayResult | undefined> {
  if (o.alerts.rules.length === 0 || !existsSync(o.path)) return undefined;
  const stamp = (o.now?.() ?? new Date()).toISOString().replace(/[:.]/g, '-');
  const old = new SqliteAlertStore(o.path, { mustExist: true });
  old.open();
  const freshPath = `${o.path}.replay-${stamp}`;
  rmSync(freshPath, { force: true });
  const fresh = new SqliteAlertStore(freshPath);
  fresh.open();
  let unseen = 0;
  try {
    const origins = o.streams.map((_, p) => old.origin(p));
    if (origins.some((x) => x === undefined)) {
      throw new PermanentError(`${o.path} has no checkpoint for every stream partition; was the partition count changed?`);
    }
    for (const [p, s] of o.streams.entries()) {
      const first = (await s.read(origins[p]!, 1))[0]?.offset;
      if (first !== undefined && first > origins[p]!) {
        throw new PermanentError(`the stream was trimmed past where the alert history begins (partition ${p}: offset ${origins[p]}); the alert history cannot be rebuilt`);
      }
    }
    fresh.setOrigins(origins as number[]);
    const evaluator = new AlertEvaluator(
      o.streams,
      fresh,
      {
        rules: o.alerts.rules,
        notifiers: notifierNames(o.alerts.notify),
        flapping: o.alerts.flapping,
        allowedLatenessMs: o.allowedLatenessMs,
        maxFutureSkewMs: o.maxFutureSkewMs,
        chunkRecords: 2000,
        // The tags of now, fixed for the whole replay: tag changes are not retroactive (docs/alerts.md).
        ...(o.tags ? { tags: pinnedTags(o.tags) } : {}),
      },
      o.logger.child({ component: 'alert-replay' }),
      new MetricsRegistry('tidemark_cloud'),
    );
    const ends = await Promise.all(o.streams.map((s) => s.endOffset()));
    const deadline = Date.now() + 30_000;
    for (;;) {
      await evaluator.drain();
      const behind = ends.map((end, p) => ((fresh.checkpoint(p) ?? 0) < end ? p : -1)).filter((p) => p >= 0);
      if (behind.length === 0) break;
      if (Date.now() > deadline) throw new PermanentError(`alert replay could not read partition(s) ${behind.join(', ')} up to their end; alerts.db was left as it was`);
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
    // Status-driven rules (offline, backlog) are not in the stream: their history is carried over as it is.
    fresh.copyRulesFrom(old, o.alerts.rules.filter((r) => STATUS_KINDS.has(r.kind)).map((r) => r.name));
    const known = old.transitionIds();
    fresh.carryOverFrom(old);
    unseen = fresh.suppressOutboxExcept(known, Date.now());
  } catch (err) {
    await fresh.stop();
    await old.stop();
    rmSync(freshPath, { force: true });
    throw err;
  }
  const transitions = fresh.lastSeq();
  await fresh.stop();
  await old.stop();
  const previous = `${o.path}.pre-replay-${stamp}`;
  renameSync(o.path, previous);
  for (const ext of ['-wal', '-shm']) rmSync(o.path + ext, { force: true });
  renameSync(freshPath, o.path);
  return { transitions, previous, unseen };
}
