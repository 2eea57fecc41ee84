// The Outbox contract suite: what every outbox (the SQLite alert store's, the in-memory test fake) must do
// for the DeliveryWorker, tested only through the interface. A backend's test file calls
// describeOutboxContract with a factory. Test-only: imports vitest and fast-check. Order is part of the
// contract (docs/alerts.md "Delivery order"): severity first (critical, warning, info), then a round robin
// over the rules of a severity, then commit order (for one transition, the order of its notifiers list);
// and a row is due only while no earlier row of its alert series to its notifier is pending. MemoryOutbox
// is the reference model the random-sequence test holds every backend to.
import fc from 'fast-check';
import { afterEach, describe, expect, it } from 'vitest';
import type { AlertTransition } from '../alert-types.js';
import type { Outbox, OutboxItem } from './notifier.js';
import { MemoryOutbox } from './testing/memory-outbox.js';
import { makeTransition } from './testing/transition-fixture.js';

export interface OutboxFixture {
  /** An outbox over fresh, empty storage. */
  outbox: Outbox;
  /** Writes one row per notifier for `transition`, as the evaluator's transaction does. */
  add(transition: AlertTransition, notifiers: readonly string[], createdAt: number): void | Promise<void>;
  /** Closes the storage and opens it again; absent when the backend is not persistent (see `persistent`). */
  reopen?: () => Promise<Outbox>;
  cleanup: () => Promise<void>;
}

const T0 = 1_767_225_600_000; // 2026-01-01T00:00:00Z

const key = (i: Pick<OutboxItem, 'transitionId' | 'notifier'>) => `${i.notifier}|${i.transitionId}`;

/**
 * `persistent`: the backend keeps its rows across a reopen (its fixture has `reopen`); the reopen cases are
 * registered only then, so a memory backend neither runs nor reports them.
 */
export function describeOutboxContract(name: string, makeFixture: () => Promise<OutboxFixture>, opts: { persistent: boolean }): void {
  describe(`Outbox contract: ${name}`, () => {
    let fx: OutboxFixture | undefined;
    const open = async () => (fx = await makeFixture());
    afterEach(async () => {
      await fx?.cleanup();
      fx = undefined;
    });

    it('a new row is due at once, with its transition intact', async () => {
      const { outbox, add } = await open();
      const t = makeTransition({ sensor: null, value: null, late: true, labels: { site: 'plant-3', line: '2' }, message: 'unicode ✓ "quoted"' });
      await add(t, ['webhook:a'], T0);
      expect(outbox.due(T0, 10)).toEqual([{ transitionId: t.id, notifier: 'webhook:a', attempts: 0, createdAt: T0, transition: t }]);
      expect(outbox.depth()).toEqual({ count: 1, oldestCreatedAt: T0 });
    });

    it('serves one rule’s due rows in commit order, at most `limit`, one row per (transition, notifier)', async () => {
      const { outbox, add } = await open();
      const ts = [0, 1, 2].map((k) => makeTransition({ device: `oven-${k}` }));
      for (const [k, t] of ts.entries()) await add(t, ['log', 'mqtt'], T0 + k * 1_000);
      const due = outbox.due(T0 + 10_000, 100);
      expect(due.map(key)).toEqual(ts.flatMap((t) => [`log|${t.id}`, `mqtt|${t.id}`]));
      expect(outbox.due(T0 + 10_000, 2).map(key)).toEqual([`log|${ts[0]!.id}`, `mqtt|${ts[0]!.id}`]);
      expect(outbox.due(T0 + 10_000, 0)).toEqual([]);
      expect(outbox.depth()).toEqual({ count: 6, oldestCreatedAt: T0 });
    });

    it('serves critical before warning before info, whatever was written first', async () => {
      const { outbox, add } = await open();
      const info = Array.from({ length: 50 }, (_, k) => makeTransition({ rule: 'drift', device: `gw-${k}`, severity: 'info' }));
      for (const t of info) await add(t, ['webhook:a'], T0);
      const warning = makeTransition({ rule: 'door', severity: 'warning' });
      const critical = makeTransition({ rule: 'oven-hot', severity: 'critical' });
      await add(warning, ['webhook:a'], T0 + 1);
      await add(critical, ['webhook:a'], T0 + 2);
      expect(outbox.due(T0 + 10, 3).map((d) => d.transitionId)).toEqual([critical.id, warning.id, info[0]!.id]);
      // A retry keeps its severity: the critical one, failed once and due again, still comes first.
      outbox.retryAt(critical.id, 'webhook:a', 1, T0 + 100, 'HTTP 503');
      expect(outbox.due(T0 + 10, 1)[0]!.transitionId).toBe(warning.id);
      expect(outbox.due(T0 + 100, 1)[0]).toMatchObject({ transitionId: critical.id, attempts: 1 });
    });

    it('shares a severity round robin across rules: a rule’s backlog does not hold back another rule', async () => {
      const { outbox, add } = await open();
      const noisy = Array.from({ length: 20 }, (_, k) => makeTransition({ rule: 'noisy', device: `gw-${k}`, severity: 'info' }));
      for (const t of noisy) await add(t, ['log'], T0);
      const quiet = Array.from({ length: 3 }, (_, k) => makeTransition({ rule: 'quiet', device: `gw-${k}`, severity: 'info' }));
      for (const t of quiet) await add(t, ['log'], T0 + 1);
      expect(outbox.due(T0 + 10, 8).map((d) => d.transition.rule)).toEqual(['noisy', 'quiet', 'noisy', 'quiet', 'noisy', 'quiet', 'noisy', 'noisy']);
      // A rule with nothing waiting joins at the head of the queue, not behind the noisy rule's 19 others.
      outbox.delivered(noisy[0]!.id, 'log', T0 + 2);
      const late = makeTransition({ rule: 'late', severity: 'info' });
      await add(late, ['log'], T0 + 3);
      expect(outbox.due(T0 + 10, 3).map((d) => d.transition.rule)).toEqual(['quiet', 'late', 'noisy']);
    });

    it('serves an alert series to a notifier in commit order, one row at a time, each notifier on its own', async () => {
      const { outbox, add } = await open();
      const firing = makeTransition({ state: 'firing', previous: 'pending' });
      const resolved = makeTransition({ state: 'resolved', previous: 'firing', severity: 'critical' });
      const other = makeTransition({ device: 'oven-2' });
      await add(firing, ['log', 'webhook:a'], T0);
      await add(resolved, ['log', 'webhook:a'], T0 + 1);
      await add(other, ['webhook:a'], T0 + 2);
      expect(outbox.due(T0 + 10, 10).map(key)).toEqual([`log|${firing.id}`, `webhook:a|${firing.id}`, `webhook:a|${other.id}`]);
      // The firing waits for a retry: the resolve behind it waits too, even though it is due.
      outbox.retryAt(firing.id, 'webhook:a', 1, T0 + 1_000, 'HTTP 503');
      outbox.delivered(firing.id, 'log', T0 + 20);
      expect(outbox.due(T0 + 30, 10).map(key)).toEqual([`log|${resolved.id}`, `webhook:a|${other.id}`]);
      // Settled either way (delivered or given up), the next one is due.
      outbox.failed(firing.id, 'webhook:a', 'HTTP 400', T0 + 40);
      expect(outbox.due(T0 + 50, 10).map(key)).toEqual([`log|${resolved.id}`, `webhook:a|${resolved.id}`, `webhook:a|${other.id}`]);
    });

    it('delivered and failed rows leave the queue; the other notifiers’ rows stay', async () => {
      const { outbox, add } = await open();
      const t = makeTransition();
      const u = makeTransition();
      await add(t, ['log', 'mqtt', 'webhook:a'], T0);
      await add(u, ['log'], T0 + 5);
      outbox.delivered(t.id, 'log', T0 + 10);
      outbox.failed(t.id, 'webhook:a', 'HTTP 400', T0 + 10);
      expect(outbox.due(T0 + 20, 10).map(key)).toEqual([`mqtt|${t.id}`, `log|${u.id}`]);
      expect(outbox.depth()).toEqual({ count: 2, oldestCreatedAt: T0 });
      outbox.delivered(t.id, 'mqtt', T0 + 30);
      expect(outbox.depth()).toEqual({ count: 1, oldestCreatedAt: T0 + 5 });
      outbox.failed(u.id, 'log', 'gone', T0 + 30);
      expect(outbox.due(T0 + 40, 10)).toEqual([]);
      expect(outbox.depth()).toEqual({ count: 0, oldestCreatedAt: null });
    });

    it('a row scheduled for retry is not due before its time, counts in depth, and carries its attempts', async () => {
      const { outbox, add } = await open();
      const t = makeTransition();
      await add(t, ['webhook:a'], T0);
      outbox.retryAt(t.id, 'webhook:a', 1, T0 + 5_000, 'HTTP 503');
      expect(outbox.due(T0 + 4_999, 10)).toEqual([]);
      expect(outbox.depth()).toEqual({ count: 1, oldestCreatedAt: T0 });
      expect(outbox.due(T0 + 5_000, 10)).toEqual([{ transitionId: t.id, notifier: 'webhook:a', attempts: 1, createdAt: T0, transition: t }]);
      outbox.retryAt(t.id, 'webhook:a', 2, T0 + 9_000, 'ECONNREFUSED');
      expect(outbox.due(T0 + 9_000, 10)[0]!.attempts).toBe(2);
    });

    if (opts.persistent)
      it('keeps rows, attempts and schedules across a reopen', async () => {
      const f = await open();
      if (!f.reopen) throw new Error(`${name}: declared persistent, but its fixture cannot reopen`);
      const t = makeTransition();
      const u = makeTransition({ device: 'oven-2' });
      await f.add(t, ['log', 'webhook:a'], T0);
      await f.add(u, ['webhook:a'], T0 + 1);
      f.outbox.delivered(t.id, 'log', T0 + 2);
      f.outbox.retryAt(t.id, 'webhook:a', 3, T0 + 60_000, 'HTTP 500');
      const again = await f.reopen();
      expect(again.due(T0 + 10, 10).map(key)).toEqual([`webhook:a|${u.id}`]);
      expect(again.due(T0 + 60_000, 10).map((d) => [key(d), d.attempts])).toEqual([
        [`webhook:a|${t.id}`, 3],
        [`webhook:a|${u.id}`, 0],
      ]);
      expect(again.depth()).toEqual({ count: 2, oldestCreatedAt: T0 });
    });

    it('behaves like the reference model over random operation sequences', async () => {
      const op = fc.oneof(
        fc.record({
          kind: fc.constant('add' as const),
          notifiers: fc.subarray(['log', 'mqtt', 'webhook:a'], { minLength: 1 }),
          rule: fc.constantFrom('a', 'b', 'c'),
          device: fc.constantFrom('d1', 'd2'),
          severity: fc.constantFrom('critical', 'warning', 'info'),
          dt: fc.integer({ min: 0, max: 3 }),
        }),
        fc.record({ kind: fc.constantFrom('delivered' as const, 'failed' as const, 'retry' as const), pick: fc.nat(), dt: fc.integer({ min: 0, max: 50 }) }),
        fc.record({ kind: fc.constant('due' as const), limit: fc.integer({ min: 0, max: 8 }), dt: fc.integer({ min: 0, max: 50 }) }),
      );
      await fc.assert(
        fc.asyncProperty(fc.array(op, { maxLength: 40 }), async (ops) => {
          await fx?.cleanup();
          const f = await open();
          const model = new MemoryOutbox();
          let now = T0;
          for (const o of ops) {
            now += o.dt;
            if (o.kind === 'add') {
              const t = makeTransition({ rule: o.rule, device: o.device, severity: o.severity });
              await f.add(t, o.notifiers, now);
              model.add(t, o.notifiers, now);
            } else if (o.kind === 'due') {
              const due = f.outbox.due(now, o.limit);
              expect(due.map(key)).toEqual(model.due(now, o.limit).map(key));
              // Never a row whose alert series has an earlier row pending to the same notifier.
              for (const d of due) {
                const earlier = model.all().filter((r) => r.status === 'pending' && r.notifier === d.notifier && r.transition.alert_id === d.transition.alert_id);
                expect(earlier.map((r) => r.transitionId)[0]).toBe(d.transitionId);
              }
            } else {
              const pending = model.due(Number.MAX_SAFE_INTEGER, 1_000);
              if (pending.length === 0) continue;
              const row = pending[o.pick % pending.length]!;
              for (const ob of [f.outbox, model]) {
                if (o.kind === 'delivered') ob.delivered(row.transitionId, row.notifier, now);
                else if (o.kind === 'failed') ob.failed(row.transitionId, row.notifier, 'x', now);
                else ob.retryAt(row.transitionId, row.notifier, row.attempts + 1, now + 20, 'x');
              }
            }
            expect(f.outbox.depth()).toEqual(model.depth());
          }
        }),
        { numRuns: 40 },
      );
    });
  });
}
