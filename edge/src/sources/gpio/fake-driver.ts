// In-memory GPIO lines for tests and demos without hardware (`driver: fake`). A line is shared by its key
// `${chip}:${line}` in `fakeLines`, so a test drives the very line a source opened. Levels set here are
// physical, as on the pin; watchers apply active_low the way the kernel does, and a line first opened with
// `bias: pull_up` idles high like a real pulled-up input.
import type { GpioSourceConfig } from './config.js';
import { connectedGauge, type EdgeHandler, type GpioDriverOptions, type GpioLevel, type GpioLineWatcher, type WatchErrorHandler } from './gpio-driver.js';

type LineListener = { edge: (physical: GpioLevel, tsMs: number | undefined) => void; error: (err: Error) => void };

export class FakeGpioLine {
  private physical: GpioLevel;
  private readonly listeners = new Set<LineListener>();
  private openFailure: Error | undefined;

  constructor(
    readonly key: string,
    initial: GpioLevel = 0,
  ) {
    this.physical = initial;
  }

  /** The physical level of the pin. */
  get level(): GpioLevel {
    return this.physical;
  }

  /** True while a started watcher has the line open. */
  get watched(): boolean {
    return this.listeners.size > 0;
  }

  /**
   * Drives the pin to `level`. A change is an edge for every watcher, stamped `tsMs` (default: the watcher's
   * clock); setting the level it already has is no edge, as on a real pin.
   */
  set(level: GpioLevel, tsMs?: number): void {
    if (level === this.physical) return;
    this.physical = level;
    for (const l of [...this.listeners]) l.edge(level, tsMs);
  }

  /** Makes the next watcher start() on this line reject with `err` (a missing chip, a busy line). */
  failNextOpen(err: Error): void {
    this.openFailure = err;
  }

  /** Reports a recoverable problem to every watcher, as a real driver does when it loses the line. */
  emitError(err: Error): void {
    for (const l of [...this.listeners]) l.error(err);
  }

  /** @internal for FakeLineWatcher */
  attach(listener: LineListener): void {
    const failure = this.openFailure;
    this.openFailure = undefined;
    if (failure) throw failure;
    this.listeners.add(listener);
  }

  /** @internal for FakeLineWatcher */
  detach(listener: LineListener): void {
    this.listeners.delete(listener);
  }
}

/** Every fake line of this process, by `${chip}:${line}`. */
export const fakeLines = new Map<string, FakeGpioLine>();

export function fakeLineKey(chip: string, line: number): string {
  return `${chip}:${line}`;
}

/** The fake line `chip:line`, created at `initial` (physical) if it does not exist yet. */
export function fakeLine(chip: string, line: number, initial: GpioLevel = 0): FakeGpioLine {
  const key = fakeLineKey(chip, line);
  let l = fakeLines.get(key);
  if (!l) fakeLines.set(key, (l = new FakeGpioLine(key, initial)));
  return l;
}

export class FakeLineWatcher implements GpioLineWatcher {
  private listener: LineListener | undefined;
  private readonly line: FakeGpioLine;
  private readonly connected;

  constructor(
    private readonly config: GpioSourceConfig,
    private readonly opts: GpioDriverOptions,
  ) {
    this.line = fakeLine(config.chip, config.line, config.bias === 'pull_up' ? 1 : 0);
    this.connected = connectedGauge(opts.metrics);
  }

  async start(onEdge: EdgeHandler, onError: WatchErrorHandler): Promise<{ initial: GpioLevel; tsMs: number }> {
    if (this.listener) throw new Error(`fake gpio line ${this.line.key} is already being watched by this watcher`);
    const listener: LineListener = {
      edge: (physical, tsMs) => onEdge(this.logical(physical), tsMs ?? this.opts.now()),
      error: onError,
    };
    this.line.attach(listener);
    this.listener = listener;
    this.connected.set({ source: this.opts.sourceName }, 1);
    return { initial: this.logical(this.line.level), tsMs: this.opts.now() };
  }

  async stop(): Promise<void> {
    if (!this.listener) return;
    this.line.detach(this.listener);
    this.listener = undefined;
    this.connected.set({ source: this.opts.sourceName }, 0);
  }

  private logical(physical: GpioLevel): GpioLevel {
    return this.config.active_low ? ((1 - physical) as GpioLevel) : physical;
  }
}
