// The SQLite alert store's outbox passes the same contract as the in-memory reference the delivery worker was
// built against (rows written the way the evaluator writes them: in the transition's transaction), and a
// store written by the previous schema is migrated in place.
import Database from 'better-sqlite3';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { SCHEMA } from './alert-store-model.js';
import { describeOutboxContract } from './notify/outbox.contract.js';
import { makeTransition } from './notify/testing/transition-fixture.js';
import { SqliteAlertStore } from './sqlite-alert-store.js';

describeOutboxContract('SqliteAlertStore', async () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'tidemark-outbox-'));
  const file = path.join(dir, 'alerts.db');
  let store = new SqliteAlertStore(file);
  store.open();
  return {
    outbox: store,
    add: (transition, notifiers, createdAt) => {
      store.commitStatus({ series: [], transitions: [{ transition, notifiers }], kv: new Map(), now: createdAt });
    },
    reopen: async () => {
      await store.stop();
      store = new SqliteAlertStore(file);
      store.open();
      return store;
    },
    cleanup: async () => {
      await store.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}, { persistent: true });

describe('SqliteAlertStore outbox: schema 1 → 2', () => {
  it('migrates a schema-1 file in place: pending rows keep their state and are served by severity, then commit order', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'tidemark-outbox-v1-'));
    const file = path.join(dir, 'alerts.db');
    try {
      const old = new Database(file);
      old.exec(SCHEMA);
      old.pragma('user_version = 1');
      const info = makeTransition({ rule: 'drift', severity: 'info' });
      const critical = makeTransition({ rule: 'hot', severity: 'critical' });
      const done = makeTransition({ rule: 'drift', device: 'oven-2', severity: 'info' });
      for (const t of [info, critical, done]) {
        old.prepare('INSERT INTO transitions(id, alert_id, event_time, body, notified) VALUES (?, ?, ?, ?, 1)').run(t.id, t.alert_id, 0, JSON.stringify(t));
      }
      old.prepare("INSERT INTO outbox(transition_id, notifier, created_at, next_at, attempts) VALUES (?, 'log', 1, 1, 0), (?, 'log', 2, 2, 0)").run(info.id, critical.id);
      old.prepare("INSERT INTO outbox(transition_id, notifier, created_at, next_at, status) VALUES (?, 'log', 3, 3, 'delivered')").run(done.id);
      old.close();

      // A reader (the API role) opens a schema-1 file as it is; the aggregator role migrates it.
      const reader = new SqliteAlertStore(file, { mustExist: true });
      reader.open();
      await reader.stop();
      const store = new SqliteAlertStore(file);
      store.open();
      expect(store.due(10, 10).map((d) => d.transitionId)).toEqual([critical.id, info.id]);
      expect(store.depth()).toEqual({ count: 2, oldestCreatedAt: 1 });
      const later = makeTransition({ rule: 'drift', severity: 'info' }); // the same series as `info`: waits for it
      store.commitStatus({ series: [], transitions: [{ transition: later, notifiers: ['log'] }], kv: new Map(), now: 4 });
      expect(store.due(10, 10).map((d) => d.transitionId)).toEqual([critical.id, info.id]);
      store.delivered(info.id, 'log', 5);
      expect(store.due(10, 10).map((d) => d.transitionId)).toEqual([critical.id, later.id]);
      await store.stop();
      const check = new Database(file, { readonly: true });
      expect(check.pragma('user_version', { simple: true })).toBe(2);
      check.close();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('SqliteAlertStore.publishTransitions', () => {
  it('stores a transition once by id, skips its outbox row the second time, and leaves the store fsyncing its commits', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'tidemark-publish-'));
    const store = new SqliteAlertStore(path.join(dir, 'alerts.db'));
    try {
      store.open();
      const db = (store as unknown as { db: Database.Database }).db;
      const tr = makeTransition({ rule: 'hot', severity: 'critical' });
      const item = { id: tr.alert_id, rule: 'hot', device: tr.device, sensor: tr.sensor, state: tr.state } as never;
      const publish = () => store.publishTransitions({ series: [{ item, initial: { s: 'initial' } }], transitions: [{ transition: tr, notifiers: ['log'] }], now: 5 });
      expect(publish().map((t) => t.transition.id)).toEqual([tr.id]);
      expect(publish()).toEqual([]); // evaluated again after a crash: nothing new
      expect(store.pendingNotifications(10).map((o) => o.transitionId)).toEqual([tr.id]);
      expect(store.loadSeries().map((x) => x.machine)).toEqual([{ s: 'initial' }]);
      // Only the publish itself skips the fsync: checkpoint commits (retention trusts them) still fsync.
      expect(db.pragma('synchronous', { simple: true })).toBe(2);
    } finally {
      await store.stop();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
