// Debian's chromium driven through playwright-core (never a downloaded browser). Headless, no GPU, no
// background networking: the console must work with nothing but the collector to talk to. A missing
// browser fails the test naming the package to install.
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { requireTool } from '@tidemark/shared/testing';
import { ROOT } from './cli.js';

export const CHROMIUM = '/usr/bin/chromium';
export const SCREENSHOTS = join(ROOT, 'test-results/console');

export const CHROMIUM_ARGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--no-first-run',
  '--disable-sync',
];

export async function launchChromium(): Promise<Browser> {
  const executablePath = requireTool(CHROMIUM, 'chromium');
  return chromium.launch({ executablePath, headless: true, args: CHROMIUM_ARGS });
}

/** A fresh context (own sessionStorage) with a laptop-sized viewport; requests leaving loopback fail the test. */
export async function newPage(browser: Browser, opts: { ignoreHTTPSErrors?: boolean } = {}): Promise<{ context: BrowserContext; page: Page; offHost: string[] }> {
  const context = await browser.newContext({ viewport: { width: 1400, height: 900 }, ignoreHTTPSErrors: opts.ignoreHTTPSErrors ?? false,
    // The page's CSP forbids eval; the test's own string probes (waitForFunction) need it. The header itself is
    // checked in cloud/src/api/console-route.test.ts.
    bypassCSP: true,
  });
  const page = await context.newPage();
  const offHost: string[] = [];
  page.on('request', (req) => {
    const url = new URL(req.url());
    if (url.protocol !== 'data:' && url.hostname !== '127.0.0.1' && url.hostname !== 'localhost') offHost.push(req.url());
  });
  return { context, page, offHost };
}

export async function screenshot(page: Page, name: string): Promise<string> {
  mkdirSync(SCREENSHOTS, { recursive: true });
  const path = join(SCREENSHOTS, `${name}.png`);
  await page.screenshot({ path, fullPage: true });
  return path;
}
