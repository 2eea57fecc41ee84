// The anomaly rule's per-reading step alone (cloud/src/alerts/conditions.ts anomalyStep), as the evaluator
// drives it: many series, each fed a column of readings at a time (the evaluator walks one series' readings of
// a chunk in a row), onlyFire while the series is quiet. No I/O, no state machine: what one reading costs in
// the step itself, per signal shape. Deterministic (seeded), so runs compare.
// One JSON line per scenario: CPU ns per reading (process.cpuUsage: the machine may be shared; best of
// BENCH_REPEATS timed passes after a warm-up pass), the verdict counts (readings of a quiet series that did not
// fire, fires, and a firing series' clear and hold verdicts: the same for every correct build, a cheap check),
// and per reading how often the bin counts (binned-window.ts) left a reading to the exact path, re-fitted their
// bins, or placed their cursors anew. A first line gives the harness alone (a step that only writes the ring):
// what every step pays here outside the anomaly code.
// Scale: BENCH_STEP_READINGS (2,000,000 per scenario), BENCH_STEP_SERIES (200), BENCH_STEP_COLUMN (5 readings
// per series per turn), BENCH_REPEATS (3), BENCH_WINDOW (120),
// BENCH_SHAPES (e.g. temp/12,flat: only these), BENCH_STEP_MODULE (a path: time that conditions.ts instead).
// A/B: BENCH_STEP_BASELINE (a path to another conditions.ts, e.g. an older commit's checked out beside it):
// each scenario runs in child processes, this build and that one alternately, BENCH_AB_ROUNDS times (3); one
// line per scenario with the best of each, their ratio and whether their verdict counts are equal.
// BENCH_STEP_API=step: every reading through anomalyStep, also for a quiet series (the per-reading API).
// Run: npx tsx scripts/bench/anomaly-step.bench.ts
import { execFileSync } from 'node:child_process';
import os from 'node:os';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type { SeriesMemory } from '../../cloud/src/alerts/conditions.js';
import { mulberry32 } from '../../shared/src/random/index.js';

// BENCH_STEP_MODULE: another build of conditions.ts to time (e.g. the previous commit's, checked out beside it).
const timed = (await import(process.env.BENCH_STEP_MODULE ? pathToFileURL(process.env.BENCH_STEP_MODULE).href : '../../cloud/src/alerts/conditions.js')) as Partial<typeof import('../../cloud/src/alerts/conditions.js')>;
const anomalyStep = timed.anomalyStep!;
// As the evaluator drives it: a quiet series' column through anomalyQuietRun (when the build has it), a
// firing one reading by reading. BENCH_STEP_API=step: every reading through anomalyStep.
const anomalyQuietRun = process.env.BENCH_STEP_API === 'step' ? undefined : timed.anomalyQuietRun;
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
  // quiet (readings of a normal series that did not fire, min_history included), fire, and the verdicts of a
  // firing series: clear, hold (a string key per reading would cost more than the step).
  const counts: [number, number, number, number] = [0, 0, 0, 0];
  const c0 = process.cpuUsage();
  for (let i = 0; i < values.length; ) {
    // One column: COLUMN readings of one series (readings() lays them out so).
    const s = series[i]!;
    const end = Math.min(values.length, i + COLUMN);
    const mem = mems[s]!;
    while (i < end) {
      if (firing[s] === 0) {
        // The evaluator's quiet states: only a fire verdict matters.
        if (anomalyQuietRun) {
          const f = anomalyQuietRun(mem, values, i, end, WINDOW, MIN_HISTORY, fire, clear);
          counts[0] += f - i;
          if (f === end) {
            i = end;
            break;
          }
          i = f;
        } else if (anomalyStep(mem, values[i]!, WINDOW, MIN_HISTORY, fire, clear, true) !== 'fire') {
          counts[0]++;
          i++;
          continue;
        }
        firing[s] = 1;
        counts[1]++;
        i++;
        continue;
      }
      const v = anomalyStep(mem, values[i]!, WINDOW, MIN_HISTORY, fire, clear, false);
      if (v === 'clear') {
        firing[s] = 0;
        counts[2]++;
      } else counts[3]++;
      i++;
    }
  }
  const c = process.cpuUsage(c0);
  const ns = ((c.user + c.system) * 1000) / values.length;
  return { ns, counts: { quiet: counts[0]!, fire: counts[1]!, firing_clear: counts[2]!, firing_hold: counts[3]! } };
}

/** pass() with a step that only keeps the ring (what any step must do): the loop's own cost. */
function harnessPass(series: Int32Array, values: Float64Array): number {
  const mems: SeriesMemory[] = Array.from({ length: SERIES }, () => ({}));
  const firing = new Uint8Array(SERIES);
  let fired = 0;
  const c0 = process.cpuUsage();
  for (let i = 0; i < values.length; i++) {
    const s = series[i]!;
    const v = ringOnly(mems[s]!, values[i]!, firing[s] === 0);
    if (v === 'fire') fired++;
  }
  const c = process.cpuUsage(c0);
  if (fired < 0) console.log(fired);
  return ((c.user + c.system) * 1000) / values.length;
}

function ringOnly(mem: SeriesMemory, value: number, onlyFire: boolean): 'fire' | 'clear' | undefined {
  const w = (mem.window ??= []);
  if (w.length < WINDOW) {
    w.push(value);
    return undefined;
  }
  const head = mem.head ?? 0;
  w[head] = value;
  mem.head = head + 1 === WINDOW ? 0 : head + 1;
  return onlyFire && value !== value ? 'fire' : 'clear';
}

if (process.env.BENCH_STEP_BASELINE) {
  // A/B: this script again in child processes, alternating the two builds scenario by scenario.
  const rounds = env('BENCH_AB_ROUNDS', 3);
  const self = fileURLToPath(import.meta.url);
  const child = (shape: string, module: string | undefined): Record<string, unknown> => {
    const { BENCH_STEP_BASELINE: _b, BENCH_STEP_MODULE: _m, ...rest } = process.env;
    const out = execFileSync(process.execPath, [...process.execArgv, self], { env: { ...rest, BENCH_SHAPES: shape, ...(module ? { BENCH_STEP_MODULE: module } : {}) }, encoding: 'utf8' });
    return JSON.parse(out.trim().split('\n').at(-1)!) as Record<string, unknown>;
  };
  for (const sc of SCENARIOS) {
    const key = `${sc.shape}/${sc.fire}`;
    if (ONLY && !ONLY.includes(key) && !ONLY.includes(sc.shape)) continue;
    let a: Record<string, unknown> | undefined;
    let b: Record<string, unknown> | undefined;
    let bestA = Infinity;
    let bestB = Infinity;
    for (let r = 0; r < rounds; r++) {
      const x = child(key, undefined);
      const y = child(key, process.env.BENCH_STEP_BASELINE);
      if ((x.ns_per_reading as number) < bestA) [bestA, a] = [x.ns_per_reading as number, x];
      if ((y.ns_per_reading as number) < bestB) [bestB, b] = [y.ns_per_reading as number, y];
    }
    const same = JSON.stringify(a?.verdicts) === JSON.stringify(b?.verdicts);
    process.stdout.write(`${JSON.stringify({ bench: 'anomaly-step-ab', shape: sc.shape, fire: sc.fire, window: WINDOW, ns_per_reading: bestA, baseline_ns_per_reading: bestB, ratio: Number((bestA / bestB).toFixed(2)), verdicts_equal: same, exact_per_reading: a?.exact_per_reading, refits_per_reading: a?.refits_per_reading, derives_per_reading: a?.derives_per_reading, rounds, loadavg_1m: Number(os.loadavg()[0]!.toFixed(2)) })}\n`);
  }
  process.exit(0);
}

if (!ONLY) {
  // The harness alone: the same loop, a step that only writes the ring.
  const { series, values } = readings(SHAPES.temp!);
  let best = Infinity;
  for (let r = 0; r <= REPEATS; r++) {
    const ns = harnessPass(series, values);
    if (r > 0 && ns < best) best = ns;
  }
  process.stdout.write(`${JSON.stringify({ bench: 'anomaly-step', shape: 'harness_only', window: WINDOW, ns_per_reading: Number(best.toFixed(1)), loadavg_1m: Number(os.loadavg()[0]!.toFixed(2)) })}\n`);
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
  const per = (k: 'exact' | 'refits' | 'derives') => (counts && before ? Number(((counts[k] - before[k]) / REPEATS / READINGS).toPrecision(3)) : undefined);
  const line = { bench: 'anomaly-step', shape: sc.shape, window: WINDOW, fire: sc.fire, clear: sc.clear, readings: READINGS, series: SERIES, column: COLUMN, ns_per_reading: Number(best.toFixed(1)), verdicts, exact_per_reading: per('exact'), refits_per_reading: per('refits'), derives_per_reading: per('derives'), loadavg_1m: Number(os.loadavg()[0]!.toFixed(2)) };
  process.stdout.write(`${JSON.stringify(line)}\n`);
}
