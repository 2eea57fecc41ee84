// The anomaly rule's per-reading step alone (cloud/src/alerts/conditions.ts anomalyStep), as the evaluator
// drives it: many series, each fed a column of readings at a time (the evaluator walks one series' readings of
// a chunk in a row), onlyFire while the series is quiet. No I/O, no state machine: what one reading costs in
// the step itself, per signal shape. Deterministic (seeded), so runs compare.
// One JSON line per scenario: CPU ns per reading (process.cpuUsage: the machine may be shared; best of
// BENCH_REPEATS timed passes after a warm-up pass), and the
// verdict counts (the same before and after a change of the step: a cheap check that it still agrees).
// Scale: BENCH_STEP_READINGS (2,000,000 per scenario), BENCH_STEP_SERIES (200), BENCH_STEP_COLUMN (5 readings
// per series per turn), BENCH_REPEATS (3), BENCH_WINDOW (120),
// BENCH_SHAPES (e.g. temp/12,flat: only these), BENCH_STEP_MODULE (a path: time that conditions.ts instead).
// Run: npx tsx scripts/bench/anomaly-step.bench.ts
import os from 'node:os';
import { pathToFileURL } from 'node:url';
import type { SeriesMemory } from '../../cloud/src/alerts/conditions.js';
import { mulberry32 } from '../../shared/src/random/index.js';

// BENCH_STEP_MODULE: another build of conditions.ts to time (e.g. the previous commit's, checked out beside it).
const { anomalyStep } = (await import(process.env.BENCH_STEP_MODULE ? pathToFileURL(process.env.BENCH_STEP_MODULE).href : '../../cloud/src/alerts/conditions.js')) as typeof import('../../cloud/src/alerts/conditions.js');
const ONLY = process.env.BENCH_SHAPES?.split(',');
// The bin counts' fallback counters (binned-window.ts), when the module timed has them.
const counts = process.env.BENCH_STEP_MODULE ? undefined : (await import('../../cloud/src/alerts/binned-window.js')).binnedCounts;

const env = (name: string, dflt: number) => (process.env[name] ? Number(process.env[name]) : dflt);
const READINGS = env('BENCH_STEP_READINGS', 2_000_000);
const SERIES = env('BENCH_STEP_SERIES', 200);
const COLUMN = env('BENCH_STEP_COLUMN', 5);
const REPEATS = env('BENCH_REPEATS', 3);
const WINDOW = env('BENCH_WINDOW', 120);
const MIN_HISTORY = 30;

type Shape = (series: number, k: number, rnd: () => number) => number;
/** The shapes: the aggregation fixture's sensors (support/aggregate-fixture.ts), a flat one, and spikes. */
const SHAPES: Record<string, Shape> = {
  temp: (s, k, r) => Math.round((40 + 15 * Math.sin(k / 3600 + s) + 0.5 * Math.sin(k / 7) + r() * 0.2) * 100) / 100,
  pressure: (s, k, r) => Math.round((101.3 + 2 * Math.sin(k / 600 + s) + r() * 0.3) * 10) / 10,
  rpm: (s, k, r) => 1500 + Math.round(200 * Math.sin(k / 900 + s)) + Math.floor(r() * 37),
  random_walk: (() => {
    const at = new Map<number, number>();
    return (s: number, _k: number, r: () => number) => {
      const v = Math.min(100, Math.max(0, (at.get(s) ?? 50) + (r() - 0.5) * 2));
      at.set(s, v);
      return Math.round(v * 100) / 100;
    };
  })(),
  flat: () => 7,
  spikes_1pct: (s, k, r) => (r() < 0.01 ? 1000 : 50 + 5 * Math.sin(k / 50 + s) + r()),
};

const SCENARIOS = [
  { shape: 'temp', fire: 12, clear: 6 },
  { shape: 'pressure', fire: 12, clear: 6 },
  { shape: 'rpm', fire: 12, clear: 6 },
  { shape: 'random_walk', fire: 12, clear: 6 },
  { shape: 'temp', fire: 6, clear: 3 },
  { shape: 'flat', fire: 6, clear: 3 },
  { shape: 'spikes_1pct', fire: 6, clear: 3 },
];

/** The readings of a scenario, in the order the step sees them: column by column, series by series. */
function readings(shape: Shape): { series: Int32Array; values: Float64Array } {
  const rnd = mulberry32(7);
  const series = new Int32Array(READINGS);
  const values = new Float64Array(READINGS);
  const k = new Int32Array(SERIES);
  for (let i = 0; i < READINGS; ) {
    const s = Math.floor(i / COLUMN) % SERIES;
    for (let c = 0; c < COLUMN && i < READINGS; c++, i++) {
      series[i] = s;
      values[i] = shape(s, k[s]!++, rnd);
    }
  }
  return { series, values };
}

function pass(series: Int32Array, values: Float64Array, fire: number, clear: number): { ns: number; counts: Record<string, number> } {
  const mems: SeriesMemory[] = Array.from({ length: SERIES }, () => ({}));
  const firing = new Uint8Array(SERIES);
  const counts: [number, number, number, number] = [0, 0, 0, 0]; // undefined, clear, hold, fire (a string key per reading would cost more than the step)
  const c0 = process.cpuUsage();
  for (let i = 0; i < values.length; i++) {
    const s = series[i]!;
    // The evaluator's onlyFire: the series is quiet (not firing). A fire makes it firing until a clear.
    const v = anomalyStep(mems[s]!, values[i]!, WINDOW, MIN_HISTORY, fire, clear, firing[s] === 0);
    if (v === 'fire') {
      firing[s] = 1;
      counts[3]++;
    } else if (v === 'clear') {
      firing[s] = 0;
      counts[1]++;
    } else if (v === 'hold') counts[2]++;
    else counts[0]++;
  }
  const c = process.cpuUsage(c0);
  const ns = ((c.user + c.system) * 1000) / values.length;
  return { ns, counts: { undefined: counts[0]!, clear: counts[1]!, hold: counts[2]!, fire: counts[3]! } };
}

for (const sc of SCENARIOS) {
  if (ONLY && !ONLY.includes(`${sc.shape}/${sc.fire}`) && !ONLY.includes(sc.shape)) continue;
  const { series, values } = readings(SHAPES[sc.shape]!);
  pass(series, values, sc.fire, sc.clear); // warm-up (JIT)
  let best = Infinity;
  let verdicts: Record<string, number> = {};
  const before = counts ? { ...counts } : undefined;
  for (let r = 0; r < REPEATS; r++) {
    const p = pass(series, values, sc.fire, sc.clear);
    if (p.ns < best) best = p.ns;
    verdicts = p.counts;
  }
  const per = (k: 'exact' | 'rebins' | 'refits') => (counts && before ? Number(((counts[k] - before[k]) / REPEATS / READINGS).toPrecision(3)) : undefined);
  const line = { bench: 'anomaly-step', shape: sc.shape, window: WINDOW, fire: sc.fire, clear: sc.clear, readings: READINGS, series: SERIES, column: COLUMN, ns_per_reading: Number(best.toFixed(1)), verdicts, exact_per_reading: per('exact'), refits_per_reading: per('refits'), rebins_per_reading: per('rebins'), loadavg_1m: Number(os.loadavg()[0]!.toFixed(2)) };
  process.stdout.write(`${JSON.stringify(line)}\n`);
}
