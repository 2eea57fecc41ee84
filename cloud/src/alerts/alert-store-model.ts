// The alert store's data model: its SQLite schema and the shapes the evaluator, the status watcher, the
// API and replay exchange with it. A series item is what GET /api/v1/alerts serves (acks added on read).
import type { AlertRuleConfig } from './alert-config.js';
import type { AlertState, AlertTransition } from './alert-types.js';

export const SCHEMA_VERSION = 2;
/** Versions a process that only opens the file (mustExist: the API role, replay's old store) can read: 2 only added outbox columns. */
export const READABLE_SCHEMA_VERSIONS: readonly number[] = [1, 2];
/** Schema 1. A new store runs it and then every migration, so a new file and a migrated one are the same. */
export const SCHEMA = `
CREATE TABLE checkpoints (
  partition INTEGER PRIMARY KEY,
  offset    INTEGER NOT NULL,
  origin    INTEGER NOT NULL
) STRICT;

CREATE TABLE series (
  alert_id TEXT PRIMARY KEY,
  item     TEXT NOT NULL,  -- the API item (JSON): rule, device, sensor, severity, state, value, since, event_time, late, message, labels
  state    TEXT NOT NULL,
  rule     TEXT NOT NULL,
  device   TEXT NOT NULL,
  machine  TEXT NOT NULL   -- the evaluator's memory of the series (JSON)
) STRICT;
CREATE INDEX series_state ON series(state, alert_id);

CREATE TABLE transitions (
  seq        INTEGER PRIMARY KEY AUTOINCREMENT,
  id         TEXT NOT NULL UNIQUE,
  alert_id   TEXT NOT NULL,
  event_time INTEGER NOT NULL,
  body       TEXT NOT NULL,  -- the AlertTransition (JSON)
  notified   INTEGER NOT NULL,
  suppressed TEXT            -- why it was not notified (pending, late, flapping, replay), or NULL
) STRICT;
CREATE INDEX transitions_alert ON transitions(alert_id, event_time, id);

CREATE TABLE outbox (
  transition_id TEXT    NOT NULL,
  notifier      TEXT    NOT NULL,
  created_at    INTEGER NOT NULL,
  attempts      INTEGER NOT NULL DEFAULT 0,
  next_at       INTEGER NOT NULL,
  status        TEXT    NOT NULL DEFAULT 'pending',  -- pending | delivered | failed
  error         TEXT,
  done_at       INTEGER,
  PRIMARY KEY (transition_id, notifier)
) STRICT;
CREATE INDEX outbox_due ON outbox(status, next_at);

CREATE TABLE acks (
  alert_id  TEXT PRIMARY KEY,
  since     INTEGER NOT NULL,  -- the firing episode acked (series since); a new episode is unacked
  acked_by  TEXT    NOT NULL,
  acked_at  INTEGER NOT NULL
) STRICT;

CREATE TABLE kv (
  key   TEXT PRIMARY KEY,
  value TEXT NOT NULL
) STRICT;
`;

/** SQL for severityPriority of a transition's JSON body. */
export function prioOf(body: string): string {
  return `CASE json_extract(${body}, '$.severity') WHEN 'critical' THEN 0 WHEN 'info' THEN 2 ELSE 1 END`;
}

/**
 * Schema 1 → 2, in place: what the delivery order (docs/alerts.md "Delivery order") needs, copied from each
 * row's transition so that picking due rows is an index walk. `prio` 0 critical, 1 warning, 2 info; `turn`
 * the row's place in the round robin over the rules of its severity, fixed when the row is written (rows
 * from schema 1 get 0: commit order); `seq` the transition's commit order, which orders the rows of one
 * alert series (`alert_id`) to one notifier. The indexes are partial over pending rows, so the delivered and
 * failed history costs the pick nothing.
 */
export const MIGRATE_1_TO_2 = `
ALTER TABLE outbox ADD COLUMN alert_id TEXT NOT NULL DEFAULT '';
ALTER TABLE outbox ADD COLUMN rule TEXT NOT NULL DEFAULT '';
ALTER TABLE outbox ADD COLUMN prio INTEGER NOT NULL DEFAULT 1;
ALTER TABLE outbox ADD COLUMN turn INTEGER NOT NULL DEFAULT 0;
ALTER TABLE outbox ADD COLUMN seq INTEGER NOT NULL DEFAULT 0;
UPDATE outbox SET alert_id = t.alert_id, seq = t.seq, rule = json_extract(t.body, '$.rule'), prio = ${prioOf('t.body')}
  FROM transitions t WHERE t.id = outbox.transition_id;
CREATE INDEX outbox_fresh ON outbox(prio, turn, seq) WHERE status = 'pending' AND attempts = 0;
CREATE INDEX outbox_rule_turn ON outbox(prio, rule, turn) WHERE status = 'pending' AND attempts = 0;
CREATE INDEX outbox_retry ON outbox(prio, next_at, seq) WHERE status = 'pending' AND attempts > 0;
CREATE INDEX outbox_series ON outbox(notifier, alert_id, seq) WHERE status = 'pending';
`;

/** Migrations by the version they start from. */
export const MIGRATIONS: ReadonlyMap<number, string> = new Map([[1, MIGRATE_1_TO_2]]);

/**
 * A new transition's turn in its severity's round robin: right behind its rule's last waiting row, but never
 * before the head of the queue (a rule with nothing waiting joins at the front, beside the busiest rule's
 * oldest row, instead of behind its whole backlog). Start-time fair queuing with the rules as flows.
 */
export function nextTurn(head: number | null, lastOfRule: number | null): number {
  return Math.max(head ?? 0, lastOfRule === null ? 0 : lastOfRule + 1);
}

/** A severity's place in the delivery order, critical first (prioOf says the same in SQL). */
export function severityPriority(severity: string): number {
  return severity === 'critical' ? 0 : severity === 'info' ? 2 : 1;
}

/** The API's view of one alert series. */
export interface AlertItem {
  id: string;
  rule: string;
  device: string;
  sensor: string | null;
  severity: string;
  state: AlertState;
  value: number | null;
  since: string;
  event_time: string;
  late: boolean;
  message: string;
  labels: Record<string, string>;
  acked_by: string | null;
  acked_at: string | null;
}

export type SeriesItem = Omit<AlertItem, 'acked_by' | 'acked_at'>;

export interface StoredSeries {
  item: SeriesItem;
  machine: unknown;
  /**
   * false: the item is as last committed (only the machine moved), so only the machine is written — the item
   * changes on transitions, the machine with every reading. Absent: write both.
   */
  itemChanged?: boolean;
}

/** A transition as the history lists it. */
export type HistoryItem = AlertTransition & { notified: boolean; suppressed: string | null };

export interface CommittedTransition {
  transition: AlertTransition;
  /** Notifiers to write outbox rows for (empty: recorded, not notified). */
  notifiers: readonly string[];
  /** Why it is not notified (when notifiers is empty). */
  suppressed?: string;
}

export interface AlertCommit {
  partition: number;
  offset: number;
  expectedOffset: number;
  series: readonly StoredSeries[];
  transitions: readonly CommittedTransition[];
  /** Small evaluator state beside the series (flapping windows, watermarks): key → JSON. */
  kv: ReadonlyMap<string, string>;
  now: number;
}

export interface AlertQuery {
  state?: AlertState;
  rule?: string;
  device?: string;
  /** Return alert ids greater than this (paging). */
  after?: string;
  limit: number;
}

export interface TransitionQuery {
  alertId?: string;
  rule?: string;
  device?: string;
  /** Transitions after this (event_time, id) position (paging). */
  after?: { eventTime: number; id: string };
  limit: number;
}

export type AckResult = { ok: true; item: AlertItem } | { ok: false; reason: 'not_found' | 'not_firing' };

/** A series before its first transition. */
export function newSeriesItem(id: string, rule: AlertRuleConfig, device: string, sensor: string | null): SeriesItem {
  const epoch = new Date(0).toISOString();
  return { id, rule: rule.name, device, sensor, severity: rule.severity, state: 'normal', value: null, since: epoch, event_time: epoch, late: false, message: '', labels: rule.labels };
}

/**
 * The evaluator's memory of a series as stored: JSON, except that number arrays under `window` (anomaly
 * windows, up to hundreds of values, rewritten with every chunk) are stored as base64 float64 — several times
 * cheaper to write than JSON numbers, and exact (-0 stays -0). Plain JSON arrays (older stores) still load.
 */
export function encodeMachine(machine: unknown): string {
  // The evaluator's machine is { s, mem }; its window is mem.window (no replacer: it costs a call per key).
  const mem = (machine as { mem?: { window?: unknown } } | null)?.mem;
  if (!mem || !Array.isArray(mem.window)) return JSON.stringify(machine);
  const f64 = Buffer.from(new Float64Array(mem.window as number[]).buffer).toString('base64');
  return JSON.stringify({ ...(machine as object), mem: { ...mem, window: { f64 } } });
}

export function decodeMachine(text: string): unknown {
  return JSON.parse(text, (key, v: unknown) => {
    if (key !== 'window' || v === null || typeof v !== 'object' || typeof (v as { f64?: unknown }).f64 !== 'string') return v;
    const bytes = Buffer.from((v as { f64: string }).f64, 'base64');
    const aligned = new Uint8Array(bytes.length);
    aligned.set(bytes);
    return Array.from(new Float64Array(aligned.buffer, 0, bytes.length >> 3));
  });
}
