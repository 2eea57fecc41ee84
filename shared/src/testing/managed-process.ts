// Child processes for end-to-end tests: output captured in memory and streamed to a log file, each
// process in its own process group so a SIGKILL takes wrapper scripts' grandchildren with it.
// Every process is tracked in a module-level registry until reaped; nothing outlives the test worker.

import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { TimeoutError } from '../errors/index.js';
import { DEFAULT_WAIT_TIMEOUT_MS } from './wait-for.js';

export interface SpawnOptions {
  /** Label in logs and failure dumps. Default: the command's basename. */
  name?: string;
  /** Merged over process.env; set a key to undefined to remove it from the child's environment. */
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  /** Default 'ignore'. With 'pipe', write to `child.stdin`. */
  stdin?: 'ignore' | 'pipe';
}

export interface ExitState {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export interface ManagedProcess {
  readonly name: string;
  readonly pid: number;
  readonly child: ChildProcess;
  /** The command and its arguments, shell-quoted, for messages. */
  readonly commandLine: string;
  /** File receiving the full output as it arrives. */
  readonly logPath: string;
  /** True until the process has exited. */
  readonly running: boolean;
  /** Resolves once the process exited and its output was drained; never rejects. */
  readonly exited: Promise<ExitState>;
  /** stdout and stderr, interleaved in the order received. */
  output(): string;
  stdout(): string;
  stderr(): string;
  /**
   * Resolves when output() matches: the match for a RegExp (flags g/y ignored), the pattern itself for a
   * string. Only output from character offset `since` on is searched (default 0: everything so far).
   * Rejects early if the process exits without printing it, with TimeoutError at the deadline.
   */
  waitForOutput(pattern: RegExp | string, timeoutMs?: number, since?: number): Promise<RegExpMatchArray | string>;
  /** Signals the process itself (not its group) and waits for it to exit; TimeoutError if it will not. */
  kill(signal?: NodeJS.Signals, timeoutMs?: number): Promise<ExitState>;
  /** SIGKILLs the whole process group and waits for the process to exit. */
  sigkill(): Promise<ExitState>;
}

const LOG_DIR = path.join(os.tmpdir(), 'tidemark-test-logs');
/** Once a process exited, wait at most this long for its pipes to close (grandchildren may hold them). */
const DRAIN_MS = 1_000;

let nextSeq = 1;
const registry = new Set<TrackedProcess>();

/** Starts `command` in its own process group and tracks it until reaped. Throws if it cannot be started. */
export function spawnProcess(command: string, args: string[], opts: SpawnOptions = {}): ManagedProcess {
  return new TrackedProcess(command, args, opts);
}

/**
 * SIGKILLs every tracked process still running (with its group) and waits for all of them. They stay
 * tracked, so a useProcessReaper hook still dumps them on failure (or deletes their logs on success).
 */
export async function reapAll(): Promise<void> {
  await Promise.all([...registry].map((p) => p.sigkill()));
}

// ---- registry access for the reaper hooks (not part of the public index) ----

/** Sequence number the next spawned process will get; a mark for "processes started after now". */
export function processMark(): number {
  return nextSeq;
}

export function trackedProcesses(sinceMark = 0): TrackedProcess[] {
  return [...registry].filter((p) => p.seq >= sinceMark);
}

/** SIGKILLs the given processes (groups), waits for them and forgets them. */
export async function reap(processes: readonly TrackedProcess[]): Promise<void> {
  await Promise.all(processes.map((p) => p.sigkill()));
  for (const p of processes) registry.delete(p);
}

export class TrackedProcess implements ManagedProcess {
  readonly seq = nextSeq++;
  readonly name: string;
  readonly pid: number;
  readonly child: ChildProcess;
  readonly commandLine: string;
  readonly logPath: string;
  readonly startedAt = Date.now();
  readonly exited: Promise<ExitState>;
  exitedAt: number | undefined;
  exitState: ExitState | undefined;

  private combined = '';
  private out = '';
  private err = '';
  private readonly listeners = new Set<() => void>();
  private readonly log: fs.WriteStream;
  private readonly logClosed: Promise<void>;
  private groupKilled = false;

  constructor(command: string, args: string[], opts: SpawnOptions) {
    this.name = opts.name ?? path.basename(command);
    this.commandLine = [command, ...args].map(shellQuote).join(' ');
    const child = spawn(command, args, {
      cwd: opts.cwd,
      env: { ...process.env, ...opts.env },
      stdio: [opts.stdin ?? 'ignore', 'pipe', 'pipe'],
      detached: true,
    });
    // Spawn failures (ENOENT, EACCES) are also emitted asynchronously; without a listener they would crash the worker.
    child.on('error', () => {});
    if (child.pid === undefined) {
      throw new Error(
        `failed to start ${this.name}: could not execute ${JSON.stringify(command)} (not found or not executable; cwd ${opts.cwd ?? process.cwd()})`,
      );
    }
    this.child = child;
    this.pid = child.pid;

    fs.mkdirSync(LOG_DIR, { recursive: true });
    const stamp = new Date(this.startedAt).toISOString().replace(/[:.]/g, '-');
    this.logPath = path.join(LOG_DIR, `${stamp}-${this.name.replace(/[^A-Za-z0-9._-]/g, '_')}-${this.pid}.log`);
    this.log = fs.createWriteStream(this.logPath, { flags: 'a' });
    this.log.on('error', () => {}); // a lost log file must not fail the test; the output is still in memory
    this.logClosed = new Promise((resolve) => this.log.once('close', () => resolve()));
    this.log.write(`# ${this.commandLine}\n# started ${new Date(this.startedAt).toISOString()} pid ${this.pid}\n`);

    child.stdout?.setEncoding('utf8');
    child.stderr?.setEncoding('utf8');
    child.stdout?.on('data', (chunk: string) => this.append(chunk, 'out'));
    child.stderr?.on('data', (chunk: string) => this.append(chunk, 'err'));

    const closed = new Promise<void>((resolve) => child.once('close', () => resolve()));
    this.exited = new Promise<ExitState>((resolve) => {
      child.once('exit', (code, signal) => {
        this.exitedAt = Date.now();
        const state: ExitState = { code, signal };
        void drain(closed).then(() => {
          this.exitState = state;
          this.log.end(`\n# ${describeExit(state)} at ${new Date().toISOString()}\n`);
          this.notify();
          resolve(state);
        });
      });
    });
    registry.add(this);
  }

  get running(): boolean {
    return this.exitedAt === undefined;
  }

  output(): string {
    return this.combined;
  }

  stdout(): string {
    return this.out;
  }

  stderr(): string {
    return this.err;
  }

  /** The last `lines` lines of output(). */
  tail(lines: number): string {
    const all = this.combined.split('\n');
    if (all.at(-1) === '') all.pop();
    return all.slice(-lines).join('\n');
  }

  /** "running" or "exited with code 1" / "killed by SIGKILL". */
  describeState(): string {
    if (this.exitState) return describeExit(this.exitState);
    return this.running ? 'running' : 'exited (output still draining)';
  }

  waitForOutput(pattern: RegExp | string, timeoutMs = DEFAULT_WAIT_TIMEOUT_MS, since = 0): Promise<RegExpMatchArray | string> {
    const regex = typeof pattern === 'string' ? undefined : new RegExp(pattern.source, pattern.flags.replace(/[gy]/g, ''));
    const shown = typeof pattern === 'string' ? JSON.stringify(pattern) : String(pattern);
    const find = (): RegExpMatchArray | string | undefined => {
      const text = this.combined.slice(since);
      if (regex) return text.match(regex) ?? undefined;
      return text.includes(pattern as string) ? (pattern as string) : undefined;
    };
    return new Promise((resolve, reject) => {
      const settle = (): boolean => {
        const found = find();
        if (found !== undefined) {
          finish();
          resolve(found);
          return true;
        }
        if (this.exitState) {
          finish();
          reject(new Error(`${this.name} ${describeExit(this.exitState)} before printing ${shown}; last output:\n${this.tail(30)}`));
          return true;
        }
        return false;
      };
      const timer = setTimeout(() => {
        finish();
        reject(new TimeoutError(`timed out after ${timeoutMs} ms waiting for ${this.name} to print ${shown}; last output:\n${this.tail(30)}`));
      }, timeoutMs);
      const listener = (): void => void settle();
      const finish = (): void => {
        clearTimeout(timer);
        this.listeners.delete(listener);
      };
      if (!settle()) this.listeners.add(listener);
    });
  }

  async kill(signal: NodeJS.Signals = 'SIGTERM', timeoutMs = DEFAULT_WAIT_TIMEOUT_MS): Promise<ExitState> {
    if (this.running) {
      try {
        process.kill(this.pid, signal);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'ESRCH') throw err;
      }
    }
    let timer: NodeJS.Timeout | undefined;
    const expire = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(new TimeoutError(`${this.name} (pid ${this.pid}) did not exit within ${timeoutMs} ms of ${signal}; last output:\n${this.tail(30)}`)),
        timeoutMs,
      );
    });
    try {
      return await Promise.race([this.exited, expire]);
    } finally {
      clearTimeout(timer);
    }
  }

  sigkill(): Promise<ExitState> {
    this.killGroup();
    return this.exited;
  }

  /** SIGKILL to the process group: once while the leader lives, once more after (for leftover grandchildren). */
  killGroup(): void {
    if (!this.running && this.groupKilled) return;
    if (!this.running) this.groupKilled = true;
    try {
      process.kill(-this.pid, 'SIGKILL');
    } catch {
      // ESRCH: the group is already gone.
    }
  }

  /** Deletes the log file once it is complete (used after passing tests). */
  async discardLog(): Promise<void> {
    await this.exited;
    await this.logClosed;
    await fs.promises.rm(this.logPath, { force: true });
  }

  private append(chunk: string, stream: 'out' | 'err'): void {
    this.combined += chunk;
    if (stream === 'out') this.out += chunk;
    else this.err += chunk;
    this.log.write(chunk);
    this.notify();
  }

  private notify(): void {
    for (const listener of [...this.listeners]) listener();
  }
}

export function describeExit(state: ExitState): string {
  if (state.signal) return `was killed by ${state.signal}`;
  return `exited with code ${state.code}`;
}

function drain(closed: Promise<void>): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([closed, new Promise<void>((resolve) => (timer = setTimeout(resolve, DRAIN_MS)))]).finally(() =>
    clearTimeout(timer),
  );
}

function shellQuote(arg: string): string {
  return /^[A-Za-z0-9_\-+=.,:/@%]+$/.test(arg) ? arg : `'${arg.replace(/'/g, `'\\''`)}'`;
}

// Last resort if a test forgot the reaper: never leave servers behind when the worker exits normally.
// Test runners may load this module once per test file in one process, so the hook is installed once.
const registries = ((globalThis as Record<symbol, Set<Set<TrackedProcess>>>)[Symbol.for('tidemark.testing.registries')] ??= (() => {
  const all = new Set<Set<TrackedProcess>>();
  process.on('exit', () => {
    for (const reg of all) for (const p of reg) if (p.running) p.killGroup();
  });
  return all;
})());
registries.add(registry);
