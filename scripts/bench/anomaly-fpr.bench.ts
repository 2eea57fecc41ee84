// The anomaly detector's false-positive rate on the edge's simulated shapes (issue 10: "document its
// false-positive rate on the simulated shapes"), and how often it catches an injected spike — so the
// trade-off between thresholds is visible. Everything is the real code: the edge's shape generators
// (edge/src/sources/simulated/shapes.ts, seeded, with their noise and rounding), the cloud's robustZ and
// anomalyVerdict (cloud/src/alerts/conditions.ts) and the series state machine (series-machine.ts), with the
// rule defaults (window 120, min_history 30, clear at threshold / 2, for 0). No processes, no I/O.
//
// False positives: BENCH_FPR_READINGS readings per shape and rate (default 500,000 at 1 Hz and 500,000 at
// 10 Hz: 1 M per shape), no spikes; a firing = a transition to `firing` of the state machine. Reported per
// 1,000,000 readings and per day of a 1 Hz sensor (× 86,400 / 1,000,000).
// Detection: BENCH_DETECT_READINGS per shape and rate (default 100,000) with one spike every 250 readings
// (well past the 120-reading window, so spikes do not see each other), sizes 5σ, 10σ, 20σ in rotation, up
// and down alternately. σ = the standard deviation of the 120 readings before the spike (what the detector's
// window holds), floored at the shape's rounding step: the shapes in shapes.ts have no separate noise term —
// `noise` is uniform noise (σ = span/√12 ≈ 0.29 span), `random_walk` moves by uniform steps of ±1% of the span,
// and sine, square and step are deterministic apart from rounding — so "the noise the detector sees" is the
// one σ that means the same thing for all five. A spike is detected when its own reading's verdict is `fire`.
// One JSON line per shape and rate. Run: npm run bench -- anomaly-fpr (about a minute).
import os from 'node:os';
import { makeGenerator, mulberry32, type Shape } from '../../edge/src/sources/simulated/shapes.js';
import { ANOMALY_DEFAULTS, anomalyVerdict, robustZ, type SeriesMemory } from '../../cloud/src/alerts/conditions.js';
import { initialSeries, stepSeries } from '../../cloud/src/alerts/series-machine.js';

const FPR_READINGS = Number(process.env.BENCH_FPR_READINGS ?? 500_000);
const DETECT_READINGS = Number(process.env.BENCH_DETECT_READINGS ?? 100_000);
const SHAPES: Shape[] = ['sine', 'square', 'step', 'noise', 'random_walk'];
const RATES_HZ = [1, 10];
const THRESHOLDS = [4, 5, 6];
const SPIKES_SIGMA = [5, 10, 20];
const SPIKE_EVERY = 250;
/** The demo's and the benchmarks' sensor settings: 0..100, a 60 s period, 2 decimals. */
const PARAMS = { min: 0, max: 100, period_s: 60, decimals: 2 };
const WINDOW = ANOMALY_DEFAULTS.window;
const MIN_HISTORY = ANOMALY_DEFAULTS.minHistory;

const round = (x: number, places = 2) => Number(x.toFixed(places));
const emit = (line: Record<string, unknown>) => process.stdout.write(`${JSON.stringify(line)}\n`);

function sd(xs: readonly number[]): number {
  let mean = 0;
  for (const x of xs) mean += x;
  mean /= xs.length;
  let v = 0;
  for (const x of xs) v += (x - mean) ** 2;
  return Math.sqrt(v / xs.length);
}

/** Feeds `n` readings of a shape through the detector and one state machine per threshold. */
function run(shape: Shape, rateHz: number, n: number, seed: number, spikes: boolean) {
  const gen = makeGenerator({ shape, ...PARAMS }, mulberry32(seed));
  const stepMs = 1000 / rateHz;
  const mem: SeriesMemory = {};
  const machines = THRESHOLDS.map(() => initialSeries());
  const firings = THRESHOLDS.map(() => 0);
  const flagged = THRESHOLDS.map(() => 0);
  const detected = SPIKES_SIGMA.map(() => THRESHOLDS.map(() => 0));
  const injected = SPIKES_SIGMA.map(() => 0);
  const sigmas: number[] = [];
  const recent: number[] = []; // the last WINDOW clean readings, for σ
  const quantum = 10 ** -PARAMS.decimals;
  let spikeNo = 0;
  for (let k = 0; k < n; k++) {
    const t = Math.round(k * stepMs);
    let v = gen(t);
    let spikeIdx = -1;
    if (spikes && k > 0 && k % SPIKE_EVERY === 0) {
      spikeIdx = spikeNo % SPIKES_SIGMA.length;
      const sigma = Math.max(quantum, sd(recent));
      sigmas.push(sigma);
      v += (spikeNo % 2 === 0 ? 1 : -1) * SPIKES_SIGMA[spikeIdx]! * sigma;
      injected[spikeIdx]!++;
      spikeNo++;
    } else {
      recent.push(v);
      if (recent.length > WINDOW) recent.shift();
    }
    const z = robustZ(mem, v, WINDOW, MIN_HISTORY);
    if (z === undefined) continue;
    THRESHOLDS.forEach((threshold, i) => {
      const verdict = anomalyVerdict({ threshold }, z);
      if (verdict === 'fire') {
        flagged[i]!++;
        if (spikeIdx >= 0) detected[spikeIdx]![i]!++;
      }
      const step = stepSeries(machines[i]!, verdict, t, v, 0);
      if (step?.state === 'firing') firings[i]!++;
    });
  }
  return { firings, flagged, detected, injected, sigmas };
}

const t0 = performance.now();
const table: { shape: Shape; rate_hz: number; per_1m: number[]; per_day_1hz: number[]; detect: Record<string, number[]> }[] = [];
SHAPES.forEach((shape, si) => {
  for (const rateHz of RATES_HZ) {
    const started = performance.now();
    const fpr = run(shape, rateHz, FPR_READINGS, 1000 + si * 10 + rateHz, false);
    const det = run(shape, rateHz, DETECT_READINGS, 2000 + si * 10 + rateHz, true);
    const per1m = fpr.firings.map((f) => round((f * 1e6) / FPR_READINGS, 1));
    const perDay = fpr.firings.map((f) => round((f * 86_400) / FPR_READINGS, 2));
    const detect: Record<string, number[]> = {};
    SPIKES_SIGMA.forEach((s, i) => (detect[`${s}sigma`] = THRESHOLDS.map((_, j) => round(det.detected[i]![j]! / det.injected[i]!, 3))));
    const sortedSigma = [...det.sigmas].sort((a, b) => a - b);
    table.push({ shape, rate_hz: rateHz, per_1m: per1m, per_day_1hz: perDay, detect });
    emit({
      bench: 'anomaly-fpr',
      shape,
      rate_hz: rateHz,
      params: { ...PARAMS, window: WINDOW, min_history: MIN_HISTORY, clear: 'threshold / 2', for: 0 },
      thresholds: THRESHOLDS,
      readings: FPR_READINGS,
      firings: fpr.firings,
      firings_per_1m_readings: per1m,
      firings_per_day_at_1hz: perDay,
      readings_flagged_per_1m: fpr.flagged.map((f) => round((f * 1e6) / FPR_READINGS, 1)),
      detection: { readings: DETECT_READINGS, spikes_per_size: det.injected, sigma_median: round(sortedSigma[sortedSigma.length >> 1] ?? NaN, 4), rate_by_size_per_threshold: detect },
      seconds: round((performance.now() - started) / 1000, 1),
    });
  }
});
// The same as a Markdown table (stderr), for docs/alerts.md and BENCHMARKS.md.
const f = (xs: number[]) => xs.join(' / ');
console.error('| shape | rate | firings per 1M readings (z > 4 / 5 / 6) | per day at 1 Hz (4 / 5 / 6) | 5σ spike caught (4 / 5 / 6) | 10σ | 20σ |');
console.error('|---|---|---|---|---|---|---|');
for (const r of table) {
  const pct = (xs: number[]) => xs.map((x) => `${Math.round(x * 100)}%`).join(' / ');
  console.error(`| ${r.shape} | ${r.rate_hz} Hz | ${f(r.per_1m)} | ${f(r.per_day_1hz)} | ${pct(r.detect['5sigma']!)} | ${pct(r.detect['10sigma']!)} | ${pct(r.detect['20sigma']!)} |`);
}
emit({ bench: 'anomaly-fpr', total_seconds: round((performance.now() - t0) / 1000, 1), node: process.version, loadavg_1m: round(os.loadavg()[0]!, 2) });
