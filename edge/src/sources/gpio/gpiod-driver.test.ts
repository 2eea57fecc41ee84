// The gpiod driver end to end against test-support/fake-gpiomon, a script that imitates libgpiod's tools
// (1.6 and 2.x command lines and output formats), placed first on PATH: spawn, parse, restart, kill.
// Plus the real tools, where installed without a chip: their error must come out of start() readable.
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { counterValue, createLogger, gaugeValue, MetricsRegistry, NotConnectedError, PermanentError } from '@tidemark/shared';
import { makeTempDir, requireTool, useProcessReaper, waitFor } from '@tidemark/shared/testing';
import { afterEach, describe, expect, it } from 'vitest';
import type { GpioSourceConfig } from './config.js';
import type { GpioLevel } from './gpio-driver.js';
import { GpiodLineWatcher, type GpiodDriverOptions } from './gpiod-driver.js';
import { GpioSource } from './gpio-source.js';
import { recordingContext } from '../testing/source-contract.js';

useProcessReaper();

/** Each fake tool run starts a Node process: on a loaded CI machine that alone can take a second or more. */
const SLOW_MS = 30_000;

const FAKE_GPIOMON = fileURLToPath(new URL('./test-support/fake-gpiomon', import.meta.url));

interface FakeTools {
  dir: string;
  opts: Pick<GpiodDriverOptions, 'searchPath' | 'env'>;
  setLevel(level: GpioLevel): void;
  send(command: string): void;
  failGpiomon(stderr: string | undefined): void;
  failGpioget(stderr: string | undefined): void;
  calls(): { tool: string; args: string[]; pid: number }[];
  /** Pid of the gpiomon that is watching the events file (written once it is). */
  monitorPid(): number | undefined;
}

async function fakeTools(version = '1.6.3'): Promise<FakeTools> {
  const dir = await makeTempDir('tidemark-fake-gpiod-');
  const bin = path.join(dir, 'bin');
  fs.mkdirSync(bin);
  // Copies, not links: they are executable whatever file modes the checkout kept.
  for (const tool of ['gpiomon', 'gpioget']) {
    fs.copyFileSync(FAKE_GPIOMON, path.join(bin, tool));
    fs.chmodSync(path.join(bin, tool), 0o755);
  }
  const file = (name: string) => path.join(dir, name);
  const toggle = (name: string, content: string | undefined) => (content === undefined ? fs.rmSync(file(name), { force: true }) : fs.writeFileSync(file(name), content));
  return {
    dir,
    opts: { searchPath: `${bin}${path.delimiter}${process.env.PATH ?? ''}`, env: { FAKE_GPIOD_DIR: dir, FAKE_GPIOD_VERSION: version } },
    setLevel: (level) => fs.writeFileSync(file('level'), `${level}\n`),
    send: (command) => fs.appendFileSync(file('events'), `${command}\n`),
    failGpiomon: (stderr) => toggle('fail-gpiomon', stderr),
    failGpioget: (stderr) => toggle('fail-gpioget', stderr),
    calls: () =>
      fs.existsSync(file('calls.jsonl'))
        ? fs.readFileSync(file('calls.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { tool: string; args: string[]; pid: number })
        : [],
    monitorPid: () => (fs.existsSync(file('gpiomon.pid')) ? Number(fs.readFileSync(file('gpiomon.pid'), 'utf8')) : undefined),
  };
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2)[0] !== 'Z';
  } catch {
    return false;
  }
}

function config(over: Partial<GpioSourceConfig> = {}): GpioSourceConfig {
  return { type: 'gpio', name: 'door', chip: 'gpiochip0', line: 17, sensor: 'door_open', debounce_ms: 0, active_low: false, bias: 'as_is', driver: 'gpiod', ...over };
}

const watchers: GpiodLineWatcher[] = [];
afterEach(async () => {
  await Promise.all(watchers.splice(0).map((w) => w.stop()));
});

function watch(cfg: GpioSourceConfig, opts: Partial<GpiodDriverOptions>) {
  const metrics = new MetricsRegistry('tidemark_edge');
  const edges: { level: GpioLevel; ts: number }[] = [];
  const errors: Error[] = [];
  const watcher = new GpiodLineWatcher(cfg, {
    sourceName: 'door',
    logger: createLogger({ name: 'gpiod-test', level: 'silent' }),
    metrics,
    now: () => Date.now(),
    restartDelayMs: { initial: 20, max: 160 },
    toolTimeoutMs: SLOW_MS,
    ...opts,
  });
  watchers.push(watcher);
  const connected = () => gaugeValue(metrics.gauge('source_connected', '', ['source']), { source: 'door' });
  const counter = (name: string) => counterValue(metrics.counter(name, '', ['source']), { source: 'door' });
  return {
    watcher,
    edges,
    errors,
    connected,
    counter,
    start: () =>
      watcher.start(
        (level, ts) => edges.push({ level, ts }),
        (err) => errors.push(err),
      ),
  };
}

describe('gpiod driver against fake-gpiomon', { timeout: 90_000 }, () => {
  it('1.6: reads the level, reports edges with their kernel times, ignores odd output, kills gpiomon on stop', async () => {
    const tools = await fakeTools('1.6.3');
    tools.setLevel(1);
    const w = watch(config(), tools.opts);
    const before = Date.now();
    const started = await w.start();
    expect(started.initial).toBe(1);
    expect(started.tsMs).toBeGreaterThanOrEqual(before);
    // 1.x has no banner: start() resolves once gpiomon runs, and it watches soon after.
    const pid = await waitFor(() => tools.monitorPid(), { timeoutMs: SLOW_MS, description: 'gpiomon to watch' });
    expect(tools.calls().map((c) => [c.tool, c.args])).toEqual([
      ['gpiomon', ['--version']],
      ['gpioget', ['gpiochip0', '17']],
      ['gpiomon', ['--line-buffered', '--format=%e %s %n', 'gpiochip0', '17']],
    ]);
    expect(await w.connected()).toBe(1);

    const sent = Date.now();
    tools.send('falling');
    tools.send('raw gpiomon: something unexpected');
    tools.send('raw ');
    tools.send('rising');
    await waitFor(() => w.edges.length === 2, { timeoutMs: SLOW_MS, description: 'two edges' });
    expect(w.edges.map((e) => e.level)).toEqual([0, 1]);
    for (const e of w.edges) {
      // Stamped by the (fake) kernel when it happened: after we sent it, not after it arrived.
      expect(e.ts).toBeGreaterThanOrEqual(sent - 5);
      expect(e.ts).toBeLessThanOrEqual(Date.now());
      expect(Number.isSafeInteger(e.ts)).toBe(true);
    }
    expect(await w.counter('gpio_unparsed_lines_total')).toBe(1);
    expect(w.errors).toEqual([]);

    await w.watcher.stop();
    expect(isAlive(pid)).toBe(false);
    expect(await w.connected()).toBe(0);
    tools.send('rising');
    await w.watcher.stop(); // idempotent
    expect(w.edges).toHaveLength(2);
  });

  it('restarts gpiomon with backoff when it dies, reporting a change it could not see', async () => {
    const tools = await fakeTools('1.6.3');
    tools.setLevel(1);
    const w = watch(config(), tools.opts);
    await w.start();
    const first = await waitFor(() => tools.monitorPid(), { timeoutMs: SLOW_MS, description: 'gpiomon to watch' });

    // The line drops while gpiomon is crashing: only the restart's gpioget can see it.
    tools.setLevel(0);
    tools.send('exit 3 gpiomon: error waiting for events: Device or resource busy');
    await waitFor(async () => (await w.counter('source_reconnects_total')) === 1, { timeoutMs: SLOW_MS, description: 'a restart' });
    expect(w.errors).toHaveLength(1);
    expect(w.errors[0]).toBeInstanceOf(NotConnectedError);
    expect(w.errors[0]!.message).toBe(
      'gpio chip "gpiochip0" line 17: gpiomon exited with code 3: gpiomon: error waiting for events: Device or resource busy; ' +
        'line 17 is held by another program (gpioinfo gpiochip0 shows its consumer); restarting in 20 ms',
    );
    expect(w.edges.map((e) => e.level)).toEqual([0]);
    expect(await w.connected()).toBe(1);
    expect(isAlive(first)).toBe(false);

    const second = await waitFor(() => tools.monitorPid() !== first && tools.monitorPid(), { timeoutMs: SLOW_MS, description: 'the new gpiomon to watch' });
    tools.send('rising');
    await waitFor(() => w.edges.length === 2, { timeoutMs: SLOW_MS, description: 'an edge from the new gpiomon' });
    expect(w.edges[1]!.level).toBe(1);
    expect(tools.calls().filter((c) => c.tool === 'gpioget')).toHaveLength(2);

    await w.watcher.stop();
    expect(isAlive(second)).toBe(false);
  });

  it('keeps retrying with growing delays while gpiomon cannot run, then recovers', async () => {
    const tools = await fakeTools('2.1.3');
    const w = watch(config(), tools.opts);
    await w.start();
    const first = await waitFor(() => tools.monitorPid(), { timeoutMs: SLOW_MS, description: 'gpiomon to watch' });
    tools.failGpiomon("gpiomon: unable to request lines on chip '/dev/gpiochip0': Device or resource busy");
    tools.send('exit 1');
    await waitFor(() => w.errors.length >= 4, { timeoutMs: SLOW_MS, description: 'four failures' });
    expect(await w.connected()).toBe(0);
    const delays = w.errors.map((e) => Number(/(?:restarting|retrying) in (\d+) ms/.exec(e.message)?.[1]));
    // The edge's reconnect policy (runner/backoff.ts): the first wait is the minimum, then each is jittered
    // below a ceiling that doubles per failure, up to the maximum.
    expect(delays[0]).toBe(20);
    delays.slice(0, 4).forEach((d, n) => {
      expect(d).toBeGreaterThanOrEqual(20);
      expect(d).toBeLessThanOrEqual(Math.min(160, 20 * 2 ** n));
    });
    expect(w.errors[1]!.message).toContain('Device or resource busy');

    tools.failGpiomon(undefined);
    await waitFor(async () => (await w.connected()) === 1, { timeoutMs: SLOW_MS, description: 'reconnected' });
    const pid = await waitFor(() => tools.monitorPid() !== first && tools.monitorPid(), { timeoutMs: SLOW_MS, description: 'the new gpiomon' });
    tools.send('rising');
    await waitFor(() => w.edges.length === 1, { timeoutMs: SLOW_MS, description: 'an edge after recovery' });
    await w.watcher.stop();
    expect(isAlive(pid)).toBe(false);
  });

  it('2.x: uses its command line, waits for the banner, applies active_low and bias', async () => {
    const tools = await fakeTools('2.1.3');
    tools.setLevel(0);
    const w = watch(config({ active_low: true, bias: 'pull_down' }), tools.opts);
    const { initial } = await w.start();
    expect(initial).toBe(1); // physically low, active low: logically 1
    expect(tools.calls().map((c) => [c.tool, c.args])).toEqual([
      ['gpiomon', ['--version']],
      ['gpioget', ['--numeric', '--active-low', '--bias=pull-down', '--chip', 'gpiochip0', '17']],
      ['gpiomon', ['--banner', '--active-low', '--bias=pull-down', '--format=%E %S', '--chip', 'gpiochip0', '17']],
    ]);
    // The banner came before start() resolved, so gpiomon already watches.
    expect(tools.monitorPid()).toBeDefined();
    tools.send('rising');
    tools.send('falling');
    await waitFor(() => w.edges.length === 2, { timeoutMs: SLOW_MS, description: 'two edges' });
    expect(w.edges.map((e) => e.level)).toEqual([0, 1]);
  });

  it('2.x: a gpiomon that fails before its banner fails start() with what it said', async () => {
    const tools = await fakeTools('2.1.3');
    tools.failGpiomon("gpiomon: cannot find GPIO chip character device 'gpiochip0'");
    const w = watch(config(), tools.opts);
    const err = await w.start().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(NotConnectedError);
    expect((err as Error).message).toBe(
      `gpio chip "gpiochip0" line 17: gpiomon exited with code 1: gpiomon: cannot find GPIO chip character device 'gpiochip0'; ` +
        'GPIO chip "gpiochip0" not found on this machine (gpiodetect lists the chips)',
    );
    expect(await w.connected()).toBe(0);
  });

  it('a failing gpioget fails start() and starts no gpiomon', async () => {
    const tools = await fakeTools('1.6.3');
    tools.failGpioget('gpioget: error reading GPIO values: Permission denied');
    const w = watch(config(), tools.opts);
    await expect(w.start()).rejects.toThrow(
      'gpio chip "gpiochip0" line 17: gpioget exited with code 1: gpioget: error reading GPIO values: Permission denied; no permission to open the GPIO chip',
    );
    expect(tools.calls().map((c) => c.tool)).toEqual(['gpiomon', 'gpioget']);
  });

  it('without the tools, start() names the Debian package', async () => {
    const empty = await makeTempDir('tidemark-empty-path-');
    const w = watch(config(), { searchPath: empty });
    const err = await w.start().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(PermanentError);
    expect((err as Error).message).toBe(
      'gpio chip "gpiochip0" line 17: gpiomon and gpioget not found in PATH; the gpio source needs libgpiod\'s tools: install the Debian package "gpiod" (apt-get install gpiod)',
    );
  });

  it('stop() while start() waits for the 2.x banner rejects start and leaves no process', async () => {
    const tools = await fakeTools('2.1.3');
    // A gpiomon that never prints its banner (as if it hung requesting the line).
    const hang = path.join(tools.dir, 'hang');
    fs.writeFileSync(hang, '#!/bin/sh\nif [ "$1" = "--version" ]; then echo "gpiomon (libgpiod) v2.1.3"; exit 0; fi\necho $$ > "$FAKE_GPIOD_DIR/hang.pid"\nexec sleep 1000\n', { mode: 0o755 });
    fs.rmSync(path.join(tools.dir, 'bin', 'gpiomon'));
    fs.symlinkSync(hang, path.join(tools.dir, 'bin', 'gpiomon'));
    const w = watch(config(), tools.opts);
    const starting = w.start().catch((e: unknown) => e);
    const pid = await waitFor(() => fs.existsSync(path.join(tools.dir, 'hang.pid')) && Number(fs.readFileSync(path.join(tools.dir, 'hang.pid'), 'utf8')), {
      timeoutMs: SLOW_MS,
      description: 'the hanging gpiomon',
    });
    await w.watcher.stop();
    expect(isAlive(pid)).toBe(false);
    expect(await starting).toBeInstanceOf(Error);
  });

  it('feeds GpioSource end to end: initial level, then debounced readings', async () => {
    const tools = await fakeTools('1.6.3');
    tools.setLevel(0);
    const ctx = recordingContext();
    const source = new GpioSource(config({ debounce_ms: 30 }), ctx, {
      openLine: (cfg, o) => {
        const w = new GpiodLineWatcher(cfg, { ...o, ...tools.opts, toolTimeoutMs: SLOW_MS });
        watchers.push(w);
        return w;
      },
    });
    await source.start();
    await waitFor(() => tools.monitorPid(), { timeoutMs: SLOW_MS, description: 'gpiomon to watch' });
    // A bounce burst, in one write so it arrives faster than the debounce time.
    fs.appendFileSync(path.join(tools.dir, 'events'), 'rising\nfalling\nrising\n');
    await waitFor(() => ctx.readings.length === 2, { timeoutMs: SLOW_MS, description: 'the debounced change' });
    expect(ctx.readings.map((r) => [r.sensor, r.value])).toEqual([
      ['door_open', 0],
      ['door_open', 1],
    ]);
    await source.stop();
  });
});

describe('gpiod driver with the real tools and no GPIO chip', () => {
  it('surfaces the tool error from start()', async () => {
    requireTool('gpiomon', 'gpiod');
    requireTool('gpioget', 'gpiod');
    const w = watch(config({ chip: 'tidemark-no-such-chip' }), {});
    const err = await w.start().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(NotConnectedError);
    // 1.6: "gpioget: error reading GPIO values: No such file or directory"; 2.x: "cannot find GPIO chip character device".
    expect((err as Error).message).toMatch(
      /^gpio chip "tidemark-no-such-chip" line 17: gpioget exited with code 1: (\/\S+\/)?gpioget: .+; GPIO chip "tidemark-no-such-chip" not found on this machine \(gpiodetect lists the chips\)$/,
    );
    expect(await w.connected()).toBe(0);
  });
});
