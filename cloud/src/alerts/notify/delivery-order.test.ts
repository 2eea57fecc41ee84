// The delivery order through the real worker and the real SQLite outbox: a critical transition is not held
// up behind a burst of info ones (BENCHMARKS.md "Start-up burst": with the old oldest-first outbox it was
// the 1,001st sent), one noisy rule does not hold up another of its severity, and — whatever the receivers
// answer (errors, retries, refusals, slow answers) — an alert series reaches each notifier in commit order:
// a transition is never sent before the one before it in its series is settled.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { waitFor } from '@tidemark/shared/testing';
import type { DeliveryResult } from './notifier.js';
import { sqliteOutbox } from './testing/sqlite-outbox-fixture.js';
import { makeTransition } from './testing/transition-fixture.js';
import { ScriptedNotifier, transitions, useWorkerHarness } from './testing/worker-harness.js';

const { harness, onCleanup } = useWorkerHarness();

function outbox() {
  const fx = sqliteOutbox();
  onCleanup(fx.cleanup);
  return fx;
}

const delivered = (): DeliveryResult => ({ kind: 'delivered' });

describe('delivery order', { timeout: 120_000 }, () => {
  it('a critical transition written after 1,000 info ones is among the first `concurrency` sent', async () => {
    const fx = outbox();
    // As at an agents' start: anomaly firings of 1,000 series, committed chunk by chunk, then one critical.
    for (let chunk = 0; chunk < 10; chunk++) fx.commit(transitions(100, { rule: `drift-${chunk}`, severity: 'info' }), ['webhook:a']);
    const critical = makeTransition({ rule: 'oven-hot', severity: 'critical' });
    fx.commit([critical], ['webhook:a']);
    const webhook = new ScriptedNotifier('webhook:a', delivered);
    const { worker } = harness([webhook], { outbox: fx.store, concurrency: 8 });
    await worker.start();
    await waitFor(() => webhook.calls.length >= 8, { timeoutMs: 20_000, description: 'eight sends' });
    expect(webhook.calls.slice(0, 8)).toContain(critical.id);
  });

  it('a quiet rule is not held up behind a noisy rule of the same severity', async () => {
    const fx = outbox();
    const noisy = Array.from({ length: 500 }, (_, i) => makeTransition({ rule: 'noisy', severity: 'info', device: `gw-${i}` }));
    fx.commit(noisy, ['log']);
    const quiet = Array.from({ length: 3 }, (_, i) => makeTransition({ rule: 'quiet', severity: 'info', device: `gw-${i}` }));
    fx.commit(quiet, ['log']);
    const log = new ScriptedNotifier('log', delivered);
    const { worker } = harness([log], { outbox: fx.store, concurrency: 2 });
    await worker.start();
    await waitFor(() => log.calls.length >= 8, { timeoutMs: 20_000, description: 'eight sends' });
    // Round robin: the quiet rule's three go out within the first 6 sends, not after the noisy rule's 500.
    expect(quiet.every((t) => log.calls.slice(0, 6).includes(t.id))).toBe(true);
  });

  it('an alert series reaches each notifier in commit order, whatever the receivers answer', async () => {
    type Answer = 'delivered' | 'retry' | 'rejected' | 'throw';
    const answers = fc.array(fc.constantFrom<Answer>('delivered', 'delivered', 'delivered', 'retry', 'retry', 'rejected', 'throw'), { minLength: 1, maxLength: 30 });
    const scenario = fc.record({
      // Each entry: (series, severity of that series' rule, commit in which chunk).
      events: fc.array(fc.record({ series: fc.nat(3), chunk: fc.nat(2) }), { minLength: 1, maxLength: 14 }),
      severities: fc.tuple(...[0, 1, 2, 3].map(() => fc.constantFrom('critical', 'warning', 'info'))),
      answersA: answers,
      answersB: answers,
      delays: fc.array(fc.nat(3), { minLength: 1, maxLength: 10 }),
      concurrency: fc.integer({ min: 1, max: 4 }),
    });
    await fc.assert(
      fc.asyncProperty(scenario, async (sc) => {
        const fx = sqliteOutbox();
        try {
          // Series k alternates firing/resolved; its rule (and so its severity and round robin) is `rule-k`.
          const states = new Map<number, number>();
          // In commit order: chunk by chunk.
          const ts = [...sc.events].sort((x, y) => x.chunk - y.chunk).map(({ series, chunk }) => {
            const n = states.get(series) ?? 0;
            states.set(series, n + 1);
            const t = makeTransition({ rule: `rule-${series}`, device: 'd', severity: sc.severities[series]!, state: n % 2 === 0 ? 'firing' : 'resolved' });
            return { t, chunk };
          });
          const order = new Map(ts.map(({ t }, i) => [t.id, i]));
          let clock = 0;
          const attempts: { notifier: string; id: string; start: number; end: number }[] = [];
          const scripted = (name: string, script: Answer[]) =>
            new ScriptedNotifier(name, async (t, call) => {
              const start = ++clock;
              await new Promise((r) => setTimeout(r, sc.delays[call % sc.delays.length]));
              attempts.push({ notifier: name, id: t.id, start, end: ++clock });
              const a = script[call % script.length]!;
              if (a === 'throw') throw new Error('boom');
              return a === 'delivered' ? { kind: 'delivered' } : a === 'retry' ? { kind: 'retry', error: 'HTTP 503' } : { kind: 'rejected', error: 'HTTP 400' };
            });
          const notifiers = [scripted('a', sc.answersA), scripted('b', sc.answersB)];
          const { worker } = harness(notifiers, { outbox: fx.store, concurrency: sc.concurrency, pollIntervalMs: 2, retry: { baseMs: 1, capMs: 4, horizonMs: 200 } });
          fx.commit(ts.filter((x) => x.chunk === 0).map((x) => x.t), ['a', 'b']);
          await worker.start();
          for (const chunk of [1, 2]) {
            fx.commit(ts.filter((x) => x.chunk === chunk).map((x) => x.t), ['a', 'b']);
            worker.wake();
          }
          await waitFor(() => fx.store.depth().count === 0, { timeoutMs: 30_000, intervalMs: 5, description: 'every row settled' });
          await worker.stop();
          for (const name of ['a', 'b']) {
            const mine = attempts.filter((x) => x.notifier === name);
            for (const later of mine) {
              const series = ts[order.get(later.id)!]!.t.alert_id;
              for (const earlier of mine) {
                if (ts[order.get(earlier.id)!]!.t.alert_id !== series || order.get(earlier.id)! >= order.get(later.id)!) continue;
                // Every attempt at an earlier transition of the series ended before any attempt at a later one began.
                expect(earlier.end, `${name}: ${earlier.id} (#${order.get(earlier.id)}) overlaps or follows ${later.id} (#${order.get(later.id)})`).toBeLessThan(later.start);
              }
            }
            // At least once: each transition was tried at least once per notifier (those past the horizon too).
            expect(new Set(mine.map((x) => x.id)).size).toBe(ts.length);
          }
        } finally {
          await fx.cleanup();
        }
      }),
      { numRuns: 15 },
    );
  });
});
