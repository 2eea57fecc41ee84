import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { signWebhook } from './standard-webhooks.js';
import { makeTransition } from './testing/transition-fixture.js';
import { WebhookReceiver } from './testing/webhook-receiver.js';
import { classifyResponse, parseRetryAfter, WebhookNotifier } from './webhook-notifier.js';

const SECRET = 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw';
const cleanup: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanup.splice(0).reverse()) await c();
});

async function receiver(): Promise<WebhookReceiver> {
  const r = await WebhookReceiver.start({ secret: SECRET });
  cleanup.push(() => r.close());
  return r;
}

describe('WebhookNotifier', { timeout: 30_000 }, () => {
  it('POSTs the transition with Standard Webhooks headers a verifier accepts', async () => {
    const r = await receiver();
    const n = new WebhookNotifier({ name: 'webhook:0', url: r.url, secret: SECRET });
    const t = makeTransition();
    expect(await n.send(t)).toEqual({ kind: 'delivered' });
    expect(r.badSignatures).toEqual([]);
    expect(r.deliveredIds()).toEqual([t.id]);
    expect(r.body(t.id)).toEqual({ type: 'alert.transition', ...t });
    const req = r.delivered[0]!;
    expect(Number(req.timestamp)).toBeGreaterThan(Date.now() / 1000 - 60);
    expect(req.signature).toBe(signWebhook(SECRET, t.id, Number(req.timestamp), req.body));
  });

  it('a receiver holding another secret sees a bad signature', async () => {
    const r = await receiver();
    const n = new WebhookNotifier({ name: 'webhook:0', url: r.url, secret: 'some other secret' });
    const t = makeTransition();
    expect(await n.send(t)).toEqual({ kind: 'rejected', error: 'HTTP 401' });
    expect(r.badSignatures.map((b) => [b.id, b.reason])).toEqual([[t.id, 'no_matching_signature']]);
  });

  it('classifies answers: 410 gone, 5xx/429/408 retry with Retry-After, other 4xx rejected', async () => {
    const r = await receiver();
    const n = new WebhookNotifier({ name: 'webhook:0', url: r.url, secret: SECRET });
    r.respondWith(410, { times: 1 });
    expect(await n.send(makeTransition())).toEqual({ kind: 'gone', error: 'HTTP 410 Gone' });
    r.respondWith(503, { times: 1, retryAfter: '7' });
    expect(await n.send(makeTransition())).toEqual({ kind: 'retry', error: 'HTTP 503', retryAfterMs: 7_000 });
    r.respondWith(429, { times: 1 });
    expect(await n.send(makeTransition())).toEqual({ kind: 'retry', error: 'HTTP 429' });
    r.respondWith(408, { times: 1 });
    expect((await n.send(makeTransition())).kind).toBe('retry');
    r.respondWith(400, { times: 1 });
    expect(await n.send(makeTransition())).toEqual({ kind: 'rejected', error: 'HTTP 400' });
    r.respondWith(301, { times: 1 });
    expect((await n.send(makeTransition())).kind).toBe('retry');
    expect(await n.send(makeTransition())).toEqual({ kind: 'delivered' });
  });

  it('a refused connection is a retry, and so is a receiver that does not answer in time', async () => {
    const r = await receiver();
    await r.stop();
    const down = new WebhookNotifier({ name: 'webhook:0', url: r.url, secret: SECRET });
    const refused = await down.send(makeTransition());
    expect(refused.kind).toBe('retry');
    expect(refused.kind === 'retry' && refused.error).toMatch(/ECONNREFUSED/);

    const silent = createServer(() => undefined); // accepts, never answers
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    cleanup.push(async () => {
      silent.closeAllConnections();
      await new Promise((resolve) => silent.close(resolve));
    });
    const port = (silent.address() as AddressInfo).port;
    const slow = new WebhookNotifier({ name: 'webhook:1', url: `http://127.0.0.1:${port}/`, secret: SECRET, timeoutMs: 150 });
    expect(await slow.send(makeTransition())).toEqual({ kind: 'retry', error: 'timed out after 150 ms' });
  });

  it('each attempt of a transition carries the same webhook-id, with its own timestamp and signature', async () => {
    const r = await receiver();
    let clock = 1_800_000_000_000;
    const n = new WebhookNotifier({ name: 'webhook:0', url: r.url, secret: SECRET, now: () => clock });
    const r2 = await WebhookReceiver.start({ secret: SECRET, toleranceSeconds: 10 ** 9 });
    cleanup.push(() => r2.close());
    const n2 = new WebhookNotifier({ name: 'webhook:0', url: r2.url, secret: SECRET, now: () => clock });
    const t = makeTransition();
    r2.respondWith(500, { times: 1 });
    expect((await n2.send(t)).kind).toBe('retry');
    clock += 5_000;
    expect((await n2.send(t)).kind).toBe('delivered');
    expect(r2.requests.map((q) => q.id)).toEqual([t.id, t.id]);
    expect(r2.requests.map((q) => q.timestamp)).toEqual(['1800000000', '1800000005']);
    expect(r2.requests[0]!.signature).not.toBe(r2.requests[1]!.signature);
    expect(r2.deliveredCount(t.id)).toBe(1);
    // The receiver with the default 5 min tolerance refuses a timestamp from 2027.
    expect((await n.send(t)).kind).toBe('rejected');
    expect(r.badSignatures.map((b) => b.reason)).toEqual(['timestamp_out_of_tolerance']);
  });
});

describe('Retry-After and status classification', () => {
  it('reads delay-seconds and HTTP dates', () => {
    const now = Date.parse('2026-01-01T00:00:00Z');
    expect(parseRetryAfter('120', now)).toBe(120_000);
    expect(parseRetryAfter('Thu, 01 Jan 2026 00:00:30 GMT', now)).toBe(30_000);
    expect(parseRetryAfter('Wed, 31 Dec 2025 00:00:00 GMT', now)).toBe(0);
    expect(parseRetryAfter('soon', now)).toBeUndefined();
    expect(parseRetryAfter(null, now)).toBeUndefined();
  });

  it('maps every status class', () => {
    expect(classifyResponse(200, null, 0)).toEqual({ kind: 'delivered' });
    expect(classifyResponse(299, null, 0)).toEqual({ kind: 'delivered' });
    expect(classifyResponse(404, '5', 0)).toEqual({ kind: 'rejected', error: 'HTTP 404' });
    expect(classifyResponse(500, '5', 0)).toEqual({ kind: 'retry', error: 'HTTP 500', retryAfterMs: 5_000 });
    expect(classifyResponse(410, null, 0).kind).toBe('gone');
  });
});
