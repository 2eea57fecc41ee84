// The console behind bearer tokens and HTTPS (api.tokens_file + api.tls), in Debian's chromium: the page
// loads without a token but shows no data; a wrong token is a clear message; the right one shows the fleet
// and is kept for the tab (sessionStorage) — a new tab asks again. The API refuses data without a token.
import { readFileSync, writeFileSync } from 'node:fs';
import { request } from 'node:https';
import { join } from 'node:path';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeCerts, useProcessReaper } from '@tidemark/shared/testing';
import { launchChromium, newPage, screenshot } from './support/browser.js';
import { CLOUD_BIN, startCli } from './support/cli.js';
import { setupCloud, setupEdge } from './support/pipeline.js';

const TOKEN = 'console-e2e-token-0123456789';

/** GET over HTTPS trusting the test CA only. */
function httpsGet(url: string, ca: Buffer, headers: Record<string, string> = {}): Promise<{ status: number; body: string; headers: Record<string, unknown> }> {
  return new Promise((resolve, reject) => {
    const req = request(url, { ca, headers }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body, headers: res.headers }));
    });
    req.on('error', reject);
    req.end();
  });
}

describe('console with tokens over HTTPS', () => {
  useProcessReaper();
  let browser: Browser;
  let base: string;
  let ca: Buffer;

  beforeAll(async () => {
    browser = await launchChromium();
    const cloud = await setupCloud();
    const certs = makeCerts(cloud.dir);
    ca = readFileSync(certs.ca);
    const tokensFile = join(cloud.dir, 'tokens.yaml');
    writeFileSync(tokensFile, `tokens:\n  - { name: ops, token: "${TOKEN}" }\n`);
    // The same config plus tokens and TLS on the API.
    const config = readFileSync(cloud.configPath, 'utf8');
    const tlsConfig = join(cloud.dir, 'cloud-tls.yaml');
    writeFileSync(tlsConfig, config.replace(/^api:\n/m, `api:\n  tokens_file: ${tokensFile}\n  tls: { cert: ${certs.cert}, key: ${certs.key} }\n`));
    const collector = startCli('collector-tls', CLOUD_BIN, ['run', '-c', tlsConfig]);
    await collector.waitForOutput('tidemark-cloud started', 20_000);
    base = cloud.api.replace('http://', 'https://');
    const edge = setupEdge(cloud, 'secure-01', {
      sources: [{ type: 'simulated', name: 'sim', rate_hz: 5, seed: 1, sensors: [{ name: 'temp_c', shape: 'sine', min: 0, max: 10 }] }],
    });
    await edge.start().waitForOutput('connected to collector', 20_000);
  });

  afterAll(async () => {
    await browser?.close();
  });

  it('serves the console over HTTPS without a token, and no data without one', async () => {
    const page = await httpsGet(`${base}/`, ca);
    expect(page.status).toBe(200);
    expect(page.body).toContain('<div id="token-gate"');
    const devices = await httpsGet(`${base}/api/v1/devices`, ca);
    expect(devices.status).toBe(401);
    const withToken = await httpsGet(`${base}/api/v1/devices`, ca, { authorization: `Bearer ${TOKEN}` });
    expect(withToken.status).toBe(200);
    expect(JSON.parse(withToken.body).items.map((d: { id: string }) => d.id)).toEqual(['secure-01']);
  });

  it('asks for a token, refuses a wrong one clearly, shows the fleet with the right one, forgets it with the tab', async () => {
    const { context, page, offHost } = await newPage(browser, { ignoreHTTPSErrors: true });
    await page.goto(`${base}/#/fleet`);
    await page.locator('#token-gate:not([hidden])').waitFor({ timeout: 15_000 });
    expect(await page.locator('.fleet-row[data-device]').count()).toBe(0);
    expect(await page.locator('#main').textContent()).not.toContain('secure-01');
    await screenshot(page, 'token-gate');

    await page.fill('#token-input', 'not-the-token-at-all-xx');
    await page.click('#token-form button[type=submit]');
    await page.locator('#token-error:has-text("not accepted")').waitFor({ timeout: 10_000 });
    expect(await page.locator('.fleet-row[data-device]').count()).toBe(0);
    await screenshot(page, 'token-wrong');

    await page.fill('#token-input', TOKEN);
    await page.click('#token-form button[type=submit]');
    await page.locator('.fleet-row[data-device="secure-01"]').waitFor({ timeout: 15_000 });
    expect(await page.locator('#token-gate').isHidden()).toBe(true);
    // Deep links and the live stream work with the token.
    await page.goto(`${base}/#/device/secure-01?sensor=temp_c&res=1m`);
    await page.locator('#live-state[data-state="open"]').waitFor({ timeout: 15_000 });
    await page.waitForFunction(`Number(document.querySelector('.chart')?.dataset.points) > 0`, undefined, { timeout: 15_000 });
    await screenshot(page, 'device-https');

    // A new tab (new session) has no token.
    const other = await newPage(browser, { ignoreHTTPSErrors: true });
    await other.page.goto(`${base}/#/fleet`);
    await other.page.locator('#token-gate:not([hidden])').waitFor({ timeout: 15_000 });
    expect(await other.page.locator('.fleet-row[data-device]').count()).toBe(0);
    await other.context.close();
    await context.close();
    expect(offHost).toEqual([]);
  });
});
