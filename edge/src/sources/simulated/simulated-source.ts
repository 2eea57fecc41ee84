// Simulated sensors at a fixed rate, for demos, soak tests and benchmarks. Ticks are scheduled against the
// wall clock, so a late timer emits the readings it owes (each with its own due time) rather than drifting.
import { guard } from '@tidemark/shared';
import type { Source, SourceContext, SourceReading } from '../source.js';
import type { SimulatedSourceConfig } from './config.js';
import { makeGenerator, mulberry32 } from './shapes.js';

export class SimulatedSource implements Source {
  readonly type = 'simulated';
  readonly name: string;
  private timer: NodeJS.Timeout | undefined;
  private startMs = 0;
  /** Index of the next tick; tick k is due at startMs + k * intervalMs (no accumulated float drift). */
  private nextTick = 0;
  private readonly intervalMs: number;
  private readonly generators: { name: string; next: (t: number) => number }[];

  constructor(
    private readonly config: SimulatedSourceConfig,
    private readonly ctx: SourceContext,
  ) {
    this.name = config.name;
    this.intervalMs = 1000 / config.rate_hz;
    const rng = mulberry32(config.seed ?? Math.floor(Math.random() * 2 ** 32));
    this.generators = config.sensors.map((s) => ({ name: s.name, next: makeGenerator(s, rng) }));
  }

  async start(): Promise<void> {
    this.startMs = this.ctx.now();
    this.nextTick = 0;
    // A 10 ms timer bounds latency while letting high rates emit in small bursts.
    this.timer = setInterval(guard(this.ctx.logger, 'simulated source tick', () => this.tick()), Math.max(10, Math.min(this.intervalMs, 1000)));
    this.tick();
  }

  private tick(): void {
    const now = this.ctx.now();
    const out: SourceReading[] = [];
    // Cap a burst (e.g. after the event loop stalled) at 10 s worth of ticks.
    let budget = Math.ceil(10_000 / this.intervalMs);
    const due = (k: number) => this.startMs + k * this.intervalMs;
    while (due(this.nextTick) <= now && budget-- > 0) {
      const ts = Math.round(due(this.nextTick));
      for (const g of this.generators) out.push({ sensor: g.name, value: g.next(ts), ts });
      this.nextTick += 1;
    }
    if (due(this.nextTick) <= now) {
      // Still behind after a full burst: skip ahead rather than flood (the skipped ticks never existed).
      this.startMs = now;
      this.nextTick = 1;
    }
    if (out.length > 0) this.ctx.sink(out);
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }
}
