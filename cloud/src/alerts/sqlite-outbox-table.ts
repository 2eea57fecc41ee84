// The notification outbox's table in alerts.db: rows are written in the alert store's commit transaction
// (enqueue is called inside it), picked in the delivery order (docs/alerts.md "Delivery order": severity,
// then round robin over rules, then commit order; an alert series reaches each notifier strictly in order)
// and settled by the delivery worker. Needs schema 2 (sqlite-alert-store.ts migrates).
import type Database from 'better-sqlite3';
import { nextTurn, prioOf, severityPriority } from './alert-store-model.js';
import type { AlertTransition } from './alert-types.js';
import type { OutboxItem } from './notify/notifier.js';

interface DueRow {
  rid: number;
  transition_id: string;
  notifier: string;
  attempts: number;
  created_at: number;
  prio: number;
  turn: number;
  seq: number;
  body: string;
}

function toItem(r: { transition_id: string; notifier: string; attempts: number; created_at: number; body: string }): OutboxItem {
  return { transitionId: r.transition_id, notifier: r.notifier, attempts: r.attempts, createdAt: r.created_at, transition: JSON.parse(r.body) as AlertTransition };
}

/** critical, warning, info (severityPriority). */
const PRIORITIES = [0, 1, 2] as const;

/** No earlier row of the same alert series to the same notifier is still pending. */
const HEAD_OF_SERIES = `NOT EXISTS (SELECT 1 FROM outbox e WHERE e.status = 'pending' AND e.notifier = o.notifier AND e.alert_id = o.alert_id AND e.seq < o.seq)`;

export class OutboxTable {
  private readonly s;

  constructor(private readonly db: Database.Database) {
    this.s = {
      putOutbox: db.prepare<[string, string, number, number, string, string, number, number, string]>(
        `INSERT INTO outbox(transition_id, notifier, created_at, next_at, alert_id, rule, prio, turn, seq)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, (SELECT seq FROM transitions WHERE id = ?)) ON CONFLICT DO NOTHING`,
      ),
      headTurn: db.prepare<[number], { turn: number | null }>("SELECT min(turn) AS turn FROM outbox WHERE status = 'pending' AND attempts = 0 AND prio = ?"),
      lastTurn: db.prepare<[number, string], { turn: number | null }>(
        "SELECT max(turn) AS turn FROM outbox WHERE status = 'pending' AND attempts = 0 AND prio = ? AND rule = ?",
      ),
      // A row is a candidate only while no earlier row of its alert series to its notifier is pending (sent,
      // retrying or not yet tried): a series reaches a receiver in commit order. First attempts in round-robin
      // order straight off outbox_fresh; retries per severity, earliest due first, off outbox_retry (rows still
      // backing off are never walked).
      dueFresh: db.prepare<[number, number], DueRow>(
        `SELECT o.rowid AS rid, o.transition_id, o.notifier, o.attempts, o.created_at, o.prio, o.turn, o.seq, t.body
         FROM outbox o INDEXED BY outbox_fresh JOIN transitions t ON t.id = o.transition_id
         WHERE o.status = 'pending' AND o.attempts = 0 AND o.next_at <= ? AND ${HEAD_OF_SERIES}
         ORDER BY o.prio, o.turn, o.seq, o.rowid LIMIT ?`,
      ),
      dueRetry: db.prepare<[number, number, number], DueRow>(
        `SELECT o.rowid AS rid, o.transition_id, o.notifier, o.attempts, o.created_at, o.prio, o.turn, o.seq, t.body
         FROM outbox o INDEXED BY outbox_retry JOIN transitions t ON t.id = o.transition_id
         WHERE o.status = 'pending' AND o.attempts > 0 AND o.prio = ? AND o.next_at <= ? AND ${HEAD_OF_SERIES}
         ORDER BY o.next_at, o.seq, o.rowid LIMIT ?`,
      ),
      pending: db.prepare<[number], { transition_id: string; notifier: string; attempts: number; created_at: number; body: string }>(
        `SELECT o.transition_id, o.notifier, o.attempts, o.created_at, t.body FROM outbox o JOIN transitions t ON t.id = o.transition_id
         WHERE o.status = 'pending' ORDER BY t.seq, o.rowid LIMIT ?`,
      ),
      delivered: db.prepare<[number, string, string]>("UPDATE outbox SET status = 'delivered', done_at = ?, attempts = attempts + 1, error = NULL WHERE transition_id = ? AND notifier = ?"),
      retryAt: db.prepare<[number, number, string, string, string]>("UPDATE outbox SET attempts = ?, next_at = ?, error = ? WHERE transition_id = ? AND notifier = ? AND status = 'pending'"),
      failed: db.prepare<[string, number, string, string]>("UPDATE outbox SET status = 'failed', error = ?, done_at = ?, attempts = attempts + 1 WHERE transition_id = ? AND notifier = ?"),
      depth: db.prepare<[], { n: number; oldest: number | null }>("SELECT count(*) AS n, min(created_at) AS oldest FROM outbox WHERE status = 'pending'"),
    };
  }

  /** One row per notifier for a committed transition; call inside the commit's transaction. */
  enqueue(tr: AlertTransition, notifiers: readonly string[], now: number): void {
    const prio = severityPriority(tr.severity);
    const turn = nextTurn(this.s.headTurn.get(prio)!.turn, this.s.lastTurn.get(prio, tr.rule)!.turn);
    for (const n of notifiers) this.s.putOutbox.run(tr.id, n, now, now, tr.alert_id, tr.rule, prio, turn, tr.id);
  }

  due(now: number, limit: number): OutboxItem[] {
    if (limit <= 0) return [];
    const rows = this.s.dueFresh.all(now, limit);
    for (const prio of PRIORITIES) rows.push(...this.s.dueRetry.all(prio, now, limit));
    return rows
      .sort((a, b) => a.prio - b.prio || a.turn - b.turn || a.seq - b.seq || a.rid - b.rid)
      .slice(0, limit)
      .map(toItem);
  }

  pending(limit: number): OutboxItem[] {
    return this.s.pending.all(limit).map(toItem);
  }

  delivered(transitionId: string, notifier: string, now: number): void {
    this.s.delivered.run(now, transitionId, notifier);
  }

  retryAt(transitionId: string, notifier: string, attempts: number, nextAt: number, error: string): void {
    this.s.retryAt.run(attempts, nextAt, error, transitionId, notifier);
  }

  failed(transitionId: string, notifier: string, error: string, now: number): void {
    this.s.failed.run(error, now, transitionId, notifier);
  }

  depth(): { count: number; oldestCreatedAt: number | null } {
    const r = this.s.depth.get()!;
    return { count: r.n, oldestCreatedAt: r.oldest };
  }

  /** Every pending row not of these transitions is marked failed with `reason`; returns how many. */
  failPendingExcept(keep: ReadonlySet<string>, reason: string, now: number): number {
    const pending = this.db.prepare<[], { transition_id: string; notifier: string }>("SELECT transition_id, notifier FROM outbox WHERE status = 'pending'").all();
    let n = 0;
    this.db.transaction(() => {
      for (const r of pending) {
        if (keep.has(r.transition_id)) continue;
        this.s.failed.run(reason, now, r.transition_id, r.notifier);
        n++;
      }
    })();
    return n;
  }

  /**
   * Copies every outbox row of `oldDb` whose transition this store has (replay's rebuild), keeping its delivery
   * outcome; call inside a transaction. Returns the rows written.
   */
  carryOver(oldDb: Database.Database): number {
    const rows = oldDb
      .prepare<[], { transition_id: string; notifier: string; created_at: number; attempts: number; next_at: number; status: string; error: string | null; done_at: number | null }>(
        'SELECT * FROM outbox',
      )
      .all();
    // Their order columns come from the rebuilt store (a row the rebuild did not write itself joins its round
    // robin at turn 0, i.e. at the front: it is older than anything new).
    const put = this.db.prepare(
      `INSERT INTO outbox(transition_id, notifier, created_at, attempts, next_at, status, error, done_at, alert_id, rule, prio, turn, seq)
       SELECT ?, ?, ?, ?, ?, ?, ?, ?, t.alert_id, json_extract(t.body, '$.rule'), ${prioOf('t.body')}, 0, t.seq FROM transitions t WHERE t.id = ?
       ON CONFLICT(transition_id, notifier) DO UPDATE SET created_at = excluded.created_at, attempts = excluded.attempts, next_at = excluded.next_at,
         status = excluded.status, error = excluded.error, done_at = excluded.done_at`,
    );
    let n = 0;
    for (const r of rows) n += put.run(r.transition_id, r.notifier, r.created_at, r.attempts, r.next_at, r.status, r.error, r.done_at, r.transition_id).changes;
    return n;
  }
}
