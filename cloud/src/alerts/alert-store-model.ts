// The alert store's data model: its SQLite schema and the shapes the evaluator, the status watcher, the
// API and replay exchange with it. A series item is what GET /api/v1/alerts serves (acks added on read).
import type { AlertRuleConfig } from './alert-config.js';
import type { AlertState, AlertTransition } from './alert-types.js';

export const SCHEMA_VERSION = 1;
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
