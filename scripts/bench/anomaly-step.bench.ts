// The anomaly rule's per-reading step alone (cloud/src/alerts/conditions.ts anomalyStep), as the evaluator
// drives it: many series, each fed a column of readings at a time (the evaluator walks one series' readings of
// a chunk in a row), onlyFire while the series is quiet. No I/O, no state machine: what one reading costs in
// the step itself, per signal shape. Deterministic (seeded), so runs compare.
// One JSON line per scenario: CPU ns per reading (process.cpuUsage: the machine may be shared; best of
// BENCH_REPEATS timed passes after a warm-up pass), the verdict counts (fire and undefined the same before and
// after a change of the step: a cheap check that it still agrees; in quiet states a reading proven not to fire
// may be counted clear or hold, either), and how often the bin counts (binned-window.ts) left a reading to the
// exact path or re-fitted their bins (per reading). A first line gives the harness alone (a step that only
// writes the ring): what every step pays here outside anomalyStep.
// Scale: BENCH_STEP_READINGS (2,000,000 per scenario), BENCH_STEP_SERIES (200), BENCH_STEP_COLUMN (5 readings
// per series per turn), BENCH_REPEATS (3), BENCH_WINDOW (120),
// BENCH_SHAPES (e.g. temp/12,flat: only these), BENCH_STEP_MODULE (a path: time that conditions.ts instead).
// A/B: BENCH_STEP_BASELINE (a path to another conditions.ts, e.g. an older commit's checked out beside it):
// each scenario runs in child processes, this build and that one alternately, BENCH_AB_ROUNDS times (3); one
// line per scenario with the best of each and their ratio.
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
