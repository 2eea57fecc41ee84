// The SQLite alert store's outbox passes the same contract as the in-memory reference the delivery worker was
// built against (rows written the way the evaluator writes them: in the transition's transaction).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describeOutboxContract } from './notify/outbox.contract.js';
import { SqliteAlertStore } from './sqlite-alert-store.js';

describeOutboxContract('SqliteAlertStore', async () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'tidemark-outbox-'));
  const file = path.join(dir, 'alerts.db');
  let store = new SqliteAlertStore(file);
  store.open();
  return {
    outbox: store,
    add: (transition, notifiers, createdAt) =>
      store.commitStatus({ series: [], transitions: [{ transition, notifiers }], kv: new Map(), now: createdAt }),
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
});
