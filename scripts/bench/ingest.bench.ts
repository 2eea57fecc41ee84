// Collector ingest, durable before ack (issue 5): a real `tidemark-cloud run` process, 1,000 simulated
// devices in a separate load-generator process (support/ingest-load.js, one mqtt.js client per device,
// real credentials), 1,000-reading batches. Per broker mode (embedded aedes, then an external Mosquitto):
//   connect  every device (scrypt / PBKDF2 auth), timed apart from the load;
//   max      closed loop, each device keeps BENCH_WINDOW batches unacked: the collector's capacity;
//   paced    open loop at BENCH_PACED_RATE readings/s with the agent's window of 8: ack latency at a rate;
// then the collector is stopped and the stream store is read back to prove every batch was stored and
// acked `ok` exactly once. One JSON line per result. 2 cores: generator, collector (and Mosquitto) share them.
// Run: npm run bench -- ingest   (or npx tsx scripts/bench/ingest.bench.ts)
// Scale: BENCH_DEVICES (1000), BENCH_BATCHES_PER_DEVICE (max phase, 16), BENCH_BATCH_SIZE (1000), BENCH_WINDOW (8),
//   BENCH_PACED_RATE (300000), BENCH_PACED_SECONDS (10), BENCH_MODES (embedded,external), BENCH_PHASES (max,paced),
//   BENCH_ROLE (collector; `all` adds the aggregator to the process),
//   BENCH_AUTH (devices | anonymous), BENCH_CONNECT_CONCURRENCY (4), BENCH_PROFILE=1 (collector under
//   --cpu-prof; prints a profile summary line per phase), BENCH_NODE_ARGS (extra node flags for the collector),
//   BENCH_MOSQUITTO_NODELAY=1 (adds set_tcp_nodelay true to the shipped Mosquitto config), BENCH_KEEP=1 (keep temp dirs).
import { spawnSync, fork, type ChildProcess } from 'node:child_process';
import { readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { performance } from 'node:perf_hooks';
import Database from 'better-sqlite3';
import { stringify } from 'yaml';
import { freePort, makeTempDir, reapAll, removeTempDirs, requireTool, spawnProcess, startMosquitto, type ManagedProcess, type MosquittoServer } from '@tidemark/shared/testing';
import { hashPassword } from '../../cloud/src/broker/device-auth.js';
import { Meter } from './support/cpu-meter.js';
import { summariseProfile } from './support/ingest-profile.js';

const env = (name: string, dflt: number) => (process.env[name] ? Number(process.env[name]) : dflt);
const DEVICES = env('BENCH_DEVICES', 1000);
const BATCH_SIZE = env('BENCH_BATCH_SIZE', 1000);
const BATCHES_PER_DEVICE = env('BENCH_BATCHES_PER_DEVICE', 16);
/** Unacked batches per device in the max phase: the agent's default uplink.max_inflight, as when draining a backlog. */
const WINDOW = env('BENCH_WINDOW', 8);
const PACED_RATE = env('BENCH_PACED_RATE', 300_000);
const PACED_SECONDS = env('BENCH_PACED_SECONDS', 10);
const PACED_WINDOW = 8; // the agent's default uplink.max_inflight
const CONNECT_CONCURRENCY = env('BENCH_CONNECT_CONCURRENCY', 4);
const MODES = (process.env.BENCH_MODES ?? 'embedded,external').split(',').map((m) => m.trim()) as Mode[];
const ROLE = process.env.BENCH_ROLE ?? 'collector';
const PHASES = (process.env.BENCH_PHASES ?? 'max,paced').split(',').map((p) => p.trim());
const ANONYMOUS = process.env.BENCH_AUTH === 'anonymous';
const PROFILE = process.env.BENCH_PROFILE === '1';
const KEEP = process.env.BENCH_KEEP === '1';
/** Extra node flags for the collector, e.g. BENCH_NODE_ARGS=--max-semi-space-size=32 */
const NODE_ARGS = (process.env.BENCH_NODE_ARGS ?? '').split(' ').filter(Boolean);
const TARGET = 300_000;

type Mode = 'embedded' | 'external';
const ROOT = fileURLToPath(new URL('../..', import.meta.url));
/** BENCH_CLOUD_BIN: another build of the collector (a copy of cloud/ inside the repo), for before/after runs. */
const CLOUD_BIN = process.env.BENCH_CLOUD_BIN ?? join(ROOT, 'cloud/bin/tidemark-cloud.js');
const LOAD = fileURLToPath(new URL('./support/ingest-load.js', import.meta.url));
const PASSWORD = 'bench-device-secret';
const COLLECTOR_USER = 'tidemark-collector';
const COLLECTOR_PASSWORD = 'bench-collector-secret';

function emit(line: Record<string, unknown>): void {
  process.stdout.write(`${JSON.stringify(line)}\n`);
}

type Reply = Record<string, unknown> & { event: string };

/** The generator process and a way to wait for its next reply of a kind. */
function startGenerator(): { child: ChildProcess; request(msg: Record<string, unknown>, event: string): Promise<Reply> } {
  const child = fork(LOAD, [], { execArgv: [], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  const waiting = new Map<string, (r: Reply) => void>();
  let failure: Error | undefined;
  child.on('message', (m: Reply) => {
    if (m.event === 'log') console.error(`# generator: ${String(m.message)}`);
    else if (m.event === 'error') {
      failure = new Error(`generator failed: ${String(m.message)}`);
      for (const w of waiting.values()) w(m);
    } else waiting.get(m.event)?.(m);
  });
  child.on('exit', (code) => {
    if (code !== 0 && code !== null) failure ??= new Error(`generator exited with ${code}`);
  });
  return {
    child,
    request: (msg, event) =>
      new Promise((resolve, reject) => {
        if (failure) return reject(failure);
        waiting.set(event, (r) => {
          waiting.delete(event);
          if (r.event === 'error') reject(failure);
          else resolve(r);
        });
        child.send(msg);
      }),
  };
}

function writeYaml(path: string, doc: unknown): string {
  writeFileSync(path, stringify(doc));
  return path;
}

async function externalBroker(dir: string, ids: string[]): Promise<{ mosquitto: MosquittoServer; broker: Record<string, unknown> }> {
  // Plain `user:password` lines, hashed in place by mosquitto_passwd -U (the broker's own format).
  const passwd = join(dir, 'mosquitto.passwd');
  writeFileSync(passwd, [`${COLLECTOR_USER}:${COLLECTOR_PASSWORD}`, ...ids.map((id) => `${id}:${PASSWORD}`)].join('\n') + '\n', { mode: 0o600 });
  const r = spawnSync(requireTool('mosquitto_passwd', 'mosquitto'), ['-U', passwd], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`mosquitto_passwd -U failed: ${r.stderr}`);
  // scripts/mosquitto/tidemark.conf, on a private port (startMosquitto writes listener/logging lines).
  const mosquitto = await startMosquitto({
    allowAnonymous: false,
    dataDir: join(dir, 'mosquitto-data'),
    configLines: [
      `password_file ${passwd}`,
      `acl_file ${join(ROOT, 'scripts/mosquitto/tidemark.acl')}`,
      'use_username_as_clientid true',
      'max_queued_messages 100000',
      'message_size_limit 4194304',
      ...(process.env.BENCH_MOSQUITTO_NODELAY === '1' ? ['set_tcp_nodelay true'] : []),
      // One line per connect and subscribe from 1,000 devices is noise; errors and warnings stay.
      'log_type error',
      'log_type warning',
      'log_type notice',
    ],
  });
  return { mosquitto, broker: { mode: 'external', url: mosquitto.url, username: COLLECTOR_USER, password: COLLECTOR_PASSWORD } };
}

async function runMode(mode: Mode, passwordHash: string | undefined): Promise<void> {
  const dir = await makeTempDir(`tidemark-bench-ingest-${mode}-`);
  const ids = Array.from({ length: DEVICES }, (_, i) => `bench-${String(i).padStart(4, '0')}`);
  const [mqttPort, apiPort] = [await freePort(), await freePort()];
  let mosquitto: MosquittoServer | undefined;
  let broker: Record<string, unknown> = { mode: 'embedded', listen: `127.0.0.1:${mqttPort}` };
  const auth: Record<string, unknown> = {};
  if (mode === 'external') {
    ({ mosquitto, broker } = await externalBroker(dir, ids));
  } else if (ANONYMOUS) {
    auth.allow_anonymous = true;
  } else {
    // Every device gets the same password (one scrypt hash, same salt): each connect still costs one full
    // scrypt verification, but the bench does not spend 50 s hashing 1,000 passwords first.
    const devicesFile = join(dir, 'devices.yaml');
    writeYaml(devicesFile, { devices: Object.fromEntries(ids.map((id) => [id, { password_hash: passwordHash }])) });
    auth.devices_file = devicesFile;
  }
  const dataDir = join(dir, 'cloud');
  const config = writeYaml(join(dir, 'cloud.yaml'), { data_dir: dataDir, broker, auth, api: { listen: `127.0.0.1:${apiPort}` }, log: { level: 'info' } });

  const profDir = join(dir, 'cpuprof');
  const nodeArgs = [...(PROFILE ? ['--cpu-prof', '--cpu-prof-dir', profDir] : []), ...NODE_ARGS];
  const collectorStart = performance.now();
  const collector: ManagedProcess = spawnProcess(process.execPath, [...nodeArgs, CLOUD_BIN, 'run', '-c', config, '--role', ROLE], { name: `collector-${mode}` });
  await collector.waitForOutput('tidemark-cloud started', 30_000);
  let stopping = false;
  void collector.exited.then((e) => {
    if (stopping) return;
    // A collector that dies under load is the finding: say so with its last words, not with a timeout.
    console.error(`# collector (${mode}) died under load: exit ${e.code ?? e.signal}\n${collector.output().slice(-4000)}`);
    emit({ bench: 'ingest', mode, error: 'collector died under load', exit: e.code ?? e.signal, log: collector.logPath });
    void reapAll().finally(() => process.exit(1));
  });

  const gen = startGenerator();
  const url = mode === 'external' ? mosquitto!.url : `mqtt://127.0.0.1:${mqttPort}`;
  await gen.request({ cmd: 'init', url, devices: ids, password: ANONYMOUS && mode === 'embedded' ? undefined : PASSWORD, batchSize: BATCH_SIZE, variants: 8 }, 'ready');
  const pids = [collector.pid, gen.child.pid!, ...(mosquitto ? [mosquitto.process.pid] : [])];
  const cpu = (m: Meter, batches?: number) => {
    const { ours, oursMs, others } = m.read();
    const [c, g, b] = ours;
    // CPU per batch is what contention from other processes distorts least: the basis of the ceiling estimate.
    const perBatch = (i: number) => Math.round((1000 * oursMs[i]!) / batches!);
    return {
      collector_cpu_pct: c,
      generator_cpu_pct: g,
      ...(b !== undefined ? { mosquitto_cpu_pct: b } : {}),
      // Every other process on this shared 2-core machine during the interval (other engineers' work).
      others_cpu_pct: others,
      ...(batches ? { collector_cpu_us_per_batch: perBatch(0), generator_cpu_us_per_batch: perBatch(1), ...(b !== undefined ? { mosquitto_cpu_us_per_batch: perBatch(2) } : {}) } : {}),
    };
  };
  const common = {
    bench: 'ingest',
    mode,
    role: ROLE,
    ...(NODE_ARGS.length ? { node_args: NODE_ARGS.join(' ') } : {}),
    ...(process.env.BENCH_CLOUD_BIN ? { cloud_bin: process.env.BENCH_CLOUD_BIN } : {}),
    ...(process.env.BENCH_MOSQUITTO_NODELAY === '1' && mode === 'external' ? { mosquitto: 'set_tcp_nodelay true' } : {}),
    auth: mode === 'external' ? 'mosquitto password_file (PBKDF2-SHA512)' : ANONYMOUS ? 'anonymous' : 'devices_file (scrypt N=16384)',
    devices: DEVICES,
    batch_size: BATCH_SIZE,
  };

  let meter = new Meter(pids);
  const connected = await gen.request({ cmd: 'connect', concurrency: CONNECT_CONCURRENCY }, 'connected');
  const connectLine = { ...common, phase: 'connect', ...connected, ...cpu(meter), event: undefined };
  if (connected.failed !== 0) throw new Error(`${String(connected.failed)} devices could not connect: ${JSON.stringify(connected.failures)}`);

  const phases: Record<string, unknown>[] = [];
  const windows: { phase: string; from: number; to: number }[] = [];
  const runPhase = async (msg: Record<string, unknown>) => {
    // Encoding happens first and is not measured: CPU% and the profile window cover sending and acks only.
    await gen.request({ cmd: 'prepare', drainSeconds: 60, ...msg }, 'prepared');
    meter = new Meter(pids);
    const from = performance.now() - collectorStart;
    const r = await gen.request({ cmd: 'phase' }, 'phase');
    windows.push({ phase: String(msg.kind), from, to: performance.now() - collectorStart });
    const readings = Number(r.batches_acked) * BATCH_SIZE;
    phases.push({
      ...common,
      phase: msg.kind,
      window: msg.window,
      ...(msg.kind === 'paced' ? { offered_readings_per_s: PACED_RATE } : {}),
      readings,
      seconds: r.seconds,
      readings_per_s: Math.round(readings / Number(r.seconds)),
      ack_ms: r.ack_ms,
      ...cpu(meter, Number(r.batches_acked)),
      bytes_per_reading: r.bytes_per_reading,
      statuses: r.statuses,
      unexpected_acks: r.unexpected_acks,
      missing_acks: r.missing_acks,
      publish_errors: r.publish_errors,
      ...(msg.kind === 'paced' ? { waited_for_window: r.waited_for_window } : {}),
      target_readings_per_s: TARGET,
    });
  };
  if (PHASES.includes('max')) await runPhase({ kind: 'max', batches: BATCHES_PER_DEVICE, window: WINDOW });
  if (PHASES.includes('paced')) await runPhase({ kind: 'paced', rate: PACED_RATE, seconds: PACED_SECONDS, window: PACED_WINDOW });
  const closed = await gen.request({ cmd: 'close', settleMs: 1000 }, 'closed');

  stopping = true;
  const exit = await collector.kill('SIGTERM', 15_000);
  if (exit.code !== 0) throw new Error(`collector exited with ${exit.code ?? exit.signal}:\n${collector.output().slice(-3000)}`);
  await mosquitto?.stop();

  // Read back: every batch sent is in the log exactly once, and was acked `ok` exactly once.
  const db = new Database(join(dataDir, 'stream.db'), { readonly: true, fileMustExist: true });
  const totals = db.prepare('SELECT count(*) AS n, coalesce(sum(readings), 0) AS r, count(DISTINCT device) AS d FROM stream').get() as { n: number; r: number; d: number };
  const perDevice = db
    .prepare('SELECT count(*) AS n, count(DISTINCT seq) AS u, min(seq) AS lo, max(seq) AS hi FROM stream GROUP BY device, stream_id')
    .all() as { n: number; u: number; lo: number; hi: number }[];
  const deadLetters = (db.prepare('SELECT count(*) AS n FROM dead_letters').get() as { n: number }).n;
  db.close();
  const sent = Number(closed.sent);
  const contiguous = perDevice.every((p) => p.n === p.u && p.lo === 1 && p.hi === p.n);
  const exactlyOnce =
    totals.n === sent && totals.r === sent * BATCH_SIZE && contiguous && Number(closed.acked_ok_once) === sent && Number(closed.not_ok_once) === 0 && deadLetters === 0;
  // Over the whole run of this mode (every phase), read back after the collector stopped.
  const verify = {
    exactly_once: exactlyOnce,
    run_check: {
      batches_sent: sent,
      rows_stored: totals.n,
      readings_stored: totals.r,
      acked_ok_once: closed.acked_ok_once,
      ...(exactlyOnce ? {} : { not_ok_once: closed.not_ok_once, examples: closed.examples, per_device_contiguous: contiguous, dead_letters: deadLetters }),
    },
  };
  emit(connectLine);
  for (const p of phases) emit({ ...p, ...verify });

  if (PROFILE) {
    const file = readdirSync(profDir).find((f) => f.endsWith('.cpuprofile'));
    if (!file) throw new Error(`no .cpuprofile in ${profDir}`);
    for (const w of windows) {
      // Profile time starts at the process's start, a few ms after spawn: windows are accurate to ~0.1 s.
      const s = summariseProfile(join(profDir, file), w.from, w.to, 15);
      emit({ bench: 'ingest', mode, phase: w.phase, profile: join(profDir, file), ...s });
    }
  }
  if (!exactlyOnce) process.exitCode = 1;
}

try {
  const hash = MODES.includes('embedded') && !ANONYMOUS ? await hashPassword(PASSWORD) : undefined;
  for (const mode of MODES) {
    if (mode !== 'embedded' && mode !== 'external') throw new Error(`BENCH_MODES: unknown mode "${mode}"`);
    await runMode(mode, hash);
  }
} finally {
  await reapAll();
  if (!KEEP && !PROFILE) await removeTempDirs();
  else console.error('# kept temp dirs under /tmp/tidemark-bench-ingest-*');
}
