// A real SQLite alert store in a temporary directory, for delivery tests that want the outbox the collector
// runs (its SQL order, indexes and transactions) rather than the in-memory model. `commit` writes
// transitions the way the evaluator's transaction does.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { AlertTransition } from '../../alert-types.js';
import { SqliteAlertStore } from '../../sqlite-alert-store.js';

export interface SqliteOutboxFixture {
  store: SqliteAlertStore;
  file: string;
  /** Commits these transitions, one outbox row per notifier each, in one transaction. */
  commit(transitions: readonly AlertTransition[], notifiers: readonly string[], now?: number): void;
  cleanup(): Promise<void>;
}

export function sqliteOutbox(): SqliteOutboxFixture {
  const dir = mkdtempSync(path.join(tmpdir(), 'tidemark-outbox-'));
  const file = path.join(dir, 'alerts.db');
  const store = new SqliteAlertStore(file);
  store.open();
  return {
    store,
    file,
    commit: (transitions, notifiers, now = Date.now()) =>
      store.commitStatus({ series: [], transitions: transitions.map((transition) => ({ transition, notifiers })), kv: new Map(), now }),
    cleanup: async () => {
      await store.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
