// The outbox as a resource: when the SQLite alert store stops taking writes (as a read-only or full one
// does), the worker reports `alert-outbox` failing — what /readyz and tidemark_cloud_resource_up show — with
// one log line, backs off, sends no notification twice while it cannot record outcomes, and recovers by
// itself once the store takes writes again, writing the outcomes it held first.
import type Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { counterValue, MetricsRegistry } from '@tidemark/shared';
import { waitFor } from '@tidemark/shared/testing';
import { ResourceHealth } from '../../health/resource-health.js';
import { SqliteAlertStore } from '../sqlite-alert-store.js';
import { sqliteOutbox } from './testing/sqlite-outbox-fixture.js';
import { capturedLogger, transitions, useWorkerHarness, webhook } from './testing/worker-harness.js';

const { harness, receiver, onCleanup } = useWorkerHarness();

describe('DeliveryWorker: the outbox as a resource', { timeout: 60_000 }, () => {
  it('reports alert-outbox failing while the store takes no writes, sends nothing twice, and recovers by itself', async () => {
    const fx = sqliteOutbox();
    onCleanup(fx.cleanup);
    const r = await receiver();
    const metrics = new MetricsRegistry('tidemark_cloud');
    const { logger, logs } = capturedLogger();
    const health = new ResourceHealth(logger, metrics, { initialMs: 20, maxMs: 200 });
    const { worker } = harness([webhook('webhook:0', r)], { outbox: fx.store, metrics, health: health.reporter('alert-outbox'), concurrency: 4 });
    const before = transitions(3, { rule: 'before' });
    fx.commit(before, ['webhook:0']);
    await worker.start();
    await waitFor(() => fx.store.depth().count === 0, { timeoutMs: 20_000, description: 'the first three delivered' });

    // The store's connection may no longer write (SQLITE_READONLY); the evaluator's own connection (here a
    // second one on the same file) still adds transitions.
    const db = (fx.store as unknown as { db: Database.Database }).db;
    db.pragma('query_only = 1');
    const writer = new SqliteAlertStore(fx.file);
    writer.open();
    onCleanup(() => writer.stop());
    const during = transitions(6, { rule: 'during' });
    writer.commitStatus({ series: [], transitions: during.map((transition) => ({ transition, notifiers: ['webhook:0'] })), kv: new Map(), now: Date.now() });
    worker.wake();

    const failing = await waitFor(() => health.failing().find((f) => f.resource === 'alert-outbox'), { timeoutMs: 20_000, description: 'alert-outbox failing' });
    expect(failing.reason).toMatch(/readonly|read-only|query_only/i);
    expect(await counterValue(metrics.gauge('resource_up', '', ['resource']), { resource: 'alert-outbox' })).toBe(0);
    // Several failed attempts, backing off: still no notification sent twice, and nothing new sent but
    // what was in flight when writes stopped.
    const failures = metrics.counter('resource_failures_total', '', ['resource']);
    await waitFor(async () => (await counterValue(failures, { resource: 'alert-outbox' })) >= 4, { timeoutMs: 20_000, description: 'four failed attempts' });
    const sentWhileFailing = r.requests.length;
    expect(sentWhileFailing).toBeLessThanOrEqual(3 + 4);
    for (const t of [...before, ...during]) expect(r.requests.filter((q) => q.id === t.id).length).toBeLessThanOrEqual(1);

    db.pragma('query_only = 0');
    await waitFor(() => health.failing().length === 0, { timeoutMs: 20_000, description: 'alert-outbox recovered' });
    await waitFor(() => fx.store.depth().count === 0, { timeoutMs: 20_000, description: 'every row settled after recovery' });
    expect(await counterValue(metrics.gauge('resource_up', '', ['resource']), { resource: 'alert-outbox' })).toBe(1);
    // Outcomes held while failing were written, not resent: each transition arrived exactly once.
    for (const t of [...before, ...during]) expect(r.deliveredCount(t.id)).toBe(1);
    const lines = (msg: string) => logs.filter((l) => l.msg === msg).length;
    expect(lines('alert-outbox failing; retrying with backoff until it recovers')).toBe(1);
    expect(lines('alert-outbox recovered')).toBe(1);
  });
});
