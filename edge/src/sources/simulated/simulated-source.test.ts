import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { createLogger, MetricsRegistry } from '@tidemark/shared';
import type { SourceReading } from '../source.js';
import type { SimulatedSensorConfig, SimulatedSourceConfig } from './config.js';
import { SimulatedSource } from './simulated-source.js';

const T0 = 1_700_000_000_000;
const logger = createLogger({ name: 'simulated-test', level: 'silent' });

const sensor = (name: string, over: Partial<SimulatedSensorConfig> = {}): SimulatedSensorConfig => ({
  name,
  shape: 'sine',
  min: 20,
  max: 80,
  period_s: 60,
  decimals: 2,
  ...over,
});

interface Harness {
  source: SimulatedSource;
  /** Every sink call, in order. */
  calls: SourceReading[][];
  readings(): SourceReading[];
  /** Added to the fake wall clock in the source's `now` (a stalled event loop, seen from the source). */
  skew: number;
}

const running: SimulatedSource[] = [];

function simulated(over: Partial<SimulatedSourceConfig> = {}): Harness {
  const config: SimulatedSourceConfig = { type: 'simulated', name: 'sim', rate_hz: 10, seed: 1, sensors: [sensor('temp_c')], ...over };
  const h: Harness = {
    calls: [],
    readings: () => h.calls.flat(),
    skew: 0,
    source: undefined as unknown as SimulatedSource,
  };
  h.source = new SimulatedSource(config, {
    sink: (rs) => h.calls.push([...rs]),
    logger,
    metrics: new MetricsRegistry('tidemark_edge'),
    now: () => Date.now() + h.skew,
  });
  running.push(h.source);
  return h;
}

beforeEach(() => {
  vi.useFakeTimers({ now: T0 });
});

afterEach(async () => {
  for (const s of running.splice(0)) await s.stop();
  vi.useRealTimers();
});

const times = (rs: SourceReading[]) => rs.map((r) => r.ts);

describe('SimulatedSource', () => {
  it('emits one reading per sensor per tick at rate_hz, on the tick grid from the start time', async () => {
    const h = simulated({ rate_hz: 10, sensors: [sensor('temp_c'), sensor('pressure_kpa', { shape: 'square', min: 0, max: 1 })] });
    await h.source.start();
    expect(h.readings().map((r) => [r.sensor, r.ts])).toEqual([
      ['temp_c', T0],
      ['pressure_kpa', T0],
    ]);

    await vi.advanceTimersByTimeAsync(1_000);
    const rs = h.readings();
    expect(rs).toHaveLength(2 * 11); // ticks at 0, 100, …, 1000 ms
    const temp = rs.filter((r) => r.sensor === 'temp_c');
    expect(times(temp)).toEqual(Array.from({ length: 11 }, (_, k) => T0 + k * 100));
    expect(times(rs.filter((r) => r.sensor === 'pressure_kpa'))).toEqual(times(temp));
  });

  it('keeps a fractional interval on the grid without drifting (rate_hz 3)', async () => {
    const h = simulated({ rate_hz: 3 });
    await h.source.start();
    await vi.advanceTimersByTimeAsync(10_000);
    // Timers fire on whole milliseconds, so a reading may come up to one timer period after its due time;
    // its timestamp is still the grid point, and none is skipped.
    const ts = times(h.readings());
    expect(ts.length).toBeGreaterThanOrEqual(30);
    expect(ts).toEqual(Array.from({ length: ts.length }, (_, k) => T0 + Math.round((k * 1000) / 3)));
    expect(ts.at(-1)).toBeLessThanOrEqual(T0 + 10_000);
  });

  it('emits high rates in small bursts, each reading with its own due time (rate_hz 250)', async () => {
    const h = simulated({ rate_hz: 250 });
    await h.source.start();
    await vi.advanceTimersByTimeAsync(2_000);
    expect(times(h.readings())).toEqual(Array.from({ length: 501 }, (_, k) => T0 + k * 4));
    expect(Math.max(...h.calls.map((c) => c.length))).toBeLessThanOrEqual(3); // a 10 ms timer
  });

  it('after a stalled timer, emits the readings it owes with their own due times', async () => {
    const h = simulated({ rate_hz: 10 });
    await h.source.start();
    await vi.advanceTimersByTimeAsync(100);
    expect(times(h.readings())).toEqual([T0, T0 + 100]);

    h.skew = 2_000; // the source sees 2 s pass before its next timer
    await vi.advanceTimersByTimeAsync(100);
    expect(times(h.calls.at(-1)!)).toEqual(Array.from({ length: 21 }, (_, k) => T0 + 200 + k * 100));
    expect(times(h.readings())).toEqual(Array.from({ length: 23 }, (_, k) => T0 + k * 100));
  });

  it('caps a catch-up burst at 10 s of ticks, then continues on a fresh grid', async () => {
    const h = simulated({ rate_hz: 10 });
    await h.source.start();
    h.skew = 60_000;
    await vi.advanceTimersByTimeAsync(100);
    const burst = h.calls.at(-1)!;
    expect(burst).toHaveLength(100);
    expect(times(burst)).toEqual(Array.from({ length: 100 }, (_, k) => T0 + 100 + k * 100));

    const seen = Date.now() + h.skew;
    await vi.advanceTimersByTimeAsync(200);
    expect(times(h.readings().slice(101))).toEqual([seen + 100, seen + 200]);
  });

  it('is deterministic for a seed, and the seed matters', async () => {
    const sensors = [sensor('a', { shape: 'noise' }), sensor('b', { shape: 'random_walk' }), sensor('c', { shape: 'sine' })];
    const one = simulated({ seed: 1234, sensors });
    const two = simulated({ seed: 1234, sensors });
    const other = simulated({ seed: 4321, sensors });
    await one.source.start();
    await two.source.start();
    await other.source.start();
    await vi.advanceTimersByTimeAsync(3_000);
    expect(one.readings()).toHaveLength(3 * 31);
    expect(two.readings()).toEqual(one.readings());
    const noise = (h: Harness) => h.readings().filter((r) => r.sensor === 'a').map((r) => r.value);
    expect(noise(other)).not.toEqual(noise(one));
  });

  it('produces values within [min, max], rounded to decimals, for every shape', async () => {
    const shapes = ['sine', 'square', 'random_walk', 'step', 'noise'] as const;
    const h = simulated({
      rate_hz: 50,
      seed: 77,
      // Bounds are multiples of 10^-decimals: only then can a rounded value also be within them.
      sensors: shapes.map((shape, i) => {
        const decimals = i % 3;
        const edge = [0, 0.5, 0.25][decimals]!;
        return sensor(shape, { shape, min: -5 + i - edge, max: 8 + i + edge, decimals, period_s: 2 });
      }),
    });
    await h.source.start();
    await vi.advanceTimersByTimeAsync(5_000);
    shapes.forEach((shape, i) => {
      const values = h.readings().filter((r) => r.sensor === shape).map((r) => r.value);
      expect(values).toHaveLength(251);
      const scale = 10 ** (i % 3);
      const edge = [0, 0.5, 0.25][i % 3]!;
      expect(Math.min(...values), shape).toBeGreaterThanOrEqual(-5 + i - edge);
      expect(Math.max(...values), shape).toBeLessThanOrEqual(8 + i + edge);
      expect(values.filter((v) => Math.round(v * scale) / scale !== v), `${shape}: not rounded`).toEqual([]);
    });
  });

  it('emits nothing after stop', async () => {
    const h = simulated({ rate_hz: 10 });
    await h.source.start();
    await vi.advanceTimersByTimeAsync(300);
    await h.source.stop();
    const count = h.readings().length;
    await vi.advanceTimersByTimeAsync(5_000);
    expect(h.readings()).toHaveLength(count);
    expect(vi.getTimerCount()).toBe(0);
  });
});
