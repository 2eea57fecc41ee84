// End-to-end latency (issue 6): "a reading read by an agent is visible in /api/v1/aggregates and on
// /api/v1/stream within 1 s at p99 with 20k readings/s flowing". Real processes only: `tidemark-cloud run`
// (role all, embedded broker, devices file) and BENCH_AGENTS `tidemark-edge run` agents with the shipped
// batch and buffer defaults. Each agent reads two serial ports, socat ptys the bench writes to: csv bulk load
// (BENCH_BULK=simulated: a simulated source instead) and a sparse probe, the line `k`. Serial readings carry
// no device time, so the agent stamps the moment it read them: that event time is where latency starts.
// The bench listens on /api/v1/stream (every 1m bucket) and polls /api/v1/aggregates (each probe sensor).
// Latency of a reading = the wall-clock moment its bucket was first seen with a count that includes it,
// minus its event time (one machine, one clock; clock.sync_check: assume_synced). Which readings a bucket
// count includes is exact, not guessed: afterwards the stream store is decoded, and a bucket showing count c
// holds the first c of its readings in stream order — every observed sum is checked against them. The
// stream store's per-batch receive time splits each latency into edge (event time → collector receipt) and
// cloud (receipt → visible). One JSON line per result, progress on stderr. The machine has 2 cores:
// collector, agents, socat and this process share them (the last line says how much CPU each took).
// Run: npm run bench -- latency   (or npx tsx scripts/bench/e2e-latency.bench.ts on a built tree; ~90 s)
// Scale: BENCH_AGENTS (10), BENCH_RATE (20000 bulk readings/s in all), BENCH_SENSORS (4 per agent),
//   BENCH_SECONDS (60, the measured window), BENCH_WARMUP_SECONDS (5), BENCH_PROBE_HZ (10 per agent, at random
//   intervals so the probe cannot phase-lock with the agent's 100 ms timers), BENCH_POLL_MS (100 per device),
//   BENCH_MAX_DELAY_MS / BENCH_MAX_READINGS / BENCH_EDGE_COMMIT_MS (the agents' batch.max_delay_ms,
//   batch.max_readings, buffer.commit_interval_ms; unset: the shipped defaults), BENCH_INGEST_COMMIT_MS (the
//   collector's ingest.commit_interval_ms), BENCH_BULK (serial | simulated), BENCH_KEEP=1 (keep the temp dir).
import { rmSync } from 'node:fs';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { validateConfig } from '@tidemark/shared/config';
import { freePort, makeTempDir, openPtyPair, reapAll, removeTempDirs, sampleSum, waitFor, type ManagedProcess } from '@tidemark/shared/testing';
import { edgeConfigSchema } from '../../edge/src/config.js';
import { CLOUD_BIN, EDGE_BIN, runCli, startCli, writeYaml } from '../../test/support/cli.js';
import { Meter } from './support/cpu-meter.js';
import { attribute, bucketKey, BucketObservations, readStoredBuckets, summarize } from './support/latency-attribution.js';
import { CsvLoad, Probe, PtyWriter } from './support/pty-load.js';
import { openSse, type SseConnection } from './support/sse-client.js';

const env = (name: string, dflt: number) => (process.env[name] ? Number(process.env[name]) : dflt);
const optional = (name: string) => (process.env[name] ? Number(process.env[name]) : undefined);
const AGENTS = env('BENCH_AGENTS', 10);
const RATE = env('BENCH_RATE', 20_000);
const SENSORS = env('BENCH_SENSORS', 4);
const SECONDS = env('BENCH_SECONDS', 60);
const WARMUP_S = env('BENCH_WARMUP_SECONDS', 5);
const PROBE_HZ = env('BENCH_PROBE_HZ', 10);
const POLL_MS = env('BENCH_POLL_MS', 100);
const MAX_DELAY_MS = optional('BENCH_MAX_DELAY_MS');
const MAX_READINGS = optional('BENCH_MAX_READINGS');
const EDGE_COMMIT_MS = optional('BENCH_EDGE_COMMIT_MS');
const INGEST_COMMIT_MS = optional('BENCH_INGEST_COMMIT_MS');
const BULK = process.env.BENCH_BULK ?? 'serial';
const KEEP = process.env.BENCH_KEEP === '1';
const TARGET_P99_MS = 1000;
const DRAIN_TIMEOUT_MS = 30_000;
const MINUTE = 60_000;
const PROBE = 'probe';
const RATE_HZ = RATE / AGENTS / SENSORS;

const emit = (line: Record<string, unknown>) => process.stdout.write(`${JSON.stringify(line)}\n`);
const log = (msg: string) => console.error(`# ${msg}`);
const sleepUntil = (t: number) => new Promise<void>((r) => setTimeout(r, Math.max(0, t - Date.now()))); // a timed phase, not a readiness wait

/** Sum of a tidemark_cloud_* sample over every label set whose block contains `labels`. */
const metric = (text: string, name: string, labels = '') => sampleSum(text, `tidemark_cloud_${name}`, labels);

let stopping = false;
let cleaning = false;
function abort(reason: string): void {
  if (cleaning) return;
  cleaning = true;
  log(reason);
  emit({ bench: 'e2e-latency', error: reason });
  void reapAll()
    .then(() => (KEEP ? undefined : removeTempDirs()))
    .finally(() => process.exit(1));
}
for (const sig of ['SIGINT', 'SIGTERM'] as const) {
  process.on(sig, () => {
    if (cleaning) return;
    cleaning = true;
    log(`${sig}: stopping every process this benchmark started`);
    void reapAll()
      .then(() => (KEEP ? undefined : removeTempDirs()))
      .finally(() => process.exit(130));
  });
}
/** Every process this benchmark started (their logs are deleted after a clean run). */
const started: ManagedProcess[] = [];
/** A process of ours that exits before we stop it is the finding: say so with its last words. */
function watch(p: ManagedProcess): ManagedProcess {
  started.push(p);
  void p.exited.then((e) => {
    if (!stopping) abort(`${p.name} died during the run: exit ${e.code ?? e.signal}; last output:\n${p.output().slice(-3000)}`);
  });
  return p;
}

async function main(): Promise<void> {
  if (BULK !== 'simulated' && BULK !== 'serial') throw new Error(`BENCH_BULK: expected simulated or serial, got "${BULK}"`);
  if (!(RATE_HZ > 0 && RATE_HZ <= 10_000)) throw new Error(`BENCH_RATE / BENCH_AGENTS / BENCH_SENSORS = ${RATE_HZ} Hz per source: expected > 0 and <= 10000`);
  const dir = await makeTempDir('tidemark-bench-latency-');
  const [mqttPort, apiPort] = [await freePort(), await freePort()];
  const api = `http://127.0.0.1:${apiPort}`;
  const dataDir = join(dir, 'cloud');
  const cloudConfig = writeYaml(join(dir, 'cloud.yaml'), {
    data_dir: dataDir,
    broker: { mode: 'embedded', listen: `127.0.0.1:${mqttPort}` },
    auth: { devices_file: join(dir, 'devices.yaml') },
    api: { listen: `127.0.0.1:${apiPort}` },
    ...(INGEST_COMMIT_MS !== undefined ? { ingest: { commit_interval_ms: INGEST_COMMIT_MS } } : {}),
    log: { level: 'info' },
  });
  const ids = Array.from({ length: AGENTS }, (_, i) => `lat-${String(i).padStart(2, '0')}`);
  log(`provisioning ${AGENTS} devices (tidemark-cloud device add)`);
  const passwords = ids.map((id) => {
    const r = runCli(CLOUD_BIN, ['device', 'add', id, '-c', cloudConfig]);
    if (r.code !== 0) throw new Error(`device add ${id} exited ${r.code}: ${r.stderr}`);
    return r.stdout.trim();
  });

  const collector = watch(startCli('collector', CLOUD_BIN, ['run', '-c', cloudConfig]));
  await waitFor(async () => (await fetch(`${api}/readyz`).catch(() => undefined))?.ok, { timeoutMs: 30_000, description: 'collector ready' });
  const ptys = await Promise.all(ids.map(() => openPtyPair()));
  const bulkPtys = BULK === 'serial' ? await Promise.all(ids.map(() => openPtyPair())) : [];
  started.push(...[...ptys, ...bulkPtys].map((p) => p.process));
  const columns = Array.from({ length: SENSORS }, (_, s) => `s${s}`);

  const edgeDoc = (id: string, i: number) => ({
    device: { id },
    data_dir: join(dir, 'edge', id),
    sources: [
      BULK === 'serial'
        ? { type: 'serial', name: 'plc', path: bulkPtys[i]!.a, baud_rate: 921600, parser: { format: 'csv', columns } }
        : {
            type: 'simulated',
            name: 'sim',
            rate_hz: RATE_HZ,
            seed: i + 1,
            sensors: columns.map((name, s) => ({ name, shape: s % 2 === 0 ? 'sine' : 'random_walk', min: 0, max: 100, period_s: 60, decimals: 2 })),
          },
      { type: 'serial', name: PROBE, path: ptys[i]!.a, baud_rate: 115200, parser: { format: 'csv', columns: [PROBE] } },
    ],
    ...(EDGE_COMMIT_MS !== undefined ? { buffer: { commit_interval_ms: EDGE_COMMIT_MS } } : {}),
    ...(MAX_DELAY_MS !== undefined || MAX_READINGS !== undefined
      ? { batch: { ...(MAX_DELAY_MS !== undefined ? { max_delay_ms: MAX_DELAY_MS } : {}), ...(MAX_READINGS !== undefined ? { max_readings: MAX_READINGS } : {}) } }
      : {}),
    uplink: { url: `mqtt://127.0.0.1:${mqttPort}`, password: '${TIDEMARK_PASSWORD}' },
    clock: { sync_check: 'assume_synced' },
    log: { level: 'info' },
  });
  // The settings every agent runs with (defaults filled in), for the report.
  const effective = validateConfig(edgeDoc(ids[0]!, 0), edgeConfigSchema);
  const agents = ids.map((id, i) => {
    const config = writeYaml(join(dir, `${id}.yaml`), edgeDoc(id, i));
    return watch(startCli(`agent-${id}`, EDGE_BIN, ['run', '-c', config], { TIDEMARK_PASSWORD: passwords[i]! }));
  });
  const probes = ptys.map((p) => new Probe(p.b, PROBE_HZ));
  for (const p of probes) p.start();
  const bulkOut = bulkPtys.map((p) => new PtyWriter(p.b));
  const csv = new CsvLoad(bulkOut, SENSORS, RATE_HZ);
  if (BULK === 'serial') csv.start();

  // Every 1m bucket update, as it arrives.
  const streamObs = new BucketObservations();
  const watermarks = new Map<string, number>();
  const resets: string[] = [];
  const sse: SseConnection = await openSse(`${api}/api/v1/stream?resolution=1m`, (e) => {
    if (e.type === 'bucket') {
      const b = JSON.parse(e.data) as { device: string; sensor: string; start: string; count: number; sum: number };
      streamObs.observe(bucketKey(b.device, b.sensor, Date.parse(b.start)), e.at, b.count, b.sum);
    } else if (e.type === 'watermark') {
      const w = JSON.parse(e.data) as { device: string; watermark: string };
      watermarks.set(w.device, Date.parse(w.watermark));
    } else if (e.type === 'reset') resets.push(e.data);
  });
  void sse.ended.then((reason) => {
    if (reason !== undefined && !stopping) abort(`/api/v1/stream ended during the run: ${reason}`);
  });

  log(`waiting for ${AGENTS} agents to deliver every sensor`);
  await waitFor(
    async () => {
      for (const id of ids) {
        const res = await fetch(`${api}/api/v1/devices/${id}/sensors`);
        if (!res.ok) return false;
        const { items } = (await res.json()) as { items: { name: string }[] };
        if (items.length < SENSORS + 1) return false;
      }
      return true;
    },
    { timeoutMs: 90_000, intervalMs: 250, description: `every agent's ${SENSORS} bulk sensors and probe aggregated` },
  );

  // Polls of /api/v1/aggregates: each device's probe sensor every POLL_MS.
  const pollObs = new BucketObservations();
  const pollMaxK = new Map<string, number>();
  let polling = true;
  let pollErrors = 0;
  let polls = 0;
  const pollFrom = new Date(Math.floor(Date.now() / MINUTE) * MINUTE - MINUTE).toISOString();
  const pollers = ids.map(async (device, i) => {
    await sleepUntil(Date.now() + (POLL_MS * i) / AGENTS); // spread the devices over the interval
    while (polling) {
      const t0 = Date.now();
      try {
        const q = new URLSearchParams({ device, sensor: PROBE, resolution: '1m', from: pollFrom, to: '2100-01-01T00:00:00Z', limit: '10000' });
        const res = await fetch(`${api}/api/v1/aggregates?${q}`);
        const body = (await res.json()) as { items: { start: string; count: number; sum: number; max: number }[] };
        const at = Date.now();
        polls++;
        for (const b of body.items) {
          pollObs.observe(bucketKey(device, PROBE, Date.parse(b.start)), at, b.count, b.sum);
          pollMaxK.set(device, Math.max(pollMaxK.get(device) ?? 0, b.max));
        }
      } catch {
        pollErrors++;
      }
      await sleepUntil(t0 + POLL_MS);
    }
  });

  const tStart = Date.now() + WARMUP_S * 1000;
  const tEnd = tStart + SECONDS * 1000;
  log(`load flowing; warm-up ${WARMUP_S} s, then measuring for ${SECONDS} s`);
  await sleepUntil(tStart);
  const load0 = loadavg()[0]!;
  const m0 = await (await fetch(`${api}/metrics`)).text();
  const socats = [...ptys, ...bulkPtys].map((p) => p.process.pid);
  const meter = new Meter([collector.pid, ...agents.map((a) => a.pid), ...socats, process.pid]);
  await sleepUntil(tEnd);
  const cpu = meter.read();
  const m1 = await (await fetch(`${api}/metrics`)).text();

  log('window over; waiting until the stream and the polls have shown every reading of the window');
  const kEnd = probes.map((p) => p.lastBefore(tEnd));
  let drained = true;
  await waitFor(() => ids.every((d, i) => (watermarks.get(d) ?? 0) >= tEnd && (pollMaxK.get(d) ?? 0) >= kEnd[i]!), {
    timeoutMs: DRAIN_TIMEOUT_MS,
    description: 'every device watermark past the window on the stream and its last probe in a poll',
  }).catch((err: Error) => {
    drained = false;
    log(err.message);
  });

  stopping = true;
  polling = false;
  await Promise.all(pollers);
  sse.close();
  for (const p of probes) p.stop();
  csv.stop();
  for (const o of bulkOut) o.close();
  const agentExits = await Promise.all(agents.map((a) => a.kill('SIGTERM', 15_000)));
  const badAgents = agentExits.filter((e) => e.code !== 0).length;
  const collectorExit = await collector.kill('SIGTERM', 15_000);
  await Promise.all([...ptys, ...bulkPtys].map((p) => p.close()));
  if (badAgents > 0 || collectorExit.code !== 0) log(`unclean exits: ${badAgents} agents, collector ${collectorExit.code ?? collectorExit.signal}`);

  // ---- read back what was stored, in the order the aggregator folded it ----
  log('decoding the stream store');
  const { buckets, batches: batchesInWindow } = readStoredBuckets(join(dataDir, 'stream.db'), MINUTE, (receivedMs) => receivedMs >= tStart && receivedMs < tEnd);

  // ---- per-reading latencies of the readings read in the window ----
  const inWindow = (ts: number) => ts >= tStart && ts < tEnd;
  const stream = { all: [] as number[], probe: [] as number[], edge: [] as number[], cloud: [] as number[], unseen: 0, unseenProbe: 0 };
  const streamCheck = attribute(buckets, streamObs, (_key, i, r, at) => {
    const ts = r.ts[i]!;
    if (!inWindow(ts)) return;
    const probe = _key.split('|')[1] === PROBE;
    if (at === undefined) {
      stream.unseen++;
      if (probe) stream.unseenProbe++;
      return;
    }
    stream.all.push(at - ts);
    if (probe) stream.probe.push(at - ts);
    stream.edge.push(r.receivedMs[i]! - ts);
    stream.cloud.push(at - r.receivedMs[i]!);
  });
  const probeBuckets = new Map([...buckets].filter(([k]) => k.split('|')[1] === PROBE));
  const poll = { lat: [] as number[], cloud: [] as number[], unseen: 0 };
  const stampDelay: number[] = [];
  const pollCheck = attribute(probeBuckets, pollObs, (key, i, r, at) => {
    const ts = r.ts[i]!;
    if (!inWindow(ts)) return;
    const written = probes[ids.indexOf(key.split('|')[0]!)]!.writtenAt[r.value[i]!];
    if (written !== undefined) stampDelay.push(ts - written);
    if (at === undefined) {
      poll.unseen++;
      return;
    }
    poll.lat.push(at - ts);
    poll.cloud.push(at - r.receivedMs[i]!);
  });

  const delta = (name: string, labels = '') => metric(m1, name, labels) - metric(m0, name, labels);
  const achieved = Math.round(delta('readings_total', 'status="ok"') / SECONDS);
  const common = {
    bench: 'e2e-latency',
    agents: AGENTS,
    bulk: BULK,
    offered_readings_per_s: RATE + AGENTS * PROBE_HZ,
    readings_per_s: achieved,
    window_s: SECONDS,
    batch_max_delay_ms: effective.batch.max_delay_ms,
    batch_max_readings: effective.batch.max_readings,
    edge_commit_interval_ms: effective.buffer.commit_interval_ms,
    ...(INGEST_COMMIT_MS !== undefined ? { ingest_commit_interval_ms: INGEST_COMMIT_MS } : {}),
  };
  const verdict = (s: { p99_ms: number }, unseen: number) => ({ target_p99_ms: TARGET_P99_MS, met: unseen === 0 && s.p99_ms <= TARGET_P99_MS });
  const sAll = summarize(stream.all);
  const sProbe = summarize(stream.probe);
  const sPoll = summarize(poll.lat);
  emit({ ...common, path: '/api/v1/stream', readings: 'all (every sensor of every agent)', ...sAll, unseen: stream.unseen, ...verdict(sAll, stream.unseen) });
  emit({ ...common, path: '/api/v1/stream', readings: 'probe (serial, stamped on read)', ...sProbe, unseen: stream.unseenProbe, ...verdict(sProbe, stream.unseenProbe) });
  emit({ ...common, path: '/api/v1/aggregates', readings: 'probe (serial, stamped on read)', poll_interval_ms: POLL_MS, ...sPoll, unseen: poll.unseen, ...verdict(sPoll, poll.unseen) });

  const hist = (name: string) => {
    const count = delta(`${name}_count`);
    return count > 0 ? Math.round((100_000 * delta(`${name}_sum`)) / count) / 100 : null;
  };
  const batchAge = summarize(batchesInWindow.map((b) => b.ageMs));
  emit({
    ...common,
    breakdown: {
      edge_event_to_collector_receipt: summarize(stream.edge),
      cloud_receipt_to_stream: summarize(stream.cloud),
      cloud_receipt_to_poll: summarize(poll.cloud),
      probe_write_to_agent_stamp: summarize(stampDelay),
      batches_per_s: Math.round(batchesInWindow.length / SECONDS),
      readings_per_batch_mean: Math.round(batchesInWindow.reduce((a, b) => a + b.readings, 0) / Math.max(1, batchesInWindow.length)),
      batch_oldest_reading_age_at_receipt: batchAge,
      batch_span_ms_p50: summarize(batchesInWindow.map((b) => b.spanMs)).p50_ms,
      collector_ingest_commit_ms_mean: hist('ingest_commit_seconds'),
      collector_ingest_group_batches_mean: (() => {
        const n = delta('ingest_group_batches_count');
        return n > 0 ? Math.round((100 * delta('ingest_group_batches_sum')) / n) / 100 : null;
      })(),
      collector_receipt_to_ack_ms_mean: hist('ack_latency_seconds'),
    },
  });
  // Percent of one core over the window, per group (summed before rounding: 20 socats at 0.4 % each are 8 %).
  const pct = (from: number, to: number) => Math.round((100 * cpu.oursMs.slice(from, to).reduce((a, b) => a + b, 0)) / cpu.wallMs);
  const agentPct = agents.map((_, i) => pct(1 + i, 2 + i));
  emit({
    ...common,
    load: {
      sources_per_agent:
        BULK === 'serial'
          ? `serial csv ${SENSORS} columns × ${RATE_HZ} lines/s + serial probe ~${PROBE_HZ} Hz (socat ptys)`
          : `simulated ${SENSORS} sensors × ${RATE_HZ} Hz + serial probe ~${PROBE_HZ} Hz (socat pty)`,
      aggregated_readings_per_s: Math.round(delta('aggregated_readings_total') / SECONDS),
      unaggregated_readings: delta('unaggregated_readings_total'),
      duplicates: delta('duplicates_total'),
      collector_cpu_pct: pct(0, 1),
      agents_cpu_pct_total: pct(1, 1 + AGENTS),
      agent_cpu_pct_max: Math.max(...agentPct),
      socat_cpu_pct_total: pct(1 + AGENTS, 1 + AGENTS + socats.length),
      bench_cpu_pct: pct(1 + AGENTS + socats.length, 2 + AGENTS + socats.length),
      others_cpu_pct: cpu.others,
      loadavg_1m_at_start: Math.round(load0 * 100) / 100,
    },
    checks: {
      stream_observations: streamObs.observations,
      stream_sums: streamCheck,
      poll_sums: pollCheck,
      shrinking_buckets: streamObs.shrinks + pollObs.shrinks,
      stream_resets: resets,
      polls,
      poll_errors: pollErrors,
      pty_write_stalls: [...probes.map((p) => p.out), ...bulkOut].reduce((a, o) => a + o.stalls, 0),
      pty_write_failures: [...probes.map((p) => p.out), ...bulkOut].filter((o) => o.failed !== undefined).map((o) => o.failed),
      drained_within_30s: drained,
      clean_exits: badAgents === 0 && collectorExit.code === 0,
    },
  });
  const sound =
    streamCheck.sum_mismatches === 0 &&
    pollCheck.sum_mismatches === 0 &&
    streamCheck.count_overruns === 0 &&
    resets.length === 0 &&
    drained &&
    stream.unseen === 0 &&
    poll.unseen === 0 &&
    [...probes.map((p) => p.out), ...bulkOut].every((o) => o.failed === undefined) &&
    badAgents === 0 &&
    collectorExit.code === 0;
  if (!sound) {
    log('the run is not sound (see checks): attribution mismatches, resets, readings never seen, lost input or unclean exits');
    process.exitCode = 1;
  }
}

try {
  await main();
} catch (err) {
  emit({ bench: 'e2e-latency', error: (err as Error).message });
  process.exitCode = 1;
} finally {
  stopping = true;
  await reapAll();
  if (!KEEP) await removeTempDirs();
  // Each process's log (in /tmp/tidemark-test-logs) is kept only when something went wrong.
  if (KEEP) log('kept the temp dir under /tmp/tidemark-bench-latency-* and process logs in /tmp/tidemark-test-logs');
  else if (process.exitCode) log('process logs kept in /tmp/tidemark-test-logs');
  else for (const p of started) rmSync(p.logPath, { force: true });
}
