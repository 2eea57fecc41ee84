// The cost of picking due rows from the SQLite alert outbox (cloud/src/alerts/sqlite-alert-store.ts `due`)
// with BENCH_OUTBOX_ROWS pending rows (default 100,000; 50 rules, one series each row, 1/3 warning, ~1 % critical,
// the rest info): what the delivery worker asks on every poll (limit 80 = 8 in flight + 8 free + 64 ahead).
// Cases: every row a first attempt; half of them waiting out a backoff; all waiting; all retries due. Also
// the write side (commit, 1,000 transitions per transaction, which computes each one's turn) and depth(),
// the gauge query the worker runs at most once a second, and the oldest-first query this replaced. One JSON line per result. Run:
// npx tsx scripts/bench/outbox-pick.bench.ts (about half a minute).
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type Database from 'better-sqlite3';
import { makeTransition } from '../../cloud/src/alerts/notify/testing/transition-fixture.js';
import { SqliteAlertStore } from '../../cloud/src/alerts/sqlite-alert-store.js';

const ROWS = Number(process.env.BENCH_OUTBOX_ROWS ?? 100_000);
const LIMIT = 80;
const REPEAT = 50;
const emit = (line: Record<string, unknown>) => process.stdout.write(`${JSON.stringify({ bench: 'outbox-pick', rows: ROWS, load1: os.loadavg()[0], ...line })}\n`);

function msPer(fn: () => void, n = REPEAT): number {
  const t0 = performance.now();
  for (let i = 0; i < n; i++) fn();
  return Number(((performance.now() - t0) / n).toFixed(3));
}

const dir = mkdtempSync(path.join(os.tmpdir(), 'tidemark-outbox-bench-'));
try {
  const store = new SqliteAlertStore(path.join(dir, 'alerts.db'));
  store.open();
  const db = (store as unknown as { db: Database.Database }).db;
  const t0 = performance.now();
  for (let c = 0; c < ROWS / 1000; c++) {
    const transitions = Array.from({ length: 1000 }, (_, k) => {
      const severity = k % 100 === 0 ? 'critical' : k % 3 === 0 ? 'warning' : 'info';
      return { transition: makeTransition({ rule: `rule-${k % 50}`, device: `gw-${c}-${k}`, severity }), notifiers: ['webhook:a'] };
    });
    store.commitStatus({ series: [], transitions, kv: new Map(), now: 1_000 + c });
  }
  emit({ case: 'commit', us_per_row: Number((((performance.now() - t0) * 1000) / ROWS).toFixed(1)) });
  const NOW = 1e13;
  emit({ case: 'due: all first attempts', ms_per_due: msPer(() => store.due(NOW, LIMIT)) });
  // For comparison: the oldest-first query this replaced (schema 1), on the same rows.
  const fifo = db.prepare(`SELECT o.transition_id, o.notifier, o.attempts, o.created_at, t.body FROM outbox o JOIN transitions t ON t.id = o.transition_id
    WHERE o.status = 'pending' AND o.next_at <= ? ORDER BY o.created_at, o.rowid LIMIT ?`);
  emit({ case: 'old oldest-first query: all first attempts', ms_per_due: msPer(() => fifo.all(NOW, LIMIT), 10) });
  db.prepare("UPDATE outbox SET attempts = 1, next_at = 9e15 WHERE rowid % 2 = 0").run();
  emit({ case: 'due: half backing off', ms_per_due: msPer(() => store.due(NOW, LIMIT)) });
  db.prepare('UPDATE outbox SET attempts = 1, next_at = 9e15').run();
  emit({ case: 'due: all backing off', ms_per_due: msPer(() => store.due(NOW, LIMIT)) });
  db.prepare('UPDATE outbox SET next_at = 5').run();
  emit({ case: 'due: all retries due', ms_per_due: msPer(() => store.due(NOW, LIMIT)) });
  emit({ case: 'depth', ms_per_call: msPer(() => store.depth(), 10) });
  await store.stop();
} finally {
  rmSync(dir, { recursive: true, force: true });
}
