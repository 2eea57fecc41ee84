// The operators' console end to end: Debian's chromium (playwright-core) against a live collector and real
// agents — a simulated press, a PLC on a serial line (socat pty) with device timestamps so a late reading can
// be sent on purpose, and a vehicle gateway replaying a real NMEA capture (test/fixtures/nmea/, GPSD project)
// through the `nmea` parser. The console is checked only through what it shows; the API is the reference.
// A threshold rule fires on the press and is acked in the alerts view. Screenshots of every view go to
// test-results/console/.
import { closeSync, openSync, readFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { connectAsync } from 'mqtt';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openPtyPair, requireTool, useProcessReaper, waitFor, type ManagedProcess } from '@tidemark/shared/testing';
import type { BucketItem as Bucket } from '@tidemark/cloud';
import { launchChromium, newPage, screenshot } from './support/browser.js';
import { ROOT } from './support/cli.js';
import { fetchBuckets, setupCloud, setupEdge, waitForAggregated, type CloudSetup, type EdgeSetup } from './support/pipeline.js';

const MIN = 60_000;
const CAPTURE = join(ROOT, 'test/fixtures/nmea/gpslim236.log');

function writeTo(path: string, text: string): void {
  const fd = openSync(path, 'w');
  try {
    writeSync(fd, text);
  } finally {
    closeSync(fd);
  }
}

/** The capture's sentences grouped per fix (a GGA starts one), header comments dropped. */
function fixes(capture: string): string[][] {
  const out: string[][] = [];
  for (const line of capture.split(/\r?\n/)) {
    if (!line.startsWith('$')) continue;
    if (/^\$..GGA,/.test(line) || out.length === 0) out.push([]);
    out[out.length - 1]!.push(line);
  }
  return out;
}

/** Waits for a condition in the page, with a deadline (the page's own clock, no fixed pauses). */
async function until(page: Page, description: string, fn: string, timeoutMs = 20_000): Promise<void> {
  try {
    await page.waitForFunction(fn, undefined, { timeout: timeoutMs, polling: 100 });
  } catch (err) {
    throw new Error(`timed out after ${timeoutMs} ms waiting for ${description}: ${(err as Error).message.split('\n')[0]}`);
  }
}

const attr = (page: Page, selector: string, name: string) => page.locator(selector).first().getAttribute(name);

describe('operators console in chromium against a live collector', () => {
  useProcessReaper();
  let cloud: CloudSetup;
  let press: EdgeSetup;
  let pressAgent: ManagedProcess;
  let plcPty: { a: string; b: string };
  let gpsPty: { a: string; b: string };
  let browser: Browser;
  let page: Page;
  let offHost: string[];
  const t0 = Math.floor((Date.now() - 4 * MIN) / MIN) * MIN; // the PLC's first bucket, 4 minutes ago

  beforeAll(async () => {
    requireTool('socat', 'socat');
    browser = await launchChromium();
    // 1s first: the GPS track is drawn from the finest resolution the server keeps.
    cloud = await setupCloud({
      aggregation: { resolutions: ['1s', '1m', '1h', '1d'], allowed_lateness: '1m' },
      // press-07's sine (20..80, 30 s) crosses 70 within half a minute; it never falls below 0, so it stays firing.
      alerts: { rules: [{ name: 'press-hot', devices: 'press-*', sensor: 'temp_c', kind: 'threshold', above: 70, clear_below: 0, severity: 'critical', message: '{{device}} hot: {{value}}' }] },
    });
    press = setupEdge(cloud, 'press-07', {
      sources: [{ type: 'simulated', name: 'sim', rate_hz: 20, seed: 3, sensors: [{ name: 'temp_c', shape: 'sine', min: 20, max: 80, period_s: 30, decimals: 2 }] }],
      batch: { max_readings: 50, max_delay_ms: 100 },
    });
    plcPty = await openPtyPair();
    const plc = setupEdge(cloud, 'plc-3', {
      sources: [{ type: 'serial', name: 'plc', path: plcPty.a, parser: { format: 'csv', columns: ['ts', 'level'], timestamp_column: 'ts' } }],
      batch: { max_readings: 20, max_delay_ms: 50 },
    });
    gpsPty = await openPtyPair();
    const truck = setupEdge(cloud, 'truck-gps', {
      sources: [{ type: 'serial', name: 'gps', path: gpsPty.a, parser: { format: 'nmea' } }],
      batch: { max_readings: 20, max_delay_ms: 50 },
    });
    await cloud.start();
    pressAgent = press.start();
    const plcAgent = plc.start();
    const truckAgent = truck.start();
    await Promise.all([plcAgent, truckAgent, pressAgent].map((a) => a.waitForOutput('connected to collector', 20_000)));

    // PLC: one reading every 10 s for the last 4 minutes (device time), values with 2 decimals.
    const lines: string[] = [];
    for (let i = 0; i < 24; i++) lines.push(`${t0 + i * 10_000},${(50 + 10 * Math.sin(i / 3)).toFixed(2)}`);
    writeTo(plcPty.b, `\n${lines.join('\n')}\n`);
    await waitForAggregated(cloud.api, 'plc-3', 'level', 24);

    // Truck: the capture's fixes, about three per second, like a receiver at 3 Hz (the nmea parser stamps
    // receive time, so pacing is what spreads the track over several 1 s buckets).
    const all = fixes(readFileSync(CAPTURE, 'utf8'));
    writeTo(gpsPty.b, '\n');
    for (const fix of all) {
      writeTo(gpsPty.b, `${fix.join('\r\n')}\r\n`);
      await new Promise((r) => setTimeout(r, 330)); // the device's own rate, not a wait for a condition
    }
    await waitFor(
      async () => {
        const r = await fetch(`${cloud.api}/api/v1/devices/truck-gps/sensors`);
        const items = ((await r.json()) as { items: { name: string; readings: number }[] }).items;
        return items.find((s) => s.name === 'lat')?.readings === all.length && items.find((s) => s.name === 'lon')?.readings === all.length;
      },
      { timeoutMs: 20_000, description: 'every fix of the capture aggregated' },
    );

    ({ page, offHost } = await newPage(browser));
  });

  afterAll(async () => {
    await browser?.close();
  });

  it('serves the console with long-lived caching for hashed assets and no-cache for the page', async () => {
    const index = await fetch(`${cloud.api}/`);
    expect(index.status).toBe(200);
    expect(index.headers.get('content-type')).toMatch(/^text\/html/);
    expect(index.headers.get('cache-control')).toBe('no-cache');
    const html = await index.text();
    const asset = /\/assets\/[^"]+\.js/.exec(html)?.[0];
    expect(asset, html).toBeDefined();
    const js = await fetch(`${cloud.api}${asset}`);
    expect(js.status).toBe(200);
    expect(js.headers.get('cache-control')).toBe('public, max-age=31536000, immutable');
    expect(html).not.toMatch(/https?:\/\/(?!127\.0\.0\.1)/); // no CDN, no external fonts
  });

  it('lists every device in the fleet view, live', async () => {
    await page.goto(`${cloud.api}/`);
    for (const id of ['press-07', 'plc-3', 'truck-gps']) {
      await page.locator(`.fleet-row[data-device="${id}"]`).waitFor({ timeout: 15_000 });
    }
    await until(page, 'press-07 online', `document.querySelector('.fleet-row[data-device="press-07"]')?.dataset.online === 'true'`);
    const summary = await page.locator('#fleet-summary').textContent();
    expect(summary).toMatch(/^3 of 3 devices/);
    // The measurement points the benchmark reads: rendered, then the visible rows painted.
    await until(page, 'the fleet-painted mark', `performance.getEntriesByName('fleet-painted').length === 1`);
    expect(Number(await attr(page, '.fleet', 'data-painted-rows'))).toBeGreaterThanOrEqual(3);
    // search narrows, and the URL keeps it
    await page.fill('#fleet-search', 'truck');
    await until(page, 'only the truck listed', `document.querySelectorAll('.fleet-row[data-device]').length === 1`);
    expect(page.url()).toContain('q=truck');
    await page.fill('#fleet-search', '');
    await until(page, 'all three again', `document.querySelectorAll('.fleet-row[data-device]').length === 3`);
    await screenshot(page, 'fleet');
  });

  it('charts as many points as the API returns buckets, and a late reading revises the plotted bucket', async () => {
    await page.goto(`${cloud.api}/#/device/plc-3?sensor=level&res=1m&range=1h`);
    await until(page, 'the chart drawn', `document.querySelector('.chart')?.dataset.sensor === 'level' && Number(document.querySelector('.chart').dataset.points) > 0`);
    const api = await fetchBuckets<Bucket>(cloud.api, 'plc-3', 'level', '1m', t0 - 60 * MIN, Date.now() + 60 * MIN);
    expect(api.length).toBe(4);
    expect(Number(await attr(page, '.chart', 'data-points'))).toBe(api.length);
    expect(Number(await attr(page, '.chart', 'data-draw-ms'))).toBeGreaterThan(0);
    expect(await attr(page, '.chart', 'data-revised')).toBe('0');
    await page.evaluate('window.marker = 42');

    // The first bucket is final (watermark t0+230 s ≥ start + 1m + 1m lateness), the last one provisional.
    expect(Number(await attr(page, '.chart', 'data-provisional'))).toBeGreaterThan(0);
    expect(Number(await attr(page, '.chart', 'data-provisional'))).toBeLessThan(4);
    // A reading 5 s into the first (final) bucket, sent now: late, so it revises that bucket.
    writeTo(plcPty.b, `${t0 + 5_000},99.5\n`);
    const revisedStart = new Date(t0).toISOString();
    await until(page, 'the first bucket shown as revised', `(document.querySelector('.chart')?.dataset.revisedStarts ?? '').includes('${revisedStart}@1')`);
    expect(await page.evaluate('window.marker')).toBe(42); // no reload
    const after = await fetchBuckets<Bucket>(cloud.api, 'plc-3', 'level', '1m', t0, t0 + MIN);
    expect(after[0]).toMatchObject({ start: revisedStart, revision: 1, max: 99.5 });
    expect(await page.locator(`.chart-table tr[data-start="${revisedStart}"]`).getAttribute('data-revision')).toBe('1');
    expect(await page.locator('.chart-caption').textContent()).toMatch(/1 revised by late readings/);
    await page.locator('.chart-table summary').click();
    await screenshot(page, 'device-chart-revised');
  });

  it('a live update arrives without a reload', async () => {
    await page.goto(`${cloud.api}/#/device/press-07?sensor=temp_c&res=1m&range=15m`);
    await until(page, 'the chart drawn', `Number(document.querySelector('.chart[data-sensor="temp_c"]')?.dataset.readings) > 0`);
    await until(page, 'the stream open', `document.querySelector('#live-state')?.dataset.state === 'open'`);
    await page.evaluate('window.marker = 7');
    const before = Number(await attr(page, '.chart', 'data-readings'));
    await until(page, 'more readings on the chart', `Number(document.querySelector('.chart').dataset.readings) >= ${before + 40}`);
    expect(await page.evaluate('window.marker')).toBe(7);
    // sparkline of every sensor drawn
    await until(page, 'the sparkline drawn', `Number(document.querySelector('button.sensor[data-sensor="temp_c"] canvas')?.dataset.points) > 0`);
    await screenshot(page, 'device-live');
  });

  it('an offline gateway turns offline, and back online when it returns', async () => {
    await page.goto(`${cloud.api}/#/fleet`);
    await until(page, 'press-07 online', `document.querySelector('.fleet-row[data-device="press-07"]')?.dataset.online === 'true'`);
    await pressAgent.sigkill(); // the broker publishes its will
    await until(page, 'press-07 offline', `document.querySelector('.fleet-row[data-device="press-07"]')?.dataset.online === 'false'`);
    await screenshot(page, 'fleet-offline');
    pressAgent = press.start();
    await until(page, 'press-07 online again', `document.querySelector('.fleet-row[data-device="press-07"]')?.dataset.online === 'true'`, 30_000);
  });

  it('counts a batch the collector refused in the fleet, on the device that sent it', async () => {
    const password = cloud.addDevice('gw-bad');
    const client = await connectAsync(cloud.mqttUrl, { clientId: 'gw-bad', username: 'gw-bad', password, reconnectPeriod: 0 });
    try {
      await client.publishAsync('tidemark/v1/gw-bad/batch', Buffer.from('this is not a protobuf batch'), { qos: 1 });
    } finally {
      await client.endAsync();
    }
    await page.goto(`${cloud.api}/#/fleet?q=gw-bad`);
    await until(page, 'gw-bad with one reject', `document.querySelector('.fleet-row[data-device="gw-bad"] .col-rejected')?.textContent === '1'`);
    expect(await page.locator('.fleet-row[data-device="press-07"] .col-rejected').count()).toBe(0); // filtered out by the search
  });

  it('draws the GPS track of the NMEA capture with its last position, a slider and a scale bar', async () => {
    await page.goto(`${cloud.api}/#/device/truck-gps`);
    await page.locator('#track-link:not([hidden])').waitFor({ timeout: 15_000 });
    await page.click('#track-link');
    await until(page, 'the track drawn', `Number(document.querySelector('#track-canvas')?.dataset.points) > 1`);
    const q = (s: string) => fetchBuckets<Bucket>(cloud.api, 'truck-gps', s, '1s', Date.now() - 3_600_000, Date.now() + 60_000);
    const [lat, lon] = await Promise.all([q('lat'), q('lon')]);
    expect(lat.length).toBeGreaterThan(1);
    expect(Number(await attr(page, '#track-canvas', 'data-points'))).toBe(lat.filter((b) => lon.some((o) => o.start === b.start)).length);
    // The last position is the capture's end, near Paris (48.9043 N, 2.3329 E).
    const readout = page.locator('#track-readout');
    expect(await readout.textContent()).toMatch(/last position/);
    expect(Number(await readout.getAttribute('data-lat'))).toBeCloseTo(lat.at(-1)!.avg, 9);
    expect(Number(await readout.getAttribute('data-lat'))).toBeCloseTo(48.904, 2);
    expect(Number(await readout.getAttribute('data-lon'))).toBeCloseTo(2.333, 2);
    expect(Number(await attr(page, '#track-canvas', 'data-scale-m'))).toBeGreaterThan(0);
    await screenshot(page, 'track');
    // The slider goes back in time.
    await page.locator('#track-slider').focus();
    await page.keyboard.press('Home');
    expect(Number(await readout.getAttribute('data-lat'))).toBeCloseTo(lat[0]!.avg, 9);
    expect(page.url()).toContain('#/track/truck-gps');
    await screenshot(page, 'track-start');
  });

  it('an alert fires, shows and is acked; dark theme readable; nothing left loopback', async () => {
    // The agent the offline test restarted was reaped with that test: press-07 must be sending for its sine
    // (20..80, 30 s) to cross the rule's 70 — unless the alert already fired earlier in the suite.
    if (!pressAgent.running) pressAgent = press.start();
    await page.goto(`${cloud.api}/#/alerts?state=firing`);
    const row = page.locator('tr[data-alert][data-state="firing"]:has-text("press-hot")');
    await row.waitFor({ timeout: 60_000 });
    expect(await row.textContent()).toContain('press-07');
    await screenshot(page, 'alerts-firing-live');
    await row.locator('button.ack').click();
    await page.locator('tr[data-alert]:has-text("press-hot") button.ack:has-text("acked by")').waitFor({ timeout: 15_000 });
    const firing = (await (await fetch(`${cloud.api}/api/v1/alerts?state=firing&rule=press-hot`)).json()) as { items: { device: string; acked_by: string | null }[] };
    expect(firing.items.find((a) => a.device === 'press-07')?.acked_by).toBeTruthy();
    await screenshot(page, 'alerts');
    await page.click('#theme-toggle');
    await page.goto(`${cloud.api}/#/fleet`);
    await page.locator('.fleet-row[data-device="press-07"]').waitFor();
    const bg = await page.evaluate('getComputedStyle(document.body).backgroundColor');
    await page.click('#theme-toggle');
    const bg2 = await page.evaluate('getComputedStyle(document.body).backgroundColor');
    expect(bg).not.toBe(bg2);
    await screenshot(page, 'fleet-theme');
    expect(offHost).toEqual([]);
  });
});
