// The collector's wiring of the alert outbox into resource health: an aggregator-role collector whose
// alerts.db stops taking writes answers /readyz 503 naming `alert-outbox`, and 200 again once it takes writes,
// without a restart.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type Database from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import { encodeBatch, newStreamId } from '@tidemark/proto';
import { waitFor } from '@tidemark/shared/testing';
import { makeTransition } from './alerts/notify/testing/transition-fixture.js';
import { capturedLogger } from './alerts/notify/testing/worker-harness.js';
import { SqliteAlertStore } from './alerts/sqlite-alert-store.js';
import { SqliteStreamStore } from './store/sqlite-stream-store.js';
import { Collector, dataFiles } from './collector.js';
import { defaultCloudConfig } from './config.js';

const cleanup: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanup.splice(0).reverse()) await c();
});

interface Readyz {
  status: string;
  failing?: { resource: string; reason: string }[];
}

/** An aggregator-role collector with one alert rule on a fresh data_dir, ready (/readyz 200). */
async function readyAggregator() {
  const dir = mkdtempSync(path.join(tmpdir(), 'tidemark-collector-'));
  cleanup.push(async () => rmSync(dir, { recursive: true, force: true }));
  const config = defaultCloudConfig({
    data_dir: dir,
    api: { listen: '127.0.0.1:0' },
    alerts: { rules: [{ name: 'hot', sensor: 'temp_c', kind: 'threshold', above: 250, severity: 'critical' }] },
  });
  const collector = new Collector(config, { role: 'aggregator', logger: capturedLogger().logger });
  await collector.start();
  cleanup.push(() => collector.stop());
  const readyz = async () => {
    const res = await fetch(`http://127.0.0.1:${collector.api!.boundPort}/readyz`);
    return { status: res.status, body: (await res.json()) as Readyz };
  };
  await waitFor(async () => (await readyz()).status === 200, { timeoutMs: 20_000, description: '/readyz 200' });
  return { dir, collector, readyz };
}

describe('collector: alert store and outbox health', { timeout: 60_000 }, () => {
  it('/readyz names alert-outbox while alerts.db takes no writes, and is ready again once it does', async () => {
    const { dir, collector, readyz } = await readyAggregator();

    // alerts.db stops taking writes on the collector's connection; a transition arrives (from another connection).
    const db = (collector.alertStore as unknown as { db: Database.Database }).db;
    db.pragma('query_only = 1');
    const writer = new SqliteAlertStore(dataFiles(dir).alerts);
    writer.open();
    cleanup.push(() => writer.stop());
    const t = makeTransition({ rule: 'hot' });
    writer.commitStatus({ series: [], transitions: [{ transition: t, notifiers: ['log'] }], kv: new Map(), now: Date.now() });

    const degraded = await waitFor(
      async () => {
        const r = await readyz();
        return r.status === 503 && r.body.failing?.some((f) => f.resource === 'alert-outbox') ? r.body : undefined;
      },
      { timeoutMs: 20_000, description: '/readyz 503 naming alert-outbox' },
    );
    expect(degraded.status).toBe('degraded');
    expect(await (await fetch(`http://127.0.0.1:${collector.api!.boundPort}/metrics`)).text()).toContain('tidemark_cloud_resource_up{resource="alert-outbox"} 0');

    db.pragma('query_only = 0');
    await waitFor(async () => (await readyz()).status === 200, { timeoutMs: 20_000, description: '/readyz 200 again' });
    await waitFor(() => writer.depth().count === 0, { timeoutMs: 20_000, description: 'the transition delivered to the log notifier' });
  });

  it('/readyz names alert-store while the evaluator cannot commit, and the evaluation resumes exactly once after', async () => {
    const { dir, collector, readyz } = await readyAggregator();

    // alerts.db refuses the evaluator's commit; a batch with a hot reading lands in the stream (as ingest would).
    const db = (collector.alertStore as unknown as { db: Database.Database }).db;
    db.pragma('query_only = 1');
    const stream = new SqliteStreamStore({ path: dataFiles(dir).stream });
    await stream.start();
    cleanup.push(() => stream.stop());
    const now = Date.now();
    const batch = { deviceId: 'oven-1', streamId: newStreamId(), seq: 1, clock: { synced: true, anchorWallMs: now, anchorMonoMs: 0 }, readings: [{ sensor: 'temp_c', ts: now, value: 300 }] };
    await stream.append([{ deviceId: 'oven-1', streamId: batch.streamId, seq: 1, receivedMs: now, readings: 1, payload: encodeBatch(batch) }]);
    collector.evaluator!.notify();

    await waitFor(
      async () => {
        const r = await readyz();
        return r.status === 503 && r.body.failing?.some((f) => f.resource === 'alert-store') ? r.body : undefined;
      },
      { timeoutMs: 20_000, description: '/readyz 503 naming alert-store' },
    );
    expect(await (await fetch(`http://127.0.0.1:${collector.api!.boundPort}/metrics`)).text()).toContain('tidemark_cloud_resource_up{resource="alert-store"} 0');
    expect(collector.alertStore!.loadSeries()).toHaveLength(0);

    db.pragma('query_only = 0');
    await waitFor(async () => (await readyz()).status === 200, { timeoutMs: 20_000, description: '/readyz 200 again' });
    await waitFor(() => collector.alertStore!.loadSeries().find((s) => s.item.state === 'firing'), { timeoutMs: 20_000, description: 'the hot reading fired once the store took writes' });
    expect(collector.alertStore!.loadSeries()).toHaveLength(1);
  });
});
