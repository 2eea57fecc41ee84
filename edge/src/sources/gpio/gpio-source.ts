// A GPIO line as a 0/1 sensor: one reading of the level at start, then one per debounced level change,
// stamped with the time of the edge. The driver (gpiod tools or the in-memory fake) only watches the line;
// debouncing happens here so both behave alike. Nothing reaches the sink once stop() resolved.
import { guard, logEvery } from '@tidemark/shared';
import type { Source, SourceContext } from '../source.js';
import type { GpioSourceConfig } from './config.js';
import { Debouncer, type DebouncedEdge } from './debounce.js';
import { openLine as defaultOpenLine, type GpioLevel, type GpioLineWatcher, type OpenLine } from './gpio-driver.js';

export interface GpioSourceOptions {
  /** Makes the line watcher; default: by `config.driver`. Tests use it to point the gpiod driver elsewhere. */
  openLine?: OpenLine;
}

export class GpioSource implements Source {
  readonly type = 'gpio';
  readonly name: string;
  private readonly openLine: OpenLine;
  private readonly rawEdges;
  private watcher: GpioLineWatcher | undefined;
  private debouncer: Debouncer | undefined;
  /** Edges reported before start() knew the initial level; replayed right after it. */
  private early: { level: GpioLevel; tsMs: number }[] = [];
  private timer: NodeJS.Timeout | undefined;
  /** Bumped by stop(): callbacks of an older watcher are ignored. */
  private generation = 0;

  constructor(
    private readonly config: GpioSourceConfig,
    private readonly ctx: SourceContext,
    opts: GpioSourceOptions = {},
  ) {
    this.name = config.name;
    this.openLine = opts.openLine ?? defaultOpenLine;
    this.rawEdges = ctx.metrics.counter('gpio_edges_total', 'Raw GPIO edges seen, before debouncing', ['source']);
  }

  async start(): Promise<void> {
    if (this.watcher) return;
    const generation = ++this.generation;
    const watcher = this.openLine(this.config, {
      sourceName: this.name,
      logger: this.ctx.logger,
      metrics: this.ctx.metrics,
      now: this.ctx.now,
    });
    this.watcher = watcher;
    this.early = [];
    let initial: { initial: GpioLevel; tsMs: number };
    try {
      initial = await watcher.start(
        (level, tsMs) => {
          if (generation === this.generation) this.onEdge(level, tsMs);
        },
        (err) => {
          if (generation !== this.generation) return;
          logEvery(this.ctx.logger, `gpio-watch:${this.name}`, 60_000).warn({ err: err.message }, 'gpio line watcher problem');
        },
      );
    } catch (err) {
      if (generation !== this.generation) return; // stop() came first; it released the watcher
      this.watcher = undefined;
      await watcher.stop().catch(() => undefined);
      throw err;
    }
    if (generation !== this.generation) return;
    this.debouncer = new Debouncer(this.config.debounce_ms, initial.initial, initial.tsMs);
    this.emit([{ level: initial.initial, tsMs: initial.tsMs }]);
    const early = this.early;
    this.early = [];
    for (const e of early) this.onEdge(e.level, e.tsMs);
  }

  private onEdge(level: GpioLevel, tsMs: number): void {
    this.rawEdges.inc({ source: this.name });
    if (!this.debouncer) {
      this.early.push({ level, tsMs });
      return;
    }
    this.emit(this.debouncer.edge(level, tsMs));
    this.arm();
  }

  /** Wakes up when the pending level has held long enough (if no edge comes first). */
  private arm(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    const due = this.debouncer?.dueAt;
    if (due === undefined) return;
    this.timer = setTimeout(
      guard(this.ctx.logger, 'gpio debounce timer', () => {
        this.timer = undefined;
        if (!this.debouncer) return;
        this.emit(this.debouncer.flush(Math.max(this.ctx.now(), due)));
        this.arm();
      }),
      Math.max(0, due - this.ctx.now()),
    );
  }

  private emit(edges: readonly DebouncedEdge[]): void {
    if (edges.length === 0) return;
    this.ctx.sink(edges.map((e) => ({ sensor: this.config.sensor, value: e.level, ts: e.tsMs })));
  }

  async stop(): Promise<void> {
    this.generation++;
    clearTimeout(this.timer);
    this.timer = undefined;
    this.debouncer = undefined;
    this.early = [];
    const watcher = this.watcher;
    this.watcher = undefined;
    await watcher?.stop();
  }
}
