// Alerts (issue 10): "A spike read by an agent from a serial line → the webhook receiver has it: p99 ≤ 1.5 s
// with 20k readings/s flowing and 1,000 rules loaded. Alert evaluation costs ≤ 15 % of the aggregator's CPU
// at that load." Two parts (BENCH_PARTS, default "cpu,live"):
//
// cpu — in one process, no network (support/alert-cpu-share.ts): the real Aggregator and the real
//   AlertEvaluator with the 1,000 rules drain the same SQLite stream store (BENCH_CPU_READINGS, default 1 M
//   readings of the aggregation fixture); CPU of each, and their ratio.
// live — real processes as e2e-latency.bench.ts runs them (support/live-pipeline.ts): `tidemark-cloud run`
//   with the 1,000 rules (support/alert-rules.ts) and a webhook notifier pointing at a WebhookReceiver (a real
//   HTTP server verifying every Standard Webhooks signature), 10 agents reading csv from socat ptys at 20k
//   readings/s in all. Every BENCH_SPIKE_MS one csv line of one agent (round robin) carries a spike in column
//   s0 with a unique value 1000 + k (rule `spike`: s0 above 900, clear below 200); the moment the line is
//   written is recorded. Latency = the receiver's arrival time of the firing webhook with that value − the
//   write time. Then, same load without any rule, the collector's CPU again (one run each: noisy).
// Spikes start after the warm-up and once the outbox is empty (the agents' start leaves a burst; reported).
// One JSON line per result, progress on stderr. Run: npm run bench -- alerts (about 6 minutes).
// Scale: BENCH_AGENTS (10), BENCH_RATE (20000 readings/s in all), BENCH_SENSORS (4 per agent),
//   BENCH_SPIKES (120), BENCH_SPIKE_MS (1000), BENCH_WARMUP_SECONDS (10), BENCH_CPU_SECONDS (30: the
//   no-rules window), BENCH_CPU_READINGS (1000000), BENCH_CPU_WARMUP=short (warm up on a few chunks, not full drains),
//   BENCH_PROFILE=1 (profile the evaluator's drain; =one: with the one threshold rule; =shared: the in-step run, both consumers),
//   BENCH_KEEP=1 (keep the temp dir), BENCH_SEED (1: the csv random walks' seed; runs on one seed carry the same
//   values, so the anomaly rules fire alike and the CPU split compares across runs and builds), BENCH_DURING_BURST=1 (spikes start right after the warm-up, while the
//   agents' start-up burst of info-level anomaly notifications is still in the outbox: severity ordering).
import { rmSync } from 'node:fs';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { makeTempDir, reapAll, removeTempDirs, sampleSum, waitFor, type ManagedProcess } from '@tidemark/shared/testing';
import { WebhookReceiver } from '../../cloud/src/alerts/notify/testing/webhook-receiver.js';
import { cpuShare } from './support/alert-cpu-share.js';
import { attribute, readProfile } from './support/profile-attribution.js';
import { benchRules } from './support/alert-rules.js';
import { summarize } from './support/latency-attribution.js';
import { Meter } from './support/cpu-meter.js';
import { startLivePipeline, type LivePipeline } from './support/live-pipeline.js';

const env = (name: string, dflt: number) => (process.env[name] ? Number(process.env[name]) : dflt);
const PARTS = (process.env.BENCH_PARTS ?? 'cpu,live').split(',');
const PROFILE_COLLECTOR = process.env.BENCH_COLLECTOR_PROFILE === '1';
/**
 * The collector's parts for the CPU split (profile-attribution.ts): the strongest part on a sample's stack
 * takes it. The stream consumer loop (rank 0) calls both the aggregator and the evaluator: it keeps only its own
 * reads of the stream.
 */
const COLLECTOR_PARTS = [
  { name: 'notification delivery', paths: ['/cloud/src/alerts/notify/', '/cloud/dist/alerts/notify/'], rank: 2 },
  { name: 'alert evaluation', paths: ['/cloud/src/alerts/', '/cloud/dist/alerts/'], rank: 2 },
  { name: 'aggregator', paths: ['/cloud/src/aggregate/', '/cloud/dist/aggregate/'], rank: 2 },
  { name: 'stream reads and consumer loop', paths: ['/cloud/src/stream/', '/cloud/dist/stream/', '/cloud/src/store/', '/cloud/dist/store/'], rank: 0 },
  { name: 'ingest', paths: ['/cloud/src/ingest/', '/cloud/dist/ingest/'] },
  { name: 'broker', paths: ['/cloud/src/broker/', '/cloud/dist/broker/', '/node_modules/aedes'] },
  { name: 'api', paths: ['/cloud/src/api/', '/cloud/dist/api/', '/node_modules/fastify'] },
];
const AGENTS = env('BENCH_AGENTS', 10);
const RATE = env('BENCH_RATE', 20_000);
const SENSORS = env('BENCH_SENSORS', 4);
const SPIKES = env('BENCH_SPIKES', 120);
const SPIKE_MS = env('BENCH_SPIKE_MS', 1000);
const WARMUP_S = env('BENCH_WARMUP_SECONDS', 10);
const DURING_BURST = process.env.BENCH_DURING_BURST === '1';
const CPU_S = env('BENCH_CPU_SECONDS', 30);
const CPU_READINGS = env('BENCH_CPU_READINGS', 1_000_000);
const KEEP = process.env.BENCH_KEEP === '1';
/** The csv walks' seed: each run carries the same values, so the rules fire the same way in every run. */
const SEED = env('BENCH_SEED', 1);
const SECRET = 'whsec_dGlkZW1hcmstYmVuY2gtYWxlcnRzLXNlY3JldA==';
const TARGET_P99_MS = 1500;
const SPIKE_BASE = 1000;
const LINES_PER_S = RATE / AGENTS / SENSORS;

const emit = (line: Record<string, unknown>) => process.stdout.write(`${JSON.stringify(line)}\n`);
const log = (msg: string) => console.error(`# ${msg}`);
const sleepUntil = (t: number) => new Promise<void>((r) => setTimeout(r, Math.max(0, t - Date.now()))); // a timed phase, not a readiness wait
const metric = (text: string, name: string, labels = '') => sampleSum(text, `tidemark_cloud_${name}`, labels);

let stopping = false;
const started: ManagedProcess[] = [];
function watch(p: ManagedProcess): ManagedProcess {
  started.push(p);
  void p.exited.then((e) => {
    if (!stopping) {
      log(`${p.name} died during the run: exit ${e.code ?? e.signal}; last output:\n${p.output().slice(-3000)}`);
      emit({ bench: 'alerts', error: `${p.name} died during the run` });
      stopping = true;
      void reapAll().finally(() => process.exit(1));
    }
  });
  return p;
}

/** Collector CPU (% of a core) over `seconds` of steady load. */
async function collectorCpu(p: LivePipeline, seconds: number): Promise<{ collector_cpu_pct: number; others_cpu_pct: number; readings_per_s: number }> {
  const m0 = await (await fetch(`${p.api}/metrics`)).text();
  const meter = new Meter([p.collector.pid]);
  await sleepUntil(Date.now() + seconds * 1000);
  const cpu = meter.read();
  const m1 = await (await fetch(`${p.api}/metrics`)).text();
  return {
    collector_cpu_pct: Math.round((1000 * cpu.oursMs[0]!) / cpu.wallMs) / 10,
    others_cpu_pct: cpu.others,
    readings_per_s: Math.round((metric(m1, 'readings_total', 'status="ok"') - metric(m0, 'readings_total', 'status="ok"')) / seconds),
  };
}

async function live(): Promise<void> {
  const receiver = await WebhookReceiver.start({ secret: SECRET });
  const common = { bench: 'alerts-live', agents: AGENTS, offered_readings_per_s: RATE };
  // ---- with the 1,000 rules: spike latency and collector CPU ----
  let dir = await makeTempDir('tidemark-bench-alerts-');
  const ids = Array.from({ length: AGENTS }, (_, i) => `lat-${String(i).padStart(2, '0')}`);
  const columns = Array.from({ length: SENSORS }, (_, s) => `s${s}`);
  const spike = { name: 'spike', kind: 'threshold', devices: 'lat-*', sensor: 's0', above: 900, clear_below: 200, severity: 'critical' };
  const rules = benchRules({ fleetGlob: 'lat-*', devices: ids, sensors: columns, spike });
  // BENCH_COLLECTOR_PROFILE=1: the collector runs under V8's CPU profiler (a few % of overhead), and its CPU is
  // split between the aggregator, the alert evaluator, notification delivery and the rest (at this load, over
  // the collector's whole run).
  const profDir = PROFILE_COLLECTOR ? join(dir, 'profile') : undefined;
  let p = await startLivePipeline({
    ...(profDir ? { collectorNodeArgs: ['--cpu-prof', `--cpu-prof-dir=${profDir}`, '--cpu-prof-interval=1000'] } : {}),
    dir,
    agents: AGENTS,
    sensors: SENSORS,
    linesPerS: LINES_PER_S,
    seed: SEED,
    watch,
    log,
    cloud: {
      alerts: {
        rules,
        notify: [{ type: 'webhook', url: receiver.url, secret: SECRET, timeout: '5s' }],
        // Every spike fires the same rule on a handful of devices: lift the flapping bound (default 10 an hour).
        flapping: { max_notifications: 1_000_000, window: '1h' },
      },
    },
  });
  log(`load flowing with ${rules.length} rules; warm-up ${WARMUP_S} s and until the outbox is empty, then ${SPIKES} spikes every ${SPIKE_MS} ms`);
  await sleepUntil(Date.now() + WARMUP_S * 1000);
  // The agents' start leaves a burst of anomaly transitions in the outbox, which is sent oldest first: measure
  // the steady state, and report how big that burst was and how long it took to send.
  const tWarm = Date.now();
  let startBacklog = 0;
  if (DURING_BURST) startBacklog = metric(await (await fetch(`${p.api}/metrics`)).text(), 'alert_outbox_depth');
  else
    await waitFor(
      async () => {
        const depth = metric(await (await fetch(`${p.api}/metrics`)).text(), 'alert_outbox_depth');
        startBacklog = Math.max(startBacklog, depth);
        return depth === 0;
      },
      { timeoutMs: 180_000, intervalMs: 500, description: 'the start-up burst of notifications sent' },
    );
  const startup = DURING_BURST
    ? { spikes_during_burst: true, outbox_depth_at_first_spike: startBacklog }
    : { outbox_depth_after_warmup_max: startBacklog, outbox_drained_s_after_warmup: Math.round((Date.now() - tWarm) / 100) / 10 };
  const written = new Map<number, { at: number; device: string }>();
  const m0 = await (await fetch(`${p.api}/metrics`)).text();
  const meter = new Meter([p.collector.pid, ...p.agents.map((a) => a.pid)]);
  const load0 = loadavg()[0]!;
  const t0 = Date.now();
  // Once a second: how far the evaluator trails the aggregator, and the outbox (where a spike can wait).
  const trail = { evaluator_behind_aggregator_records_max: 0, outbox_depth_max: 0, outbox_oldest_age_s_max: 0 };
  const sampler = setInterval(() => {
    void fetch(`${p.api}/metrics`)
      .then((r) => r.text())
      .then((m) => {
        trail.evaluator_behind_aggregator_records_max = Math.max(trail.evaluator_behind_aggregator_records_max, metric(m, 'aggregator_offset') - metric(m, 'alert_evaluator_offset'));
        trail.outbox_depth_max = Math.max(trail.outbox_depth_max, metric(m, 'alert_outbox_depth'));
        trail.outbox_oldest_age_s_max = Math.max(trail.outbox_oldest_age_s_max, metric(m, 'alert_outbox_oldest_age_seconds'));
      })
      .catch(() => undefined);
  }, 1000);
  for (let k = 1; k <= SPIKES; k++) {
    await sleepUntil(t0 + k * SPIKE_MS);
    const agent = (k - 1) % AGENTS;
    const value = SPIKE_BASE + k;
    p.load.inject(agent, 0, value.toFixed(2), (at) => written.set(value, { at, device: ids[agent]! }));
  }
  await sleepUntil(Date.now() + SPIKE_MS);
  clearInterval(sampler);
  const cpu = meter.read();
  const windowS = cpu.wallMs / 1000;
  const m1 = await (await fetch(`${p.api}/metrics`)).text();
  const firingOf = () => {
    const got = new Map<number, number>();
    for (const r of receiver.delivered) {
      const b = JSON.parse(r.body) as { rule: string; state: string; value: number };
      if (b.rule === 'spike' && b.state === 'firing' && !got.has(b.value)) got.set(b.value, r.receivedAt);
    }
    return got;
  };
  const drained = await waitFor(() => firingOf().size >= written.size, { timeoutMs: 30_000, description: 'every spike delivered' }).then(
    () => true,
    (err: Error) => (log(err.message), false),
  );
  const arrivals = firingOf();
  const lat: number[] = [];
  const timeline: [number, number][] = []; // [seconds since the first spike, latency ms], for the report
  const stamp: number[] = [];
  const afterStamp: number[] = [];
  for (const r of receiver.delivered) {
    const b = JSON.parse(r.body) as { rule: string; state: string; value: number; event_time: string };
    const w = written.get(b.value);
    if (b.rule !== 'spike' || b.state !== 'firing' || !w || arrivals.get(b.value) !== r.receivedAt) continue;
    lat.push(r.receivedAt - w.at);
    timeline.push([Math.round((w.at - t0) / 100) / 10, r.receivedAt - w.at]);
    stamp.push(Date.parse(b.event_time) - w.at);
    afterStamp.push(r.receivedAt - Date.parse(b.event_time));
  }
  const byRule: Record<string, number> = {};
  const anomalySeries = new Map<string, number>();
  for (const r of receiver.delivered) {
    const b = JSON.parse(r.body) as { rule: string; state: string; alert_id: string };
    const k = `${b.rule.replace(/^r\d+-/, '')}:${b.state}`;
    byRule[k] = (byRule[k] ?? 0) + 1;
    if (b.rule.endsWith('anomaly') && b.state === 'firing') anomalySeries.set(b.alert_id, (anomalySeries.get(b.alert_id) ?? 0) + 1);
  }
  const s = summarize(lat);
  const delta = (name: string, labels = '') => metric(m1, name, labels) - metric(m0, name, labels);
  stopping = true;
  const clean = await p.stop();
  let attribution: Record<string, unknown> | undefined;
  if (profDir) {
    const { shares, hot } = attribute(readProfile(profDir), COLLECTOR_PARTS);
    attribution = {
      collector_cpu_share_pct: shares,
      hot_self_pct: { 'alert evaluation': hot['alert evaluation'], aggregator: hot.aggregator },
      alert_evaluation_to_aggregator: Math.round((100 * shares['alert evaluation']!) / Math.max(0.1, shares.aggregator!)) / 100,
      target_ratio: 0.15,
      target_met: shares['alert evaluation']! / Math.max(0.1, shares.aggregator!) <= 0.15,
    };
  }
  emit({
    ...common,
    ...(attribution ? { profile: attribution } : {}),
    rules: rules.length,
    path: 'serial line written → webhook received (firing of rule spike)',
    spikes: written.size,
    delivered: lat.length,
    ...s,
    target_p99_ms: TARGET_P99_MS,
    met: lat.length === written.size && s.p99_ms <= TARGET_P99_MS,
    breakdown: { line_written_to_agent_stamp: summarize(stamp), agent_stamp_to_webhook: summarize(afterStamp) },
    webhooks_by_kind_state: byRule,
    webhook_ids_distinct: new Set(receiver.delivered.map((r) => r.id)).size,
    webhooks_delivered: receiver.delivered.length,
    anomaly_firings_by_series: Object.fromEntries([...anomalySeries].sort((a, b) => b[1] - a[1]).slice(0, 12)),
    trail,
    startup,
    timeline,
    bad_signatures: receiver.badSignatures.length,
    readings_per_s: Math.round(delta('readings_total', 'status="ok"') / windowS),
    collector_cpu_pct: Math.round((1000 * cpu.oursMs[0]!) / cpu.wallMs) / 10,
    agents_cpu_pct_total: Math.round((100 * cpu.oursMs.slice(1).reduce((a, b) => a + b, 0)) / cpu.wallMs),
    others_cpu_pct: cpu.others,
    loadavg_1m_at_start: Math.round(load0 * 100) / 100,
    drained_within_30s: drained,
    clean_exits: clean,
  });
  if (!drained || lat.length !== written.size || !clean) process.exitCode = 1;

  // ---- the same load without rules: the collector's CPU for comparison (one window each: noisy) ----
  stopping = false;
  dir = await makeTempDir('tidemark-bench-alerts-norules-');
  p = await startLivePipeline({ dir, agents: AGENTS, sensors: SENSORS, linesPerS: LINES_PER_S, seed: SEED, watch, log });
  log(`the same load without rules: ${WARMUP_S} s warm-up, ${CPU_S} s measured`);
  await sleepUntil(Date.now() + WARMUP_S * 1000);
  const withoutRules = await collectorCpu(p, CPU_S);
  stopping = true;
  await p.stop();
  emit({ ...common, rules: 0, window_s: CPU_S, ...withoutRules, loadavg_1m: Math.round(loadavg()[0]! * 100) / 100 });
  await receiver.close();
}

try {
  if (PARTS.includes('cpu')) {
    log(`cpu: ${CPU_READINGS} readings through the aggregator and the evaluator with 1,000 rules`);
    await cpuShare({ readings: CPU_READINGS, profile: process.env.BENCH_PROFILE === '1' ? 'rules' : process.env.BENCH_PROFILE === 'one' ? 'one' : process.env.BENCH_PROFILE === 'shared' ? 'shared' : false, emit });
  }
  if (PARTS.includes('live')) await live();
} catch (err) {
  emit({ bench: 'alerts', error: (err as Error).message });
  process.exitCode = 1;
} finally {
  stopping = true;
  await reapAll();
  if (!KEEP) await removeTempDirs();
  if (process.exitCode) log('process logs kept in /tmp/tidemark-test-logs');
  else for (const pr of started) rmSync(pr.logPath, { force: true });
}
