// The operators' console in Debian's chromium (issue 11), three figures, real processes only:
//  1. fleet: a fleet of 1,000 devices, from navigation start to the table rendered with every device counted
//     and its visible rows painted (the page's `fleet-painted` mark: the Element Timing renderTime of the rows
//     of its first render; `fleet-ready`, rendered but not yet painted, is reported beside it), cold (new
//     browser context) and warm (reload).
//  2. chart-draw: a 10,000-bucket chart (1m buckets over ~7 days, fed through a real agent), from the data
//     handed to the chart (setBuckets) to uPlot's draw hook, first draw of the page, uPlot instance creation
//     included (the `data-draw-ms` the chart records), per page load.
//  The bench waits for both with one in-page promise per load, not by polling the page (polling runs script
//  in the renderer while it loads). BENCH_BEFORE_DIST=<a console-dist built from the baseline> runs parts 1–2
//  A/B in one run: the baseline's and this tree's cloud/console-dist, each served by an identical static
//  server in the bench that passes /api/* through to the same collector, alternating which goes first.
//  BENCH_PROFILE=<dir>: also writes a CPU profile (CDP Profiler) of the last warm fleet load and chart load.
//  3. live-latency: with BENCH_RATE (20,000) readings/s flowing from BENCH_AGENTS (10) simulated agents, a
//     probe agent reads one csv line at BENCH_PROBE_HZ (10/s, random gaps) from a socat pty; the console shows
//     that device's 1m chart. Latency of probe value i = the page's clock when the chart's newest bucket first
//     showed `last >= i` on screen (uPlot's draw hook, `chart-drawn` event) minus the moment the bench wrote
//     the line (≤ the moment the agent read it, so the figure is an upper bound).
// Device registry for (1): 1,000 devices written straight into the data_dir's devices.db before the collector
// starts (the registry's own code), so the figure is the console's, not ingest's.
// One JSON line per result; progress on stderr. Run: npm run bench -- console (needs chromium and socat).
// Scale: BENCH_RUNS (10 page loads for 1 and 2), BENCH_AGENTS, BENCH_RATE, BENCH_SECONDS (60), BENCH_PROBE_HZ, BENCH_FLEET (1000), BENCH_POINTS (10000).
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, writeFileSync, writeSync } from 'node:fs';
import { createServer, request, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { loadavg } from 'node:os';
import { extname, join } from 'node:path';
import { chromium, type Browser, type CDPSession, type Page } from 'playwright-core';
import { createLogger } from '@tidemark/shared';
import { freePort, makeTempDir, openPtyPair, reapAll, removeTempDirs, requireTool, waitFor, type ManagedProcess } from '@tidemark/shared/testing';
import { CONSOLE_DIST } from '../../cloud/src/api/console-route.js';
import { SqliteDeviceRegistry } from '../../cloud/src/ingest/device-registry.js';
import { CLOUD_BIN, EDGE_BIN, runCli, startCli, writeYaml } from '../../test/support/cli.js';

const env = (name: string, dflt: number) => (process.env[name] ? Number(process.env[name]) : dflt);
const AGENTS = env('BENCH_AGENTS', 10);
const RATE = env('BENCH_RATE', 20_000);
const SECONDS = env('BENCH_SECONDS', 60);
const WARMUP_S = 5;
const PROBE_HZ = env('BENCH_PROBE_HZ', 10);
const FLEET = env('BENCH_FLEET', 1000);
const POINTS = env('BENCH_POINTS', 10_000);
const SENSORS = 4;
const RUNS = env('BENCH_RUNS', 10);
const PARTS = new Set((process.env.BENCH_PARTS ?? 'fleet,chart,live').split(','));
const BEFORE_DIST = process.env.BENCH_BEFORE_DIST;
const PROFILE_DIR = process.env.BENCH_PROFILE;
const CHROMIUM_ARGS = ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--no-first-run', '--disable-sync'];

const emit = (line: Record<string, unknown>) => process.stdout.write(`${JSON.stringify(line)}\n`);
const log = (msg: string) => console.error(`# ${msg}`);
const pct = (xs: number[], p: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length ? s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)]! : NaN;
};
const round = (x: number) => Math.round(x * 10) / 10;

function writeTo(path: string, text: string): void {
  const fd = openSync(path, 'w');
  try {
    writeSync(fd, text);
  } finally {
    closeSync(fd);
  }
}

async function newPage(browser: Browser): Promise<Page> {
  const ctx = await browser.newContext({ viewport: { width: 1400, height: 900 }, bypassCSP: true });
  return ctx.newPage();
}

/**
 * For A/B runs: serves one console-dist like the API does (index.html no-cache, hashed assets immutable) and
 * passes everything else through to the collector, so both variants take the same path to the same data.
 */
async function consoleServer(dist: string, api: URL): Promise<{ url: string; server: Server }> {
  const types: Record<string, string> = { '.html': 'text/html; charset=utf-8', '.js': 'text/javascript; charset=utf-8', '.css': 'text/css; charset=utf-8' };
  const index = readFileSync(join(dist, 'index.html'));
  const server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0]!;
    if (path === '/') {
      res.writeHead(200, { 'content-type': types['.html']!, 'cache-control': 'no-cache' }).end(index);
      return;
    }
    if (path.startsWith('/assets/')) {
      const file = join(dist, 'assets', path.slice('/assets/'.length).replace(/[/\\]/g, ''));
      if (!existsSync(file)) {
        res.writeHead(404).end();
        return;
      }
      res.writeHead(200, { 'content-type': types[extname(file)] ?? 'application/octet-stream', 'cache-control': 'public, max-age=31536000, immutable' }).end(readFileSync(file));
      return;
    }
    const up = request({ host: api.hostname, port: api.port, path: req.url, method: req.method, headers: req.headers }, (r) => {
      res.writeHead(r.statusCode ?? 502, r.headers);
      r.pipe(res);
    });
    up.on('error', () => res.writeHead(502).end());
    req.pipe(up);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, server };
}

/** Resolves in the page when the named performance mark exists (one evaluation, no polling). */
const markTime = (name: string) =>
  `new Promise((resolve) => { const now = () => performance.getEntriesByName(${JSON.stringify(name)})[0]; if (now()) return resolve(now().startTime); new PerformanceObserver((l, o) => { const e = l.getEntriesByName(${JSON.stringify(name)})[0]; if (e) { o.disconnect(); resolve(e.startTime); } }).observe({ type: 'mark', buffered: true }); })`;

/** Resolves in the page once the chart has drawn `points` buckets (its draw hook's `chart-drawn` event). */
const chartDrawn = (points: number) =>
  `new Promise((resolve) => { const done = () => { const el = document.querySelector('.chart'); return el && Number(el.dataset.points) === ${points} && el.dataset.drawMs !== undefined ? Number(el.dataset.drawMs) : undefined; }; const v = done(); if (v !== undefined) return resolve(v); document.addEventListener('chart-drawn', () => { const v = done(); if (v !== undefined) resolve(v); }); })`;

/** Rows of the fleet table that intersect its viewport (what "the visible rows" means). */
const rowsInView = `(() => { const v = document.querySelector('#fleet-viewport').getBoundingClientRect(); return [...document.querySelectorAll('.fleet-row[data-device]')].filter((r) => { const b = r.getBoundingClientRect(); return b.bottom > v.top && b.top < v.bottom && b.bottom <= innerHeight + b.height; }).length; })()`;

async function startProfile(page: Page): Promise<CDPSession> {
  const cdp = await page.context().newCDPSession(page);
  await cdp.send('Profiler.enable');
  await cdp.send('Profiler.setSamplingInterval', { interval: 200 });
  await cdp.send('Profiler.start');
  return cdp;
}

async function stopProfile(cdp: CDPSession, name: string): Promise<void> {
  const { profile } = await cdp.send('Profiler.stop');
  mkdirSync(PROFILE_DIR!, { recursive: true });
  writeFileSync(join(PROFILE_DIR!, name), JSON.stringify(profile));
  log(`CPU profile: ${join(PROFILE_DIR!, name)} (open in Chromium DevTools, Performance panel)`);
  await cdp.detach();
}

/** An in-page wait with a deadline: the bench fails naming what never happened instead of hanging. */
async function within<T>(what: string, p: Promise<T>, ms = 30_000): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const deadline = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms waiting for ${what}`)), ms)));
  try {
    return await Promise.race([p, deadline]);
  } finally {
    clearTimeout(timer);
  }
}

const summarize = (xs: number[]) => ({ min: round(Math.min(...xs)), median: round(pct(xs, 50)), max: round(Math.max(...xs)) });

async function main(): Promise<void> {
  const chromiumPath = requireTool('/usr/bin/chromium', 'chromium');
  const dir = await makeTempDir('tidemark-bench-console-');
  const [mqttPort, apiPort] = [await freePort(), await freePort()];
  const api = `http://127.0.0.1:${apiPort}`;
  const dataDir = join(dir, 'cloud');
  const cloudConfig = writeYaml(join(dir, 'cloud.yaml'), {
    data_dir: dataDir,
    broker: { mode: 'embedded', listen: `127.0.0.1:${mqttPort}` },
    auth: { devices_file: join(dir, 'devices.yaml') },
    api: { listen: `127.0.0.1:${apiPort}` },
    log: { level: 'warn' },
  });

  // 1,000 devices in the registry, as the collector would have recorded them.
  mkdirSync(dataDir, { recursive: true });
  const registry = new SqliteDeviceRegistry(join(dataDir, 'devices.db'), createLogger({ name: 'bench', level: 'silent' }));
  await registry.start();
  const now = Date.now();
  for (let i = 0; i < FLEET; i++) {
    const id = `gw-${String(i).padStart(4, '0')}`;
    const backlog = i % 7 === 0 ? 100 + i : 0;
    const status = { online: i % 13 !== 0, agent_version: '0.1.0', backlog_readings: backlog, oldest_buffered_time: backlog ? new Date(now - i * 1000).toISOString() : null, clock_synced: i % 50 !== 0 };
    registry.status(id, Buffer.from(JSON.stringify(status)), now - i * 100);
    registry.seen(id, now - i * 100, 1000 + i);
  }
  await registry.flush();
  await registry.stop();

  const ids = Array.from({ length: AGENTS }, (_, i) => `load-${String(i).padStart(2, '0')}`);
  const add = (id: string) => {
    const r = runCli(CLOUD_BIN, ['device', 'add', id, '-c', cloudConfig]);
    if (r.code !== 0) throw new Error(`device add ${id}: ${r.stderr}`);
    return r.stdout.trim();
  };
  log(`provisioning ${AGENTS + 2} agents`);
  const passwords = new Map([...ids, 'probe-01', 'chart-01'].map((id) => [id, add(id)]));
  const collector = startCli('collector', CLOUD_BIN, ['run', '-c', cloudConfig]);
  await waitFor(async () => (await fetch(`${api}/readyz`).catch(() => undefined))?.ok, { timeoutMs: 30_000, description: 'collector ready' });

  const agent = (id: string, sources: unknown[], extra: Record<string, unknown> = {}): ManagedProcess => {
    const cfg = writeYaml(join(dir, `${id}.yaml`), {
      device: { id },
      data_dir: join(dir, 'edge', id),
      sources,
      uplink: { url: `mqtt://127.0.0.1:${mqttPort}`, password: '${TIDEMARK_PASSWORD}' },
      clock: { sync_check: 'assume_synced' },
      log: { level: 'info' },
      ...extra,
    });
    return startCli(id, EDGE_BIN, ['run', '-c', cfg], { TIDEMARK_PASSWORD: passwords.get(id)! });
  };

  const browser = await chromium.launch({ executablePath: chromiumPath, headless: true, args: CHROMIUM_ARGS });
  try {
    // Where the console is loaded from: the collector itself, or (A/B) two identical pass-through servers.
    const variants: { name: string; url: string }[] = [];
    const servers: Server[] = [];
    if (BEFORE_DIST) {
      for (const [name, dist] of [['before', BEFORE_DIST], ['after', CONSOLE_DIST]] as const) {
        const s = await consoleServer(dist, new URL(api));
        servers.push(s.server);
        variants.push({ name, url: s.url });
      }
    } else variants.push({ name: 'collector', url: api });
    const order = (run: number) => (run % 2 === 0 ? variants : [...variants].reverse());

    // ---- 1. fleet of 1,000 ----
    if (PARTS.has('fleet')) {
    await waitFor(async () => ((await (await fetch(`${api}/api/v1/devices`)).json()) as { items: unknown[] }).items.length >= FLEET, { description: 'fleet in the registry' });
    const figures = new Map(variants.map((v) => [v.name, { cold: [] as number[], warm: [] as number[], coldReady: [] as number[], warmReady: [] as number[] }]));
    const load0 = loadavg()[0]!;
    for (let run = 0; run < RUNS; run++) {
      for (const v of order(run)) {
        const f = figures.get(v.name)!;
        const page = await newPage(browser);
        for (const which of ['cold', 'warm'] as const) {
          // cold: a new context (empty cache); warm: the same page reloaded (assets from the cache).
          const cdp = PROFILE_DIR && which === 'warm' && run === RUNS - 1 ? await startProfile(page) : undefined;
          if (which === 'cold') await page.goto(`${v.url}/#/fleet`, { waitUntil: 'commit' });
          else await page.reload({ waitUntil: 'commit' });
          const painted = (await within(`fleet-painted (${v.name} ${which})`, page.evaluate(markTime('fleet-painted')))) as number;
          if (cdp) await stopProfile(cdp, `fleet-${v.name}.cpuprofile`);
          const ready = (await page.evaluate(`performance.getEntriesByName('fleet-ready')[0]?.startTime`)) as number;
          const summary = await page.locator('#fleet-summary').textContent();
          if (!summary?.includes(`of ${FLEET} devices`)) throw new Error(`fleet summary: ${summary}`);
          // Every row in view must be among those whose paint was timed.
          const [timedRows, inView] = (await page.evaluate(`[Number(document.querySelector('.fleet').dataset.paintedRows), ${rowsInView}]`)) as [number, number];
          if (!(inView > 0 && timedRows >= inView)) throw new Error(`fleet: ${inView} rows in view, ${timedRows} timed`);
          f[which].push(painted);
          f[which === 'cold' ? 'coldReady' : 'warmReady'].push(ready);
          if (process.env.BENCH_VERBOSE) {
            log(`${v.name} ${which}: ` + JSON.stringify(await page.evaluate(`(() => { const n = performance.getEntriesByType('navigation')[0]; const r = performance.getEntriesByType('resource').map((e) => [e.name.replace(location.origin, ''), Math.round(e.startTime), Math.round(e.responseEnd)]); return { painted: ${painted}, ready: ${ready}, data: Math.round(performance.getEntriesByName('fleet-data')[0]?.startTime), dcl: Math.round(n.domContentLoadedEventEnd), r }; })()`)));
          }
        }
        await page.context().close();
      }
    }
    for (const [name, f] of figures) {
      emit({ bench: 'console', measure: 'fleet-painted-ms', variant: name, devices: FLEET, runs: f.cold.length, cold: summarize(f.cold), warm: summarize(f.warm), cold_rendered: summarize(f.coldReady), warm_rendered: summarize(f.warmReady), target: 500, loadavg_1m: [round(load0), round(loadavg()[0]!)] });
    }
    }

    // ---- 2. a 10,000-point chart ----
    if (PARTS.has('chart')) {
    const pty = await openPtyPair();
    const chartAgent = agent('chart-01', [{ type: 'serial', name: 'plc', path: pty.a, parser: { format: 'csv', columns: ['ts', 'v'], timestamp_column: 'ts' } }], { batch: { max_readings: 1000, max_delay_ms: 100 } });
    await chartAgent.waitForOutput('connected to collector', 20_000);
    const t0 = Math.floor((Date.now() - POINTS * 60_000) / 60_000) * 60_000 + 60_000;
    const lines: string[] = [];
    for (let i = 0; i < POINTS; i++) lines.push(`${t0 + i * 60_000 + 30_000},${(50 + 20 * Math.sin(i / 50) + (i % 7)).toFixed(2)}`);
    writeTo(pty.b, `\n${lines.join('\n')}\n`);
    await waitFor(
      async () => {
        const r = (await (await fetch(`${api}/api/v1/devices/chart-01/sensors`)).json()) as { items: { name: string; readings: number }[] };
        return r.items.find((s) => s.name === 'v')?.readings === POINTS;
      },
      { timeoutMs: 60_000, intervalMs: 200, description: `${POINTS} chart readings aggregated` },
    );
    const draws = new Map(variants.map((v) => [v.name, [] as number[]]));
    const load0 = loadavg()[0]!;
    for (let run = 0; run < RUNS; run++) {
      for (const v of order(run)) {
        const page = await newPage(browser);
        const cdp = PROFILE_DIR && run === RUNS - 1 ? await startProfile(page) : undefined;
        await page.goto(`${v.url}/#/device/chart-01?sensor=v&res=1m&range=7d`, { waitUntil: 'commit' });
        draws.get(v.name)!.push((await within(`chart drawn (${v.name})`, page.evaluate(chartDrawn(POINTS)))) as number);
        if (cdp) await stopProfile(cdp, `chart-${v.name}.cpuprofile`);
        if (process.env.BENCH_VERBOSE) {
          const el = page.locator('.chart');
          log(`${v.name} draw ${await el.getAttribute('data-draw-ms')} ms: arrays ${await el.getAttribute('data-arrays-ms')}, uPlot call ${await el.getAttribute('data-plot-ms')}`);
        }
        await page.context().close();
      }
    }
    for (const [name, d] of draws) emit({ bench: 'console', measure: 'chart-draw-ms', variant: name, points: POINTS, runs: d.length, ...summarize(d), target: 100, loadavg_1m: [round(load0), round(loadavg()[0]!)] });
    await chartAgent.kill('SIGTERM');
    }
    for (const s of servers) s.close();
    if (!PARTS.has('live')) return;

    // ---- 3. live latency with 20k readings/s flowing ----
    const rateHz = RATE / AGENTS / SENSORS;
    log(`starting ${AGENTS} agents at ${RATE} readings/s in all, and the probe`);
    const loadAgents = ids.map((id, i) =>
      agent(id, [
        {
          type: 'simulated',
          name: 'sim',
          rate_hz: rateHz,
          seed: i + 1,
          sensors: Array.from({ length: SENSORS }, (_, s) => ({ name: `s${s}`, shape: s % 2 ? 'random_walk' : 'sine', min: 0, max: 100, period_s: 60, decimals: 2 })),
        },
      ]),
    );
    const probePty = await openPtyPair();
    const probe = agent('probe-01', [{ type: 'serial', name: 'probe', path: probePty.a, parser: { format: 'csv', columns: ['probe'] } }]);
    await Promise.all([...loadAgents, probe].map((a) => a.waitForOutput('connected to collector', 30_000)));
    writeTo(probePty.b, '\n0\n');
    await waitFor(async () => (((await (await fetch(`${api}/api/v1/devices/probe-01/sensors`)).json()) as { items: unknown[] }).items.length > 0), { timeoutMs: 20_000, description: 'probe sensor known' });
    const page = await newPage(browser);
    const onScreen: { at: number; last: number }[] = [];
    await page.exposeFunction('__drawn', (at: number, last: number) => onScreen.push({ at, last }));
    await page.goto(`${api}/#/device/probe-01?sensor=probe&res=1m&range=15m`);
    await page.waitForFunction(`document.querySelector('#live-state')?.dataset.state === 'open' && document.querySelector('.chart[data-sensor="probe"]')`, undefined, { timeout: 20_000 });
    await page.evaluate(`document.addEventListener('chart-drawn', (e) => window.__drawn(e.detail.at, e.detail.last ? e.detail.last.last : -1))`);

    const cpuStart = process.cpuUsage();
    const load0 = loadavg()[0];
    const writes: { i: number; at: number }[] = [];
    const end = Date.now() + (WARMUP_S + SECONDS) * 1000;
    const measureFrom = Date.now() + WARMUP_S * 1000;
    let i = 1;
    while (Date.now() < end) {
      const at = Date.now();
      writeTo(probePty.b, `${i}\n`);
      if (at >= measureFrom) writes.push({ i, at });
      i++;
      // Random gaps (mean 1/PROBE_HZ) so the probe cannot phase-lock with the agent's timers: a timed phase.
      await new Promise((r) => setTimeout(r, (Math.random() * 2 * 1000) / PROBE_HZ));
    }
    const lastI = i - 1;
    await waitFor(() => onScreen.some((d) => d.last >= lastI), { timeoutMs: 30_000, description: 'the last probe value on screen' });
    const latencies: number[] = [];
    for (const w of writes) {
      const seen = onScreen.find((d) => d.last >= w.i);
      if (seen) latencies.push(seen.at - w.at);
    }
    const devices = (await (await fetch(`${api}/api/v1/devices`)).json()) as { items: { id: string; readings: number }[] };
    const flowing = devices.items.filter((d) => d.id.startsWith('load-')).reduce((a, d) => a + d.readings, 0);
    emit({
      bench: 'console',
      measure: 'live-bucket-on-screen-ms',
      readings_per_s: RATE,
      agents: AGENTS,
      probes: writes.length,
      seen: latencies.length,
      p50: round(pct(latencies, 50)),
      p99: round(pct(latencies, 99)),
      max: round(Math.max(...latencies)),
      target_p99: 1000,
      bulk_readings_stored: flowing,
      loadavg_1m_before: round(load0!),
      loadavg_1m_after: round(loadavg()[0]!),
      bench_cpu_s: round((process.cpuUsage(cpuStart).user + process.cpuUsage(cpuStart).system) / 1e6),
    });
    void collector;
  } finally {
    await browser.close();
    await reapAll();
    await removeTempDirs();
  }
}

main().catch(async (err) => {
  log(String(err?.stack ?? err));
  emit({ bench: 'console', error: String(err?.message ?? err) });
  await reapAll();
  await removeTempDirs();
  process.exit(1);
});
