import { gaugeValue, counterValue, createLogger, MetricsRegistry } from '@tidemark/shared';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { recordingContext, type RecordingContext } from '../testing/source-contract.js';
import type { GpioSourceConfig } from './config.js';
import { fakeLine, fakeLines } from './fake-driver.js';
import { connectedGauge, type GpioLineWatcher, type OpenLine } from './gpio-driver.js';
import { GpioSource } from './gpio-source.js';

const T0 = Date.UTC(2025, 0, 1, 8, 0, 0);

function config(over: Partial<GpioSourceConfig> = {}): GpioSourceConfig {
  return {
    type: 'gpio',
    name: 'door',
    chip: 'gpiochip0',
    line: 17,
    sensor: 'door_open',
    debounce_ms: 0,
    active_low: false,
    bias: 'as_is',
    driver: 'fake',
    ...over,
  };
}

describe('GpioSource', () => {
  let ctx: RecordingContext;
  let source: GpioSource | undefined;

  beforeEach(() => {
    vi.useFakeTimers({ now: T0 });
    ctx = recordingContext();
    fakeLines.clear();
  });

  afterEach(async () => {
    await source?.stop();
    source = undefined;
    vi.useRealTimers();
  });

  const start = async (over: Partial<GpioSourceConfig> = {}) => {
    source = new GpioSource(config(over), ctx);
    await source.start();
    return source;
  };

  it('reports the level at start, then every change with the time of its edge', async () => {
    const line = fakeLine('gpiochip0', 17, 1);
    await start();
    expect(ctx.readings).toEqual([{ sensor: 'door_open', value: 1, ts: T0 }]);
    line.set(0, T0 + 500);
    line.set(1, T0 + 900);
    line.set(1, T0 + 950); // no change, no edge
    expect(ctx.readings.slice(1)).toEqual([
      { sensor: 'door_open', value: 0, ts: T0 + 500 },
      { sensor: 'door_open', value: 1, ts: T0 + 900 },
    ]);
  });

  it('drives the line the config names: fakeLines is keyed chip:line', async () => {
    await start({ chip: 'gpiochip2', line: 4 });
    const line = fakeLines.get('gpiochip2:4');
    expect(line?.watched).toBe(true);
    line!.set(1);
    expect(ctx.readings.map((r) => r.value)).toEqual([0, 1]);
  });

  it('inverts levels for active_low (a normally-closed contact wired to ground)', async () => {
    const line = fakeLine('gpiochip0', 17, 0);
    await start({ active_low: true });
    line.set(1);
    line.set(0);
    expect(ctx.readings.map((r) => r.value)).toEqual([1, 0, 1]);
  });

  it('a fresh line with bias pull_up idles high', async () => {
    await start({ bias: 'pull_up' });
    expect(ctx.readings).toEqual([{ sensor: 'door_open', value: 1, ts: T0 }]);
  });

  describe('debounce', () => {
    it('a bouncing contact yields one reading, once it settled for debounce_ms, stamped when it settled', async () => {
      const line = fakeLine('gpiochip0', 17, 0);
      await start({ debounce_ms: 20 });
      // Closing the door: the contact chatters for 6 ms, then stays closed.
      for (const [level, dt] of [[1, 0], [0, 1], [1, 2], [0, 4], [1, 6]] as const) {
        vi.setSystemTime(T0 + 100 + dt);
        line.set(level);
      }
      expect(ctx.readings).toHaveLength(1);
      vi.advanceTimersByTime(19);
      expect(ctx.readings).toHaveLength(1);
      vi.advanceTimersByTime(1);
      expect(ctx.readings).toEqual([
        { sensor: 'door_open', value: 0, ts: T0 },
        { sensor: 'door_open', value: 1, ts: T0 + 106 },
      ]);
      vi.advanceTimersByTime(10_000);
      expect(ctx.readings).toHaveLength(2);
    });

    it('a spike shorter than debounce_ms is never reported', async () => {
      const line = fakeLine('gpiochip0', 17, 0);
      await start({ debounce_ms: 20 });
      line.set(1, T0 + 100);
      vi.setSystemTime(T0 + 105);
      line.set(0, T0 + 105);
      vi.advanceTimersByTime(1_000);
      expect(ctx.readings.map((r) => r.value)).toEqual([0]);
    });

    it('readings are never closer than debounce_ms and alternate, whatever the input', async () => {
      const line = fakeLine('gpiochip0', 17, 0);
      await start({ debounce_ms: 15 });
      let seed = 7;
      const rnd = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
      for (let i = 0; i < 400; i++) {
        vi.advanceTimersByTime(Math.floor(rnd() * 30));
        line.set(rnd() < 0.5 ? 0 : 1);
      }
      vi.advanceTimersByTime(100);
      const edges = ctx.readings.slice(1);
      expect(edges.length).toBeGreaterThan(5);
      for (let i = 1; i < edges.length; i++) {
        expect(edges[i]!.ts! - edges[i - 1]!.ts!).toBeGreaterThanOrEqual(15);
        expect(edges[i]!.value).not.toBe(edges[i - 1]!.value);
      }
      expect(ctx.readings.at(-1)!.value).toBe(line.level);
    });
  });

  it('counts raw edges and reports the line as connected while started', async () => {
    const line = fakeLine('gpiochip0', 17, 0);
    await start({ debounce_ms: 50 });
    expect(await gaugeValue(connectedGauge(ctx.metrics), { source: 'door' })).toBe(1);
    line.set(1);
    line.set(0);
    const edges = ctx.metrics.counter('gpio_edges_total', 'Raw GPIO edges seen, before debouncing', ['source']);
    expect(await counterValue(edges, { source: 'door' })).toBe(2);
    await source!.stop();
    expect(await gaugeValue(connectedGauge(ctx.metrics), { source: 'door' })).toBe(0);
  });

  it('start fails with the driver error and leaves the line free; a later start works', async () => {
    const line = fakeLine('gpiochip0', 17, 1);
    line.failNextOpen(new Error('gpiochip0: Device or resource busy'));
    source = new GpioSource(config(), ctx);
    await expect(source.start()).rejects.toThrow('Device or resource busy');
    expect(line.watched).toBe(false);
    expect(ctx.readings).toEqual([]);
    await source.start();
    expect(ctx.readings.map((r) => r.value)).toEqual([1]);
  });

  it('a pending debounced change is dropped on stop; nothing reaches the sink afterwards', async () => {
    const line = fakeLine('gpiochip0', 17, 0);
    await start({ debounce_ms: 20 });
    line.set(1);
    await source!.stop();
    vi.advanceTimersByTime(100);
    line.set(0);
    expect(ctx.readings.map((r) => r.value)).toEqual([0]);
    expect(line.watched).toBe(false);
  });

  it('watcher problems are logged, never thrown at the line', async () => {
    const lines: string[] = [];
    const destination = { write: (s: string) => lines.push(s) } as unknown as NodeJS.WritableStream;
    ctx.logger = createLogger({ name: 'gpio-test', level: 'warn', destination });
    const line = fakeLine('gpiochip0', 17, 0);
    await start();
    expect(() => line.emitError(new Error('gpiomon exited with code 1; restarting in 500 ms'))).not.toThrow();
    expect(lines.join('')).toContain('restarting in 500 ms');
  });

  describe('with a watcher that is slow to start', () => {
    function manualWatcher() {
      let resolveStart!: (v: { initial: 0 | 1; tsMs: number }) => void;
      let edge!: (level: 0 | 1, ts: number) => void;
      const stop = vi.fn(async () => {});
      const watcher: GpioLineWatcher = {
        start: (onEdge) => {
          edge = onEdge;
          return new Promise((r) => (resolveStart = r));
        },
        stop,
      };
      const open: OpenLine = () => watcher;
      return { open, stop, resolveStart: (v: { initial: 0 | 1; tsMs: number }) => resolveStart(v), edge: (l: 0 | 1, ts: number) => edge(l, ts) };
    }

    it('edges seen before start resolved are reported after the initial level', async () => {
      const w = manualWatcher();
      source = new GpioSource(config({ debounce_ms: 0 }), ctx, { openLine: w.open });
      const started = source.start();
      await Promise.resolve();
      w.edge(1, T0 + 3);
      w.resolveStart({ initial: 0, tsMs: T0 + 1 });
      await started;
      expect(ctx.readings.map((r) => [r.value, r.ts])).toEqual([
        [0, T0 + 1],
        [1, T0 + 3],
      ]);
    });

    it('stop during start releases the watcher and nothing is reported', async () => {
      const w = manualWatcher();
      source = new GpioSource(config(), ctx, { openLine: w.open });
      const started = source.start();
      await Promise.resolve();
      await source.stop();
      expect(w.stop).toHaveBeenCalledTimes(1);
      w.resolveStart({ initial: 1, tsMs: T0 });
      await started;
      w.edge(0, T0 + 5);
      expect(ctx.readings).toEqual([]);
    });
  });
});

describe('GpioSource metrics registry', () => {
  it('two sources share the connected gauge, one series each', async () => {
    const metrics = new MetricsRegistry('tidemark_edge');
    const base = recordingContext();
    const a = new GpioSource(config({ name: 'a', chip: 'm', line: 1 }), { ...base, metrics });
    const b = new GpioSource(config({ name: 'b', chip: 'm', line: 2 }), { ...base, metrics });
    await a.start();
    await b.start();
    await a.stop();
    const g = connectedGauge(metrics);
    expect(await gaugeValue(g, { source: 'a' })).toBe(0);
    expect(await gaugeValue(g, { source: 'b' })).toBe(1);
    await b.stop();
  });
});
