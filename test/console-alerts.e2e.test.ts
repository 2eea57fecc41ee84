// The console's alerts view in chromium against the alerts API contract (SPEC "HTTP API": GET /api/v1/alerts,
// POST /api/v1/alerts/{id}/ack with scope operate). An in-process stub serves the contract beside the real
// console route, so the cases a live collector makes slow or awkward are checked quickly: an alert appearing
// while the view is open, a 403 for a token without operate explained to the user, the fleet's alert count,
// and resolved alerts as history. test/console.e2e.test.ts fires and acks a real rule on a real collector.
import type { AddressInfo } from 'node:net';
import Fastify, { type FastifyInstance } from 'fastify';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '@tidemark/shared';
import { registerConsoleRoute } from '../cloud/src/api/console-route.js';
import { launchChromium, newPage, screenshot } from './support/browser.js';

interface AlertItem {
  id: string;
  rule: string;
  device: string;
  sensor: string;
  severity: string;
  state: string;
  value: number;
  since: string;
  event_time: string;
  acked_by: string | null;
  message: string;
  late: boolean;
}

describe('console alerts view against the alerts API contract', () => {
  let app: FastifyInstance;
  let base: string;
  let browser: Browser;
  const alerts: AlertItem[] = [];
  const acks: { id: string; auth: string | undefined }[] = [];
  let operate = true;

  beforeAll(async () => {
    browser = await launchChromium();
    app = Fastify();
    registerConsoleRoute(app, { logger: createLogger({ name: 'test', level: 'silent' }) });
    app.get('/api/v1/devices', async () => ({
      items: [{ id: 'oven-02', online: true, last_seen: new Date().toISOString(), backlog_readings: 0, oldest_buffered_time: null, clock_synced: true, readings: 10 }],
    }));
    app.get('/api/v1/alerts', async (req) => {
      const q = req.query as { state?: string };
      return { items: alerts.filter((a) => !q.state || a.state === q.state), next_cursor: null };
    });
    app.post('/api/v1/alerts/:id/ack', async (req, reply) => {
      const { id } = req.params as { id: string };
      if (!operate) return reply.code(403).send({ error: { code: 'forbidden', message: 'scope operate required' } });
      const a = alerts.find((x) => x.id === id);
      if (!a) return reply.code(404).send({ error: { code: 'not_found', message: 'no such alert' } });
      acks.push({ id, auth: req.headers.authorization });
      a.acked_by = 'ops';
      return a;
    });
    app.get('/api/v1/stream', async (_req, reply) => reply.code(501).send({ error: { code: 'not_available', message: 'no stream' } }));
    await app.listen({ host: '127.0.0.1', port: 0 });
    base = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
  });

  afterAll(async () => {
    await browser?.close();
    await app?.close();
  });

  it('shows an alert that fires while open, counts it in the fleet, and acks it', async () => {
    const { page, offHost } = await newPage(browser);
    await page.goto(`${base}/#/alerts?state=firing`);
    await page.locator('.alerts[data-configured="true"]').waitFor({ timeout: 15_000 });
    expect(await page.locator('#alerts-body').textContent()).toContain('No firing alerts');

    // The rule fires (the view refreshes on its own: no reload).
    const now = Date.now();
    alerts.push({
      id: 'a-1', rule: 'oven-hot', device: 'oven-02', sensor: 'temp_c', severity: 'critical', state: 'firing', value: 251.5,
      since: new Date(now - 120_000).toISOString(), event_time: new Date(now - 5_000).toISOString(), acked_by: null, message: 'temp_c above 250 for 2m', late: false,
    });
    const row = page.locator('tr[data-alert="a-1"][data-state="firing"]');
    await row.waitFor({ timeout: 15_000 });
    expect(await row.textContent()).toContain('oven-hot');
    expect(await row.textContent()).toContain('251.5');
    await screenshot(page, 'alerts-firing');

    // Acking without the operate scope is explained, not swallowed.
    operate = false;
    await row.locator('button.ack').click();
    await page.locator('#alerts-message:has-text("operate scope")').waitFor({ timeout: 10_000 });
    expect(acks).toEqual([]);
    operate = true;
    await row.locator('button.ack').click();
    await page.locator('tr[data-alert="a-1"] button.ack:has-text("acked by ops")').waitFor({ timeout: 10_000 });
    expect(acks.map((a) => a.id)).toEqual(['a-1']);
    await screenshot(page, 'alerts-acked');

    // The fleet counts the firing alert on its device.
    await page.goto(`${base}/#/fleet?status=alerting`);
    await page.locator('.fleet-row[data-device="oven-02"] .col-alerts .badge.crit').waitFor({ timeout: 15_000 });
    expect(await page.locator('.fleet-row[data-device="oven-02"] .col-alerts').textContent()).toBe('1');

    // Resolved alerts are the history tab.
    alerts[0]!.state = 'resolved';
    await page.goto(`${base}/#/alerts?state=resolved`);
    await page.locator('tr[data-alert="a-1"][data-state="resolved"]').waitFor({ timeout: 15_000 });
    expect(await page.locator('tr[data-alert="a-1"] button.ack').isDisabled()).toBe(true);
    expect(offHost).toEqual([]);
  });
});
