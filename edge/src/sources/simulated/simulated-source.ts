// Simulated sensors at a fixed rate, for demos, soak tests and benchmarks. Ticks are scheduled against the
// wall clock, so a late timer emits the readings it owes (each with its own due time) rather than drifting.
import type { Source, SourceContext, SourceReading } from '../source.js';
import type { SimulatedSourceConfig } from './config.js';
import { makeGenerator, mulberry32 } from './shapes.js';

export class SimulatedSource implements Source {
  readonly type = 'simulated';
  readonly name: string;
  private timer: NodeJS.Timeout | undefined;
  private nextTickMs = 0;
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
    this.nextTickMs = this.ctx.now();
    // A 10 ms timer bounds latency while letting high rates emit in small bursts.
    this.timer = setInterval(() => this.tick(), Math.max(10, Math.min(this.intervalMs, 1000)));
    this.tick();
  }

  private tick(): void {
    const now = this.ctx.now();
    const out: SourceReading[] = [];
    // Cap a burst (e.g. after the event loop stalled) at 10 s worth of ticks.
    let budget = Math.ceil(10_000 / this.intervalMs);
    while (this.nextTickMs <= now && budget-- > 0) {
      const ts = Math.round(this.nextTickMs);
      for (const g of this.generators) out.push({ sensor: g.name, value: g.next(ts), ts });
      this.nextTickMs += this.intervalMs;
    }
    if (this.nextTickMs <= now) this.nextTickMs = now + this.intervalMs;
    if (out.length > 0) this.ctx.sink(out);
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }
}
