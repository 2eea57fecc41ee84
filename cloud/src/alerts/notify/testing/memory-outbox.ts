// An in-memory Outbox for tests of the delivery worker, and the reference model of the delivery order: the
// same contract as the SQLite alert store's outbox (docs/alerts.md "Delivery order": severity, then the round
// robin over rules, then commit order; a series' rows to a notifier one at a time, in commit order; a row
// ends delivered or failed exactly once), written the plain way, plus inspection helpers.
import { nextTurn, severityPriority } from '../../alert-store-model.js';
import type { AlertTransition } from '../../alert-types.js';
import type { Outbox, OutboxItem } from '../notifier.js';

export type MemoryOutboxStatus = 'pending' | 'delivered' | 'failed';

export interface MemoryOutboxRow {
  transitionId: string;
  notifier: string;
  transition: AlertTransition;
  createdAt: number;
  attempts: number;
  nextAt: number;
  status: MemoryOutboxStatus;
  lastError: string | null;
  settledAt: number | null;
  /** Insertion order, the last tie-break. */
  order: number;
  /** The transition's commit order (one per transition, shared by its notifiers' rows). */
  seq: number;
  /** 0 critical, 1 warning, 2 info. */
  prio: number;
  /** Place in the round robin over the rules of its severity. */
  turn: number;
}

export class MemoryOutbox implements Outbox {
  private readonly rows = new Map<string, MemoryOutboxRow>();
  private order = 0;
  private seq = 0;
  /** How many times due() was called: lets a test wait for the worker to have polled again. */
  dueCalls = 0;
  /** How many times depth() was called (the worker asks on every poll, even when it has no free slot). */
  depthCalls = 0;
  /** Calls that settled a row twice or touched an unknown row: must stay empty. */
  readonly violations: string[] = [];

  /** Writes one row per notifier for `transition`, as the evaluator's transaction does. */
  add(transition: AlertTransition, notifiers: readonly string[], createdAt = Date.now()): void {
    const seq = ++this.seq;
    const prio = severityPriority(transition.severity);
    const queued = this.all().filter((r) => r.status === 'pending' && r.attempts === 0 && r.prio === prio);
    const turns = (rows: MemoryOutboxRow[]) => (rows.length === 0 ? null : rows.map((r) => r.turn));
    const head = turns(queued);
    const last = turns(queued.filter((r) => r.transition.rule === transition.rule));
    const turn = nextTurn(head && Math.min(...head), last && Math.max(...last));
    for (const notifier of notifiers) {
      const key = keyOf(transition.id, notifier);
      if (this.rows.has(key)) continue; // the store's primary key: a replayed transition adds nothing
      this.rows.set(key, {
        transitionId: transition.id,
        notifier,
        transition,
        createdAt,
        attempts: 0,
        nextAt: createdAt,
        status: 'pending',
        lastError: null,
        settledAt: null,
        order: this.order++,
        seq,
        prio,
        turn,
      });
    }
  }

  due(now: number, limit: number): OutboxItem[] {
    this.dueCalls += 1;
    const pending = this.all().filter((r) => r.status === 'pending');
    const blocked = (r: MemoryOutboxRow) => pending.some((e) => e.notifier === r.notifier && e.transition.alert_id === r.transition.alert_id && e.seq < r.seq);
    const candidates = pending.filter((r) => r.nextAt <= now && !blocked(r));
    const take = (rows: MemoryOutboxRow[]) => rows.slice(0, Math.max(0, limit));
    // As the SQLite outbox does: first attempts in round-robin order; retries, per severity, earliest due first.
    const fresh = take(candidates.filter((r) => r.attempts === 0).sort(byTurn));
    const retries = [0, 1, 2].flatMap((prio) =>
      take(candidates.filter((r) => r.attempts > 0 && r.prio === prio).sort((a, b) => a.nextAt - b.nextAt || a.seq - b.seq || a.order - b.order)),
    );
    return take([...fresh, ...retries].sort(byTurn)).map((r) => ({
      transitionId: r.transitionId,
      notifier: r.notifier,
      attempts: r.attempts,
      createdAt: r.createdAt,
      transition: r.transition,
    }));
  }

  delivered(transitionId: string, notifier: string, now: number): void {
    const r = this.pendingRow('delivered', transitionId, notifier);
    if (!r) return;
    r.status = 'delivered';
    r.settledAt = now;
  }

  retryAt(transitionId: string, notifier: string, attempts: number, nextAt: number, error: string): void {
    const r = this.pendingRow('retryAt', transitionId, notifier);
    if (!r) return;
    r.attempts = attempts;
    r.nextAt = nextAt;
    r.lastError = error;
  }

  failed(transitionId: string, notifier: string, error: string, now: number): void {
    const r = this.pendingRow('failed', transitionId, notifier);
    if (!r) return;
    r.status = 'failed';
    r.lastError = error;
    r.settledAt = now;
  }

  depth(): { count: number; oldestCreatedAt: number | null } {
    this.depthCalls += 1;
    const pending = [...this.rows.values()].filter((r) => r.status === 'pending');
    return { count: pending.length, oldestCreatedAt: pending.length === 0 ? null : Math.min(...pending.map((r) => r.createdAt)) };
  }

  row(transitionId: string, notifier: string): MemoryOutboxRow | undefined {
    return this.rows.get(keyOf(transitionId, notifier));
  }

  all(): MemoryOutboxRow[] {
    return [...this.rows.values()];
  }

  count(status: MemoryOutboxStatus): number {
    return this.all().filter((r) => r.status === status).length;
  }

  private pendingRow(call: string, transitionId: string, notifier: string): MemoryOutboxRow | undefined {
    const r = this.rows.get(keyOf(transitionId, notifier));
    if (!r) {
      this.violations.push(`${call}(${transitionId}, ${notifier}): no such row`);
      return undefined;
    }
    if (r.status !== 'pending') {
      this.violations.push(`${call}(${transitionId}, ${notifier}): row already ${r.status}`);
      return undefined;
    }
    return r;
  }
}

function byTurn(a: MemoryOutboxRow, b: MemoryOutboxRow): number {
  return a.prio - b.prio || a.turn - b.turn || a.seq - b.seq || a.order - b.order;
}

function keyOf(transitionId: string, notifier: string): string {
  return `${notifier}\u0000${transitionId}`;
}
