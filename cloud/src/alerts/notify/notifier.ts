// The notifier family and the durable outbox they drain. The evaluator writes an outbox row per (transition,
// notifier) in the same transaction as the transition itself; a DeliveryWorker sends due rows and records the
// outcome. Delivery is at least once with a stable id: a crash between send and record resends the same id.
import type { AlertTransition } from '../alert-types.js';

/** What one delivery attempt came to. */
export type DeliveryResult =
  | { kind: 'delivered' }
  /** Try again later (network error, timeout, 5xx, 408, 429); `retryAfterMs` from a Retry-After header. */
  | { kind: 'retry'; error: string; retryAfterMs?: number }
  /** The endpoint is gone (HTTP 410): disable the notifier and say so. */
  | { kind: 'gone'; error: string }
  /** The receiver refused this message for good (other 4xx): no retry. */
  | { kind: 'rejected'; error: string };

export interface Notifier {
  /** Unique among the configured notifiers, e.g. `webhook:0`, `mqtt`, `log`. */
  readonly name: string;
  send(transition: AlertTransition): Promise<DeliveryResult>;
}

export interface OutboxItem {
  transitionId: string;
  notifier: string;
  /** Attempts made so far. */
  attempts: number;
  /** ms since the epoch when the row was written (the transition committed). */
  createdAt: number;
  transition: AlertTransition;
}

/** The outbox as the delivery worker sees it (the SQLite alert store implements it; calls are synchronous). */
export interface Outbox {
  /**
   * Rows whose next attempt is due at `now`, at most `limit`, in delivery order (severity, round robin over
   * rules, commit order); a row only while no earlier row of its alert series to its notifier is pending.
   */
  due(now: number, limit: number): OutboxItem[];
  delivered(transitionId: string, notifier: string, now: number): void;
  /** Schedules the next attempt. */
  retryAt(transitionId: string, notifier: string, attempts: number, nextAt: number, error: string): void;
  /** Gives up on a row (horizon passed, rejected, or notifier disabled); it stays in history as failed. */
  failed(transitionId: string, notifier: string, error: string, now: number): void;
  /** Rows not yet delivered or failed, and the createdAt of the oldest (null when empty). */
  depth(): { count: number; oldestCreatedAt: number | null };
}
