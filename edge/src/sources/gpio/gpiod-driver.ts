// libgpiod through Debian's `gpiod` tools: gpioget reads the initial level, then one long-running gpiomon
// child per line reports every edge with the kernel's timestamp. If gpiomon dies it is restarted with
// backoff (re-reading the level first, so a change while nobody watched is still reported).
// Why the tools rather than a native binding: no maintained Node binding for libgpiod builds on Node 20
// without a compiler and libgpiod headers on the gateway, and the one on npm targets libgpiod 1.x only
// (Debian 13 moves to 2.x); the tools are packaged by Debian and Raspberry Pi OS for both versions; and a
// crash in them cannot take the agent down. The cost, one process per line, is fine for tens of lines.
// Invariants: at most one gpiomon per watcher; once stop() resolved, no child runs and no handler is called.
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import readline from 'node:readline';
import { guard, logEvery, NotConnectedError, PermanentError } from '@tidemark/shared';
import type { GpioSourceConfig } from './config.js';
import {
  describeToolExit,
  eventTimeMs,
  findExecutable,
  GPIOD_PACKAGE,
  gpiogetArgs,
  gpiomonArgs,
  isGpiomonBanner,
  monotonicNowMs,
  parseGpiogetOutput,
  parseGpiomonLine,
  parseToolApi,
  type GpiodApi,
  type ToolExit,
} from './gpiod-cli.js';
import {
  connectedGauge,
  type EdgeHandler,
  type GpioDriverOptions,
  type GpioLevel,
  type GpioLineWatcher,
  type WatchErrorHandler,
} from './gpio-driver.js';
import { backoffDelay } from '../../runner/backoff.js';
import { sourceReconnects } from '../source-metrics.js';

export interface GpiodDriverOptions extends GpioDriverOptions {
  /** Where to look for gpiomon and gpioget (a PATH string). Default: this process's PATH. */
  searchPath?: string;
  /** Merged over this process's environment for the tools. */
  env?: NodeJS.ProcessEnv;
  /** Backoff between gpiomon restarts (the edge's reconnect policy, runner/backoff.ts) from `initial` up to `max`. Default 500 ms … 30 s. */
  restartDelayMs?: { initial: number; max: number };
  /** Longest wait for gpioget, `--version` or the 2.x banner. Default 5 s. */
  toolTimeoutMs?: number;
  /** How long stop() waits after SIGTERM before SIGKILL. Default 2 s. */
  stopTimeoutMs?: number;
  /** CLOCK_MONOTONIC in ms (injected by tests). */
  monoNowMs?: () => number;
}

/** A gpiomon that ran this long was healthy: its failure starts the backoff from the beginning again. */
const HEALTHY_RUN_MS = 10_000;

interface Tools {
  gpiomon: string;
  gpioget: string;
  api: GpiodApi;
}

interface Monitor {
  child: ChildProcess;
  startedAt: number;
  /** Resolves once the process is gone and its output was read; never rejects. */
  closed: Promise<ToolExit>;
}

export class GpiodLineWatcher implements GpioLineWatcher {
  private phase: 'idle' | 'starting' | 'running' | 'stopped' = 'idle';
  private stopping: Promise<void> | undefined;
  private tools: Tools | undefined;
  private monitor: Monitor | undefined;
  private restartTimer: NodeJS.Timeout | undefined;
  private failures = 0;
  private lastLevel: GpioLevel = 0;
  private onEdge: EdgeHandler = () => {};
  private onError: WatchErrorHandler = () => {};
  private readonly aborter = new AbortController();
  private readonly labels: { source: string };
  private readonly what: string;
  private readonly monoNow: () => number;
  private readonly m;

  constructor(
    private readonly config: GpioSourceConfig,
    private readonly opts: GpiodDriverOptions,
  ) {
    this.labels = { source: opts.sourceName };
    this.what = `gpio chip "${config.chip}" line ${config.line}`;
    this.monoNow = opts.monoNowMs ?? monotonicNowMs;
    this.m = {
      connected: connectedGauge(opts.metrics),
      reconnects: sourceReconnects(opts.metrics),
      unparsed: opts.metrics.counter('gpio_unparsed_lines_total', 'gpiomon output lines that were not edge events (ignored)', ['source']),
    };
  }

  async start(onEdge: EdgeHandler, onError: WatchErrorHandler): Promise<{ initial: GpioLevel; tsMs: number }> {
    if (this.phase !== 'idle') throw new Error(`${this.what}: a gpiod watcher starts once`);
    this.phase = 'starting';
    this.onEdge = onEdge;
    this.onError = onError;
    try {
      this.tools = await this.findTools();
      const first = await this.readLevel();
      this.lastLevel = first.level;
      await this.startMonitor();
      this.throwIfStopped();
      this.phase = 'running';
      this.m.connected.set(this.labels, 1);
      return { initial: first.level, tsMs: first.tsMs };
    } catch (err) {
      await this.stop();
      throw err;
    }
  }

  stop(): Promise<void> {
    if (!this.stopping) {
      this.phase = 'stopped';
      this.stopping = this.release();
    }
    return this.stopping;
  }

  private async release(): Promise<void> {
    clearTimeout(this.restartTimer);
    this.restartTimer = undefined;
    this.aborter.abort();
    this.m.connected.set(this.labels, 0);
    const monitor = this.monitor;
    this.monitor = undefined;
    if (monitor) await this.terminate(monitor);
  }

  private stopped(): boolean {
    return this.phase === 'stopped';
  }

  private throwIfStopped(): void {
    if (this.stopped()) throw new NotConnectedError(`${this.what}: stopped while starting`);
  }

  private async findTools(): Promise<Tools> {
    const searchPath = this.opts.searchPath ?? process.env.PATH ?? '';
    const gpiomon = findExecutable('gpiomon', searchPath);
    const gpioget = findExecutable('gpioget', searchPath);
    if (!gpiomon || !gpioget) {
      const missing = [gpiomon ? undefined : 'gpiomon', gpioget ? undefined : 'gpioget'].filter(Boolean).join(' and ');
      throw new PermanentError(
        `${this.what}: ${missing} not found in PATH; the gpio source needs libgpiod's tools: install the Debian package "${GPIOD_PACKAGE}" (apt-get install ${GPIOD_PACKAGE})`,
      );
    }
    const { stdout } = await this.run(gpiomon, ['--version']);
    const api = parseToolApi(stdout);
    if (api === undefined) {
      this.opts.logger.warn({ tool: gpiomon, output: stdout.slice(0, 200) }, 'could not tell the libgpiod version from gpiomon --version; assuming 1.x');
    }
    return { gpiomon, gpioget, api: api ?? 1 };
  }

  private async readLevel(): Promise<{ level: GpioLevel; tsMs: number }> {
    const tools = this.requireTools();
    const { stdout } = await this.run(tools.gpioget, gpiogetArgs(tools.api, this.config));
    const level = parseGpiogetOutput(stdout);
    if (level === undefined) {
      throw new NotConnectedError(`${this.what}: gpioget printed ${JSON.stringify(stdout.slice(0, 100))}, expected a level 0 or 1`);
    }
    return { level, tsMs: this.opts.now() };
  }

  private requireTools(): Tools {
    if (!this.tools) throw new Error('gpiod tools not resolved yet');
    return this.tools;
  }

  private childEnv(): NodeJS.ProcessEnv {
    // The C locale keeps strerror() texts in English, which the failure hints match on.
    return { ...process.env, ...this.opts.env, LC_ALL: 'C' };
  }

  /** Runs a short-lived tool; rejects with its stderr and a hint when it fails. */
  private run(file: string, args: string[]): Promise<{ stdout: string; stderr: string }> {
    const tool = path.basename(file);
    const timeout = this.opts.toolTimeoutMs ?? 5_000;
    return new Promise((resolve, reject) => {
      execFile(
        file,
        args,
        { timeout, killSignal: 'SIGKILL', signal: this.aborter.signal, env: this.childEnv(), encoding: 'utf8', maxBuffer: 64 * 1024 },
        (err, stdout, stderr) => {
          if (!err) return resolve({ stdout, stderr });
          if (this.aborter.signal.aborted) return reject(new NotConnectedError(`${this.what}: stopped while ${tool} ran`));
          const e = err as NodeJS.ErrnoException & { killed?: boolean; signal?: NodeJS.Signals | null };
          if (typeof e.code === 'string') return reject(new NotConnectedError(`${this.what}: could not run ${file}: ${e.message}`, { cause: err }));
          if (e.killed && e.signal === 'SIGKILL') return reject(new NotConnectedError(`${this.what}: ${tool} did not finish within ${timeout} ms`));
          const exit: ToolExit = { code: typeof e.code === 'number' ? e.code : null, signal: e.signal ?? null };
          reject(new NotConnectedError(`${this.what}: ${describeToolExit(tool, exit, stderr, this.config)}`, { cause: err }));
        },
      );
    });
  }

  /** Spawns gpiomon; resolves once it watches the line (2.x: its banner; 1.x: once it runs). */
  private async startMonitor(): Promise<void> {
    const { gpiomon, api } = this.requireTools();
    const child = spawn(gpiomon, gpiomonArgs(api, this.config), { stdio: ['ignore', 'pipe', 'pipe'], env: this.childEnv() });
    // kill() on a process that just exited reports through 'error' too; it must never be unhandled.
    child.on('error', () => {});
    let stderr = '';
    child.stderr?.setEncoding('utf8');
    // guard-audit: string concatenation and slice of a string chunk do not throw
    child.stderr?.on('data', (chunk: string) => {
      stderr = (stderr + chunk).slice(-4096);
    });
    const closed = new Promise<ToolExit>((resolve) => {
      child.once('close', (code, signal) => resolve({ code, signal }));
      // A spawn failure (ENOENT, EACCES) may never emit 'close'.
      child.once('error', () => {
        if (child.pid === undefined) resolve({ code: null, signal: null });
      });
    });
    const monitor: Monitor = { child, startedAt: this.monoNow(), closed };
    this.monitor = monitor;

    let ready = false;
    try {
      await new Promise<void>((resolve, reject) => {
        const timer =
          api === 2
            ? setTimeout(() => reject(new NotConnectedError(`${this.what}: gpiomon printed no banner within ${this.opts.toolTimeoutMs ?? 5_000} ms`)), this.opts.toolTimeoutMs ?? 5_000)
            : undefined;
        const settle = (err?: Error) => {
          clearTimeout(timer);
          if (err) reject(err);
          else {
            ready = true;
            resolve();
          }
        };
        const lines = readline.createInterface({ input: child.stdout!, crlfDelay: Infinity });
        lines.on(
          'line',
          guard(this.opts.logger, 'gpiomon line handler', (line: string) => {
            if (!ready && api === 2 && isGpiomonBanner(line)) settle();
            else this.onMonitorLine(monitor, line);
          }),
        );
        if (api === 1) child.once('spawn', () => settle());
        child.once('error', (err) => {
          if (!ready) settle(new NotConnectedError(`${this.what}: could not run ${gpiomon}: ${err.message}`, { cause: err }));
        });
        void closed.then((exit) => {
          if (!ready) settle(new NotConnectedError(`${this.what}: ${describeToolExit('gpiomon', exit, stderr, this.config)}`));
          else this.onMonitorClosed(monitor, exit, stderr);
        });
      });
    } catch (err) {
      if (this.monitor === monitor) this.monitor = undefined;
      await this.terminate(monitor);
      throw err;
    }
  }

  private onMonitorLine(monitor: Monitor, line: string): void {
    if (this.monitor !== monitor || this.stopped()) return;
    const ev = parseGpiomonLine(line);
    if (!ev) {
      if (line.trim() === '' || isGpiomonBanner(line)) return;
      this.m.unparsed.inc(this.labels);
      logEvery(this.opts.logger, `gpiomon-unparsed:${this.opts.sourceName}`, 60_000).warn(
        { line: line.slice(0, 200) },
        'ignored a gpiomon line that is not an edge event',
      );
      return;
    }
    const level: GpioLevel = ev.edge === 'rising' ? 1 : 0;
    this.lastLevel = level;
    this.onEdge(level, eventTimeMs(ev, this.opts.now(), this.monoNow()));
  }

  private onMonitorClosed(monitor: Monitor, exit: ToolExit, stderr: string): void {
    if (this.monitor !== monitor || this.stopped()) return;
    this.monitor = undefined;
    this.m.connected.set(this.labels, 0);
    if (this.monoNow() - monitor.startedAt >= HEALTHY_RUN_MS) this.failures = 0;
    const delay = this.scheduleRestart();
    this.onError(new NotConnectedError(`${this.what}: ${describeToolExit('gpiomon', exit, stderr, this.config)}; restarting in ${delay} ms`));
  }

  /** Arms the next restart attempt; returns its delay. */
  private scheduleRestart(): number {
    const { initial, max } = this.opts.restartDelayMs ?? { initial: 500, max: 30_000 };
    const delay = backoffDelay(this.failures, initial, max);
    this.failures++;
    clearTimeout(this.restartTimer);
    this.restartTimer = setTimeout(guard(this.opts.logger, 'gpiomon restart', () => this.restart()), delay);
    return delay;
  }

  private async restart(): Promise<void> {
    this.restartTimer = undefined;
    if (this.stopped()) return;
    try {
      const { level, tsMs } = await this.readLevel();
      if (this.stopped()) return;
      // Nobody watched while gpiomon was down: a change in that gap is reported with the time we saw it.
      if (level !== this.lastLevel) {
        this.lastLevel = level;
        this.onEdge(level, tsMs);
      }
      await this.startMonitor();
      if (this.stopped()) return;
      this.m.reconnects.inc(this.labels);
      this.m.connected.set(this.labels, 1);
      this.opts.logger.info({ chip: this.config.chip, line: this.config.line, failures: this.failures }, 'gpiomon restarted');
    } catch (err) {
      if (this.stopped()) return;
      const delay = this.scheduleRestart();
      this.onError(new NotConnectedError(`${(err as Error).message}; retrying in ${delay} ms`, { cause: err }));
    }
  }

  /** SIGTERM (gpiomon releases the line and exits 0), SIGKILL if it does not go in time. */
  private async terminate(monitor: Monitor): Promise<void> {
    const { child } = monitor;
    if (child.pid === undefined) return;
    if (child.exitCode !== null || child.signalCode !== null) {
      await monitor.closed;
      return;
    }
    child.kill('SIGTERM');
    let timer: NodeJS.Timeout | undefined;
    const gone = await Promise.race([
      monitor.closed.then(() => true),
      new Promise<boolean>((r) => (timer = setTimeout(() => r(false), this.opts.stopTimeoutMs ?? 2_000))),
    ]);
    clearTimeout(timer);
    if (!gone) {
      child.kill('SIGKILL');
      await monitor.closed;
    }
  }
}
