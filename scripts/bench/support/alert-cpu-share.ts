// What alert evaluation costs next to aggregation, in one process without the network: the aggregation
// benchmark's fleet (support/aggregate-fixture.ts: 50 devices × 4 sensors, 1,000-reading batches) in a
// SQLite stream store, then the real Aggregator drains it into a fresh aggregate store and the real
// AlertEvaluator, with the benchmark's 1,000 rules (support/alert-rules.ts), drains it into a fresh alert
// store. process.cpuUsage() around each drain (GC threads included); both warmed up first on a throwaway
// store. Optionally (profile) the evaluator's drain runs under the V8 CPU profiler and its hot spots are
// summarised by self time.
import { mkdtempSync, rmSync } from 'node:fs';
import { Session } from 'node:inspector/promises';
import os from 'node:os';
import { join } from 'node:path';
import { createLogger, MetricsRegistry } from '../../../shared/src/index.js';
import { Aggregator } from '../../../cloud/src/aggregate/aggregator.js';
import { SqliteAggregateStore } from '../../../cloud/src/aggregate/sqlite-aggregate-store.js';
import { AlertEvaluator } from '../../../cloud/src/alerts/alert-evaluator.js';
import { SqliteAlertStore } from '../../../cloud/src/alerts/sqlite-alert-store.js';
import { defaultCloudConfig } from '../../../cloud/src/config.js';
import { SqliteStreamStore } from '../../../cloud/src/store/sqlite-stream-store.js';
import { SharedReads } from '../../../cloud/src/stream/shared-reads.js';
import { buildFleet, DEVICES, deviceId, fillStream, SENSORS } from './aggregate-fixture.js';
import { benchRules, QUIET_ANOMALY_THRESHOLD, type RuleInput } from './alert-rules.js';

const logger = createLogger({ name: 'bench-alerts', level: 'silent' });
const round = (x: number, places = 3) => Number(x.toFixed(places));
const cpuS = (u: NodeJS.CpuUsage) => (u.user + u.system) / 1e6;
/** The cloud config with these rules (parsed and checked as a config file would be). */
const cloudConfig = (rules: RuleInput[]) => defaultCloudConfig({ alerts: { rules } } as Parameters<typeof defaultCloudConfig>[0]);

export interface CpuShareOptions {
  readings: number;
  /** Profile the evaluator's drain: with the 1,000 rules, or with the one threshold rule. */
  profile: false | 'rules' | 'one' | 'shared';
  emit: (line: Record<string, unknown>) => void;
}

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  hitCount?: number;
}

/** Self time by function, largest first (share of all samples, idle and GC included). */
function hotSpots(profile: { nodes: ProfileNode[] }, top = 15): { fn: string; at: string; pct: number }[] {
  const by = new Map<string, number>();
  let total = 0;
  for (const n of profile.nodes) {
    const hits = n.hitCount ?? 0;
    total += hits;
    const url = n.callFrame.url.replace(/^file:\/\//, '').replace(/^.*\/(cloud|shared|proto|node_modules)\//, '$1/');
    const key = `${n.callFrame.functionName || '(anonymous)'}\u0000${url ? `${url}:${n.callFrame.lineNumber + 1}` : '(native)'}`;
    by.set(key, (by.get(key) ?? 0) + hits);
  }
  return [...by]
    .sort((a, b) => b[1] - a[1])
    .slice(0, top)
    .map(([k, hits]) => {
      const [fn, at] = k.split('\u0000') as [string, string];
      return { fn, at, pct: round((100 * hits) / total, 1) };
    });
}

/** The V8 CPU profiler of this process, sampling every 500 µs. */
async function startProfiler(): Promise<Session> {
  const session = new Session();
  session.connect();
  await session.post('Profiler.enable');
  await session.post('Profiler.setSamplingInterval', { interval: 500 });
  await session.post('Profiler.start');
  return session;
}

/** Stops startProfiler's profiler: the `top` hot spots by self time. */
async function stopProfiler(session: Session, top?: number): Promise<ReturnType<typeof hotSpots>> {
  const { profile } = await session.post('Profiler.stop');
  session.disconnect();
  return hotSpots(profile as unknown as { nodes: ProfileNode[] }, top);
}

export async function cpuShare(o: CpuShareOptions): Promise<void> {
  const dir = mkdtempSync(join(os.tmpdir(), 'tidemark-bench-alerts-cpu-'));
  try {
    const devices = Array.from({ length: DEVICES }, (_, i) => deviceId(i));
    const ruleInput = benchRules({ fleetGlob: 'gw-*', devices, sensors: SENSORS });
    const config = cloudConfig(ruleInput);
    const resolutions = config.aggregation.resolutions;
    const { plan, items } = buildFleet(o.readings);
    const stream = new SqliteStreamStore({ path: join(dir, 'stream.db') });
    await stream.start();
    await fillStream(stream, items);

    const aggOpts = { resolutions, allowedLatenessMs: config.aggregation.allowed_lateness, maxFutureSkewMs: config.ingest.max_future_skew };
    const evOpts = (rules = config.alerts.rules) => ({
      rules,
      notifiers: ['webhook:bench'],
      flapping: config.alerts.flapping,
      allowedLatenessMs: config.aggregation.allowed_lateness,
      maxFutureSkewMs: config.ingest.max_future_skew,
    });
    const aggregate = async (file: string, steps?: number) => {
      const store = new SqliteAggregateStore(join(dir, file));
      await store.start();
      const agg = new Aggregator(stream, store, steps ? { ...aggOpts, chunkRecords: 50 } : aggOpts, logger, new MetricsRegistry(file.replace(/\W/g, '_')));
      const c0 = process.cpuUsage();
      const t0 = performance.now();
      if (steps) for (let i = 0; i < steps; i++) await agg.step();
      else await agg.drain();
      const r = { cpu_s: cpuS(process.cpuUsage(c0)), wall_s: (performance.now() - t0) / 1000 };
      await store.stop();
      return r;
    };
    const evaluate = async (file: string, rules: typeof config.alerts.rules, steps?: number, profile = false) => {
      const store = new SqliteAlertStore(join(dir, file));
      await store.start();
      store.setOrigins([1]); // a new alert store starts at the stream's end: start at its beginning instead
      let transitions = 0;
      const ev = new AlertEvaluator([stream], store, { ...evOpts(rules), ...(steps ? { chunkRecords: 50 } : {}) }, logger, new MetricsRegistry(file.replace(/\W/g, '_')));
      ev.onTransitions((t) => (transitions += t.length));
      const session = profile ? await startProfiler() : undefined;
      const c0 = process.cpuUsage();
      const t0 = performance.now();
      if (steps) for (let i = 0; i < steps; i++) await ev.step();
      else await ev.drain();
      const r = { cpu_s: cpuS(process.cpuUsage(c0)), wall_s: (performance.now() - t0) / 1000, transitions, series: store.loadSeries().length };
      const hot = session ? await stopProfiler(session) : undefined;
      await store.stop();
      return { ...r, hot };
    };

    /**
     * As the collector runs them: the aggregator and the evaluator in step (a chunk each in turn) sharing their
     * reads (stream/shared-reads.ts), so the evaluator walks records the aggregator has just read and decoded.
     * CPU of each one's steps, so the evaluator's is what alert evaluation adds.
     */
    const inStep = async (tag: string, rules: typeof config.alerts.rules, profile = false) => {
      const aggStore = new SqliteAggregateStore(join(dir, `${tag}-aggregates.db`));
      await aggStore.start();
      const alertStore = new SqliteAlertStore(join(dir, `${tag}-alerts.db`));
      await alertStore.start();
      alertStore.setOrigins([1]);
      const sharedReads = new SharedReads();
      const agg = new Aggregator(stream, aggStore, { ...aggOpts, sharedReads }, logger, new MetricsRegistry(`${tag}_agg`));
      const ev = new AlertEvaluator([stream], alertStore, { ...evOpts(rules), sharedReads }, logger, new MetricsRegistry(`${tag}_ev`));
      let transitions = 0;
      ev.onTransitions((t) => (transitions += t.length));
      let aggCpu = 0;
      let evCpu = 0;
      const session = profile ? await startProfiler() : undefined;
      for (;;) {
        let c0 = process.cpuUsage();
        const a = await agg.step();
        aggCpu += cpuS(process.cpuUsage(c0));
        c0 = process.cpuUsage();
        const e = await ev.step();
        evCpu += cpuS(process.cpuUsage(c0));
        if (a === 0 && e === 0) break;
      }
      const hot = session ? await stopProfiler(session, 30) : undefined;
      await aggStore.stop();
      await alertStore.stop();
      return { ...(hot ? { hot_spots_self: hot } : {}), aggregator_cpu_s: round(aggCpu), evaluator_cpu_s: round(evCpu), ratio: round(evCpu / aggCpu, 3), transitions, records_shared: sharedReads.hits, records_read: sharedReads.misses };
    };

    // Warm-up: the long-running processes are JIT-compiled. A full drain of each first: with only a few chunks
    // of warm-up, the 1,000-rule drain (timed first) still paid for compiling and re-optimising its paths,
    // ~0.25 s of CPU that the drains timed after it did not (BENCH_CPU_WARMUP=short: the few chunks only).
    const shortWarmup = process.env.BENCH_CPU_WARMUP === 'short';
    await aggregate('agg-warm.db', shortWarmup ? 4 : undefined);
    await evaluate('alerts-warm.db', config.alerts.rules, shortWarmup ? 4 : undefined);

    await inStep('warm', config.alerts.rules);
    const shared = await inStep('shared', config.alerts.rules, o.profile === 'shared');
    const agg = await aggregate('aggregates.db');
    const ev = await evaluate('alerts.db', config.alerts.rules, undefined, o.profile === 'rules');
    const noAnomaly = cloudConfig(benchRules({ fleetGlob: 'gw-*', devices, sensors: SENSORS, withoutAnomaly: true })).alerts.rules;
    const evNoAnomaly = await evaluate('alerts-no-anomaly.db', noAnomaly);
    const oneRule = cloudConfig([{ name: 'one', kind: 'threshold', devices: '*', sensor: '*', above: 1e6 }]).alerts.rules;
    const evOne = await evaluate('alerts-one.db', oneRule, undefined, o.profile === 'one');
    // What one more rule on every reading adds, by kind: for sizing a rule set (rules per reading × these).
    const perKind: Record<string, number> = {};
    const perKindNs: Record<string, number> = {};
    for (const [kind, rule] of [
      ['threshold_1m_avg', { kind: 'threshold', on: '1m.avg', above: 1e6 }],
      ['rate', { kind: 'rate', above: 1e12 }],
      ['anomaly_window_120', { kind: 'anomaly', threshold: QUIET_ANOMALY_THRESHOLD }],
    ] as const) {
      const rules = cloudConfig([{ name: 'one', kind: 'threshold', devices: '*', sensor: '*', above: 1e6 }, { name: 'two', devices: '*', sensor: '*', ...rule }]).alerts.rules;
      const added = (await evaluate(`alerts-${kind}.db`, rules)).cpu_s - evOne.cpu_s;
      perKind[kind] = round(added / agg.cpu_s, 3);
      perKindNs[kind] = Math.round((1e9 * added) / plan.totalReadings);
    }

    const perS = (cpu: number) => Math.round(plan.totalReadings / cpu);
    const kinds = (rules: typeof config.alerts.rules) => rules.reduce<Record<string, number>>((m, r) => ((m[r.kind] = (m[r.kind] ?? 0) + 1), m), {});
    o.emit({
      bench: 'alerts-cpu-share',
      warmup: shortWarmup ? 'short' : 'full',
      readings: plan.totalReadings,
      batches: plan.batches,
      devices: DEVICES,
      sensors_per_device: SENSORS.length,
      chunk_records: 500,
      aggregator: { resolutions: resolutions.map((r) => r.label), cpu_s: round(agg.cpu_s), wall_s: round(agg.wall_s), readings_per_cpu_s: perS(agg.cpu_s) },
      evaluator_1000_rules: {
        rules: config.alerts.rules.length,
        kinds: kinds(config.alerts.rules),
        rules_per_reading: 9,
        cpu_s: round(ev.cpu_s),
        wall_s: round(ev.wall_s),
        readings_per_cpu_s: perS(ev.cpu_s),
        series: ev.series,
        transitions: ev.transitions,
      },
      evaluator_without_anomaly: { rules: noAnomaly.length, cpu_s: round(evNoAnomaly.cpu_s), readings_per_cpu_s: perS(evNoAnomaly.cpu_s), transitions: evNoAnomaly.transitions },
      evaluator_one_threshold_rule: { cpu_s: round(evOne.cpu_s), readings_per_cpu_s: perS(evOne.cpu_s) },
      in_step_shared_reads: shared,
      ratio_evaluator_to_aggregator: round(ev.cpu_s / agg.cpu_s, 2),
      ratio_without_anomaly: round(evNoAnomaly.cpu_s / agg.cpu_s, 2),
      ratio_one_rule: round(evOne.cpu_s / agg.cpu_s, 2),
      added_per_rule_on_every_reading_ratio: perKind,
      added_per_rule_on_every_reading_ns: perKindNs,
      ns_per_reading: {
        aggregator: Math.round((1e9 * agg.cpu_s) / plan.totalReadings),
        evaluator_1000_rules: Math.round((1e9 * ev.cpu_s) / plan.totalReadings),
        evaluator_one_rule: Math.round((1e9 * evOne.cpu_s) / plan.totalReadings),
        in_step_aggregator: Math.round((1e9 * shared.aggregator_cpu_s) / plan.totalReadings),
        in_step_evaluator: Math.round((1e9 * shared.evaluator_cpu_s) / plan.totalReadings),
      },
      target_ratio: 0.15,
      met: shared.ratio <= 0.15,
      ...(ev.hot ? { evaluator_hot_spots_self: ev.hot } : {}),
      ...(evOne.hot ? { one_rule_hot_spots_self: evOne.hot } : {}),
      loadavg_1m: round(os.loadavg()[0]!, 2),
    });
    await stream.stop();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
