import { describe, expect, it } from 'vitest';
import { counterValue } from '@tidemark/shared';
import { waitFor } from '@tidemark/shared/testing';
import type { DeliveryResult } from './notifier.js';
import { MemoryOutbox } from './testing/memory-outbox.js';
import { makeTransition } from './testing/transition-fixture.js';
import { ScriptedNotifier, transitions, useWorkerHarness, webhook } from './testing/worker-harness.js';

const { harness, receiver } = useWorkerHarness();

// Real sockets on a shared, loaded machine: generous deadlines (they bound a failure, they do not pace the test).
describe('DeliveryWorker', { timeout: 60_000 }, () => {
  it('an endpoint that is down and comes back gets every transition, each id delivered once', async () => {
    const r = await receiver();
    await r.stop();
    const { worker, outbox, metrics } = harness([webhook('webhook:0', r)]);
    const ts = transitions(20);
    for (const t of ts) outbox.add(t, ['webhook:0']);
    await worker.start();
    await waitFor(() => outbox.all().every((row) => row.attempts >= 2), { timeoutMs: 20_000, description: 'every row to have failed twice' });
    expect(await counterValue(metrics.gauge('alert_notifications_retrying', ''))).toBe(20);
    expect(outbox.count('delivered')).toBe(0);

    await r.restart();
    await waitFor(() => outbox.count('delivered') === 20, { timeoutMs: 20_000, description: 'all 20 delivered after the endpoint came back' });
    expect(r.deliveredIds().sort()).toEqual(ts.map((t) => t.id).sort());
    for (const t of ts) {
      expect(r.deliveredCount(t.id)).toBe(1);
      expect(r.body(t.id)).toMatchObject({ type: 'alert.transition', id: t.id, device: t.device });
    }
    expect(r.badSignatures).toEqual([]);
    expect(outbox.violations).toEqual([]);
    expect(await counterValue(metrics.counter('alert_notifications_sent_total', '', ['notifier']), { notifier: 'webhook:0' })).toBe(20);
    await waitFor(async () => (await counterValue(metrics.gauge('alert_outbox_depth', ''))) === 0, { timeoutMs: 20_000, description: 'depth gauge back to 0' });
    expect(await counterValue(metrics.gauge('alert_notifications_retrying', ''))).toBe(0);
  });

  it('a crash between send and record resends the same ids; a receiver deduping by id sees each once', async () => {
    const r = await receiver();
    const outbox = new MemoryOutbox();
    const ts = transitions(5);
    for (const t of ts) outbox.add(t, ['webhook:0']);
    r.hold();
    const first = harness([webhook('webhook:0', r)], { outbox, stopTimeoutMs: 50 });
    await first.worker.start();
    await waitFor(() => r.inFlight === 5, { timeoutMs: 20_000, description: 'five requests held at the receiver' });
    await first.worker.stop(); // gives up on the held sends: their outcomes are never recorded
    r.release();
    await waitFor(() => r.delivered.length === 5, { timeoutMs: 20_000, description: 'the held requests answered' });
    expect(outbox.count('pending')).toBe(5);

    const second = harness([webhook('webhook:0', r)], { outbox });
    await second.worker.start();
    await waitFor(() => outbox.count('delivered') === 5, { timeoutMs: 20_000, description: 'the restarted worker to deliver' });
    for (const t of ts) expect(r.deliveredCount(t.id)).toBe(2);
    expect(r.deliveredIds().sort()).toEqual(ts.map((t) => t.id).sort());
    expect(outbox.violations).toEqual([]);
  });

  it('410 disables the notifier, says so once, fails its rows; other notifiers carry on', async () => {
    const gone = await receiver();
    const ok = await receiver();
    gone.respondWith(410);
    const { worker, outbox, metrics, logs } = harness([webhook('webhook:0', gone), webhook('webhook:1', ok)], { concurrency: 1 });
    const ts = transitions(10);
    for (const t of ts) outbox.add(t, ['webhook:0', 'webhook:1']);
    await worker.start();
    await waitFor(() => outbox.count('pending') === 0, { timeoutMs: 20_000, description: 'every row settled' });

    expect(worker.isDisabled('webhook:0')).toBe(true);
    expect(worker.isDisabled('webhook:1')).toBe(false);
    expect(gone.requests).toHaveLength(1); // with one send at a time, nothing more went to the gone endpoint
    expect(ok.deliveredIds().sort()).toEqual(ts.map((t) => t.id).sort());
    expect(outbox.all().filter((row) => row.notifier === 'webhook:0').every((row) => row.status === 'failed')).toBe(true);
    const said = logs.filter((l) => String(l.msg).includes('HTTP 410 Gone: endpoint disabled'));
    expect(said).toHaveLength(1);
    expect(said[0]).toMatchObject({ level: 'warn', notifier: 'webhook:0', url: gone.url });
    expect(String(said[0]!.msg)).toContain(gone.url);
    expect(await counterValue(metrics.gauge('alert_notifier_disabled', '', ['notifier']), { notifier: 'webhook:0' })).toBe(1);
    expect(await counterValue(metrics.gauge('alert_notifier_disabled', '', ['notifier']), { notifier: 'webhook:1' })).toBe(0);
    expect(await counterValue(metrics.counter('alert_notifications_failed_total', '', ['notifier', 'reason']), { notifier: 'webhook:0', reason: 'gone' })).toBe(10);
  });

  it('never has more sends in flight than the bound, and never two for one row', async () => {
    const r = await receiver();
    r.hold();
    const { worker, outbox } = harness([webhook('webhook:0', r)], { concurrency: 4 });
    const ts = transitions(30);
    for (const t of ts) outbox.add(t, ['webhook:0']);
    await worker.start();
    await waitFor(() => r.inFlight === 4, { timeoutMs: 20_000, description: 'four requests held' });
    const polled = outbox.depthCalls;
    for (let i = 0; i < 5; i++) worker.wake();
    // Let the worker poll several more times while full; it must not start a fifth send.
    await waitFor(() => outbox.depthCalls >= polled + 5, { timeoutMs: 20_000, description: 'five more polls' });
    expect(worker.inFlightCount).toBe(4);
    expect(r.inFlight).toBe(4);
    r.release();
    await waitFor(() => outbox.count('delivered') === 30, { timeoutMs: 20_000, description: 'all 30 delivered' });
    expect(r.maxInFlight).toBe(4);
    for (const t of ts) expect(r.requests.filter((q) => q.id === t.id)).toHaveLength(1);
  });

  it('the bound holds across notifiers', async () => {
    const shared = { now: 0, max: 0 };
    let open = false;
    const gate = () => waitFor(() => open, { intervalMs: 5, timeoutMs: 20_000 }).then(() => ({ kind: 'delivered' }) as const);
    const a = new ScriptedNotifier('a', gate, shared);
    const b = new ScriptedNotifier('b', gate, shared);
    const { worker, outbox } = harness([a, b], { concurrency: 3 });
    for (const t of transitions(10)) outbox.add(t, ['a', 'b']);
    await worker.start();
    await waitFor(() => shared.now === 3, { timeoutMs: 20_000, description: 'three sends in flight' });
    open = true;
    await waitFor(() => outbox.count('delivered') === 20, { timeoutMs: 20_000, description: 'all 20 rows delivered' });
    expect(shared.max).toBe(3);
  });

  it('a notifier that hangs cannot take every slot: the others keep delivering', async () => {
    const hung = new ScriptedNotifier('hung', () => new Promise<DeliveryResult>(() => undefined));
    const quick = new ScriptedNotifier('quick', () => ({ kind: 'delivered' }));
    const { worker, outbox } = harness([hung, quick], { concurrency: 4, stopTimeoutMs: 50 });
    const clock0 = Date.now() - 60_000;
    for (const t of transitions(20)) outbox.add(t, ['hung'], clock0); // an older backlog of the hung one
    const later = transitions(5);
    for (const t of later) outbox.add(t, ['quick']);
    await worker.start();
    await waitFor(() => later.every((t) => outbox.row(t.id, 'quick')!.status === 'delivered'), { timeoutMs: 20_000, description: 'the quick notifier delivered' });
    expect(hung.inFlight).toBe(3); // concurrency − 1
    expect(hung.calls).toHaveLength(3);
  });

  it('fails a row that is still not delivered at the horizon', async () => {
    const r = await receiver();
    r.respondWith(503);
    const { worker, outbox, metrics, logs } = harness([webhook('webhook:0', r)], { retry: { baseMs: 10, capMs: 40, horizonMs: 400 } });
    const ts = transitions(3);
    for (const t of ts) outbox.add(t, ['webhook:0']);
    await worker.start();
    await waitFor(() => outbox.count('failed') === 3, { timeoutMs: 20_000, description: 'all three failed at the horizon' });
    for (const row of outbox.all()) {
      expect(row.attempts).toBeGreaterThanOrEqual(2);
      expect(row.lastError).toMatch(/^gave up after \d+ attempts: HTTP 503$/);
    }
    expect(await counterValue(metrics.counter('alert_notifications_failed_total', '', ['notifier', 'reason']), { reason: 'horizon' })).toBe(3);
    expect(logs.some((l) => l.level === 'warn' && String(l.msg).includes('retry horizon'))).toBe(true);
    expect(r.delivered).toHaveLength(0);
  });

  it('honours Retry-After, treats a throwing notifier as a retry, fails rejected and unconfigured rows', async () => {
    let clock = 1_000_000;
    const later = new ScriptedNotifier('later', () => ({ kind: 'retry', error: 'HTTP 429', retryAfterMs: 30_000 }));
    const throws = new ScriptedNotifier('throws', () => {
      throw new Error('boom');
    });
    const refuses = new ScriptedNotifier('refuses', () => ({ kind: 'rejected', error: 'HTTP 400' }));
    // random 0.5: the thrown row's retry is due 5 ms on, i.e. not before the test moves the clock (full jitter
    // can draw 0, and a row due at once again is retried every poll, so `attempts === 1` could be missed).
    const { worker, outbox, metrics } = harness([later, throws, refuses], { now: () => clock, random: () => 0.5, retry: { baseMs: 10, capMs: 60_000, horizonMs: 3_600_000 } });
    const t = makeTransition();
    outbox.add(t, ['later', 'throws', 'refuses', 'removed'], clock);
    await worker.start();
    await waitFor(() => outbox.row(t.id, 'later')!.attempts === 1 && outbox.row(t.id, 'throws')!.attempts === 1 && outbox.row(t.id, 'refuses')!.status === 'failed', {
      timeoutMs: 20_000,
      description: 'one attempt each',
    });
    expect(outbox.row(t.id, 'later')!.nextAt).toBeGreaterThanOrEqual(clock + 30_000);
    expect(outbox.row(t.id, 'throws')).toMatchObject({ status: 'pending', lastError: 'boom' });
    expect(outbox.row(t.id, 'throws')!.nextAt).toBeLessThanOrEqual(clock + 10);
    expect(outbox.row(t.id, 'removed')).toMatchObject({ status: 'failed', lastError: 'notifier removed is not configured' });
    const failed = metrics.counter('alert_notifications_failed_total', '', ['notifier', 'reason']);
    expect(await counterValue(failed, { notifier: 'refuses', reason: 'rejected' })).toBe(1);
    expect(await counterValue(failed, { notifier: 'removed', reason: 'unconfigured' })).toBe(1);
    // One second on: the thrown row is due again, the 429 row is not (Retry-After 30 s).
    clock += 1_000;
    await waitFor(() => throws.calls.length >= 2, { timeoutMs: 20_000, description: 'the throwing notifier retried' });
    expect(later.calls).toHaveLength(1);
    clock += 29_000;
    await waitFor(() => later.calls.length === 2, { timeoutMs: 20_000, description: 'the 429 row retried once its time came' });
  });

  it('reports outbox depth and the age of the oldest row', async () => {
    const clock = 10_000_000;
    const never = new ScriptedNotifier('never', () => ({ kind: 'retry', error: 'down' }));
    const { worker, outbox, metrics } = harness([never], { now: () => clock, retry: { baseMs: 10, capMs: 50, horizonMs: 3_600_000 } });
    outbox.add(makeTransition(), ['never'], clock - 90_000);
    outbox.add(makeTransition(), ['never'], clock - 1_000);
    await worker.start();
    await waitFor(async () => (await counterValue(metrics.gauge('alert_outbox_depth', ''))) === 2, { timeoutMs: 20_000, description: 'depth 2' });
    expect(await counterValue(metrics.gauge('alert_outbox_oldest_age_seconds', ''))).toBe(90);
    const text = await metrics.metrics();
    expect(text).toContain('tidemark_cloud_alert_outbox_depth 2');
  });

  it('stop() returns within its bound while a send hangs, and nothing runs after it', async () => {
    const hang = new ScriptedNotifier('hang', () => new Promise<DeliveryResult>(() => undefined));
    const { worker, outbox } = harness([hang], { stopTimeoutMs: 100 });
    outbox.add(makeTransition(), ['hang']);
    await worker.start();
    await waitFor(() => hang.calls.length === 1, { timeoutMs: 20_000, description: 'the send started' });
    const t0 = Date.now();
    await worker.stop();
    expect(Date.now() - t0).toBeLessThan(1_500);
    const polls = outbox.dueCalls;
    outbox.add(makeTransition(), ['hang']);
    worker.wake();
    await expect(waitFor(() => outbox.dueCalls > polls, { timeoutMs: 200 })).rejects.toThrow(/timed out/);
  });
});
