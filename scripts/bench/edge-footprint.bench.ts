// A gateway's footprint (issue 12): CPU share of a core, bytes the kernel was asked to write to disk per
// reading, and wire bytes per reading, for the real agent on a real serial line. Real processes only:
// `tidemark-cloud run` (embedded broker), one `tidemark-edge run` agent with the shipped defaults reading a
// socat pty that this process feeds csv lines at a fixed rate (100 lines/s × 10 values by default), and — on
// a second pty fed the same kind of line in the same run — Node-RED 4.1 doing serial → csv → MQTT (QoS 1) to
// a private Mosquitto, with no buffer at all. Node-RED is installed at bench time into a temp dir (or taken
// from BENCH_NODE_RED_DIR), never into the repo. Measured over a steady window after a warm-up:
//   cpu_pct        utime+stime of the process (all threads) from /proc/<pid>/stat, per wall time, 100 = a core
//   wakeups_per_s  voluntary context switches of all its threads (each one a sleep and a wake-up) per second;
//                  by_thread splits CPU % and wake-ups by thread (main, V8 workers, libuv pool, …)
//   page_faults_per_s  minor page faults (each a trap into the kernel, dear on a virtual machine), per second
//   run_pct        the process's time on a CPU from /proc/<pid>/task/*/schedstat (exact; cpu_pct is sampled at
//                  each kernel tick, which a process that wakes often for a few µs can dodge or hit unevenly)
//   write_bytes    delta of /proc/<pid>/io write_bytes (what the process made the kernel write: page-dirtying
//                  time, whole 4 KiB pages) per reading read from the line
//   wire_bytes     protobuf payload bytes per reading, from the collector's stream store (the agent)
// One JSON line per process, progress on stderr. The machine is shared: every line says how much CPU the
// rest of the machine used in the window, so compare ratios of one run, not figures across runs.
// Run: npm run bench -- footprint   (or npx tsx scripts/bench/edge-footprint.bench.ts on a built tree)
// Options: BENCH_SECONDS (60, the window), BENCH_WARMUP_SECONDS (10), BENCH_LINES_PER_S (100),
//   BENCH_COLUMNS (10), BENCH_READ_INTERVAL_MS (the agent's serial read_interval_ms; unset: its default), BENCH_NODE_RED (1; 0 skips it), BENCH_NODE_RED_DIR (an existing install),
//   BENCH_PROFILE=1 (the agent runs with --cpu-prof; the profile's path is printed), BENCH_KEEP=1,
//   BENCH_AGENT_NODE_ARGS (extra node flags for the agent under test, space-separated, e.g.
//   '--perf-basic-prof --interpreted-frames-native-stack' to read it with `perf record -g -p <pid>`),
//   BENCH_AGENT_OUTPUT (a file: the agent under test's stdout and stderr go there after the run, e.g. with
//   BENCH_AGENT_NODE_ARGS='--trace-opt --trace-deopt'),
//   BENCH_EDGE_CONFIG (JSON merged into the agent's config, e.g. '{"buffer":{"commit_interval_ms":1000}}'),
//   BENCH_BASELINE_EDGE_BIN (another build's edge/bin/tidemark-edge.js, e.g. of the commit before a change:
//   it runs as a second agent, process "agent-baseline", on its own pty with the same load in the same
//   window, so before and after are compared under the same conditions), BENCH_BASELINE_EDGE_CONFIG (JSON merged
//   into that second agent's config only: with BENCH_BASELINE_EDGE_BIN=edge/bin/tidemark-edge.js it compares two
//   settings of one build, e.g. '{"buffer":{"persist":"all"}}').
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync, mkdirSync } from 'node:fs';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { connectAsync, type MqttClient } from 'mqtt';
import { freePort, makeTempDir, openPtyPair, reapAll, removeTempDirs, spawnProcess, startMosquitto, waitFor, type ManagedProcess } from '@tidemark/shared/testing';
import { decodeBatch } from '../../proto/src/index.js';
import { CLOUD_BIN, EDGE_BIN, runCli, startCli, writeYaml } from '../../test/support/cli.js';
import { cpuMs, machineBusyMs, threadDelta, threadSamples, type ThreadSample } from './support/cpu-meter.js';
import { CsvLoad, PtyWriter } from './support/pty-load.js';

const env = (name: string, dflt: number) => (process.env[name] ? Number(process.env[name]) : dflt);
const SECONDS = env('BENCH_SECONDS', 60);
const WARMUP_S = env('BENCH_WARMUP_SECONDS', 10);
const LINES_PER_S = env('BENCH_LINES_PER_S', 100);
const COLUMNS = env('BENCH_COLUMNS', 10);
const NODE_RED = process.env.BENCH_NODE_RED !== '0';
const PROFILE = process.env.BENCH_PROFILE === '1';
const AGENT_NODE_ARGS = (process.env.BENCH_AGENT_NODE_ARGS ?? '').split(' ').filter((a) => a !== '');
const KEEP = process.env.BENCH_KEEP === '1';
const AGENT_OUTPUT = process.env.BENCH_AGENT_OUTPUT;
const EDGE_EXTRA = process.env.BENCH_EDGE_CONFIG ? (JSON.parse(process.env.BENCH_EDGE_CONFIG) as Record<string, unknown>) : {};
const BASELINE_BIN = process.env.BENCH_BASELINE_EDGE_BIN;
const BASELINE_EXTRA = process.env.BENCH_BASELINE_EDGE_CONFIG ? (JSON.parse(process.env.BENCH_BASELINE_EDGE_CONFIG) as Record<string, unknown>) : {};
const READ_INTERVAL_MS = process.env.BENCH_READ_INTERVAL_MS ? Number(process.env.BENCH_READ_INTERVAL_MS) : undefined;
const DEVICE = 'footprint-01';
const BASELINE_DEVICE = 'footprint-00';

const emit = (line: Record<string, unknown>) => process.stdout.write(`${JSON.stringify(line)}\n`);
const log = (msg: string) => console.error(`# ${msg}`);
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms)); // a timed phase, not a readiness wait

/** The agent's counters that explain its writes (from its /metrics), or undefined without a status port. */
async function agentWrites(port: number | undefined): Promise<Record<string, number> | undefined> {
  if (port === undefined) return undefined;
  const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
  const names = ['readings_committed_total', 'batches_sent_before_write_total', 'batches_written_after_send_total', 'batches_sealed_total'];
  const out: Record<string, number> = {};
  for (const n of names) out[n] = Number(new RegExp(`^tidemark_edge_${n} (\\S+)$`, 'm').exec(text)?.[1] ?? 0);
  return out;
}

/** write_bytes of a process from /proc/<pid>/io (bytes whose page-cache pages it dirtied). */
function writeBytes(pid: number): number {
  const io = readFileSync(`/proc/${pid}/io`, 'utf8');
  return Number(/^write_bytes:\s+(\d+)/m.exec(io)?.[1] ?? NaN);
}

function rssMb(pid: number): number {
  const kb = Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? NaN);
  return Number((kb / 1024).toFixed(1));
}

let stopping = false;
let cleaning = false;
function abort(reason: string): void {
  if (cleaning) return;
  cleaning = true;
  log(reason);
  emit({ bench: 'edge-footprint', error: reason });
  void reapAll()
    .then(() => (KEEP ? undefined : removeTempDirs()))
    .finally(() => process.exit(1));
}
for (const sig of ['SIGINT', 'SIGTERM'] as const) {
  process.on(sig, () => abort(`${sig}: stopping every process this benchmark started`));
}
function watch(p: ManagedProcess): ManagedProcess {
  void p.exited.then((e) => {
    if (!stopping) abort(`${p.name} died during the run: exit ${e.code ?? e.signal}; last output:\n${p.output().slice(-3000)}`);
  });
  return p;
}

/** Node-RED 4.1 and the serial nodes in `dir` (npm install at bench time unless already there). */
function installNodeRed(dir: string): string | undefined {
  const bin = join(dir, 'node_modules', 'node-red', 'red.js');
  if (existsSync(bin) && existsSync(join(dir, 'node_modules', 'node-red-node-serialport'))) return bin;
  log(`installing node-red@4.1 and node-red-node-serialport into ${dir} (not into the repo)`);
  const r = spawnSync('npm', ['install', '--no-audit', '--no-fund', '--prefix', dir, 'node-red@4.1', 'node-red-node-serialport'], { encoding: 'utf8', timeout: 600_000 });
  if (r.status !== 0) {
    log(`npm install failed (${r.status}): ${r.stderr.slice(-2000)}`);
    return undefined;
  }
  return existsSync(bin) ? bin : undefined;
}

/** A userDir with a flow: serial in (lines) → csv (one object per line) → mqtt out (QoS 1). */
function nodeRedUserDir(dir: string, serialPath: string, mqttPort: number, uiPort: number, modulesDir: string): string {
  const userDir = join(dir, 'node-red');
  mkdirSync(userDir, { recursive: true });
  writeFileSync(
    join(userDir, 'settings.js'),
    `module.exports = {
  uiHost: '127.0.0.1', uiPort: ${uiPort}, flowFile: 'flows.json', credentialSecret: false,
  httpAdminRoot: false, httpNodeRoot: false, disableEditor: true,
  nodesDir: ${JSON.stringify(join(modulesDir, 'node_modules', 'node-red-node-serialport'))},
  logging: { console: { level: 'warn', metrics: false, audit: false } },
  editorTheme: { tours: false },
};\n`,
  );
  const columns = Array.from({ length: COLUMNS }, (_, c) => `s${c}`).join(',');
  const flows = [
    { id: 'tab1', type: 'tab', label: 'footprint' },
    { id: 'port1', type: 'serial-port', serialport: serialPath, serialbaud: '115200', databits: '8', parity: 'none', stopbits: '1', waitfor: '', dtr: 'none', rts: 'none', cts: 'none', dsr: 'none', newline: '\\n', bin: 'false', out: 'char', addchar: '', responsetimeout: '10000' },
    { id: 'in1', type: 'serial in', z: 'tab1', name: 'plc', serial: 'port1', wires: [['csv1']] },
    { id: 'csv1', type: 'csv', z: 'tab1', name: '', sep: ',', hdrin: false, hdrout: 'none', multi: 'one', ret: '\\n', temp: columns, skip: '0', strings: true, include_empty_strings: false, include_null_values: false, wires: [['mqtt1']] },
    { id: 'mqtt1', type: 'mqtt out', z: 'tab1', name: '', topic: 'nodered/plc', qos: '1', retain: 'false', broker: 'broker1', wires: [] },
    { id: 'broker1', type: 'mqtt-broker', name: '', broker: '127.0.0.1', port: String(mqttPort), clientid: '', autoConnect: true, usetls: false, protocolVersion: '4', keepalive: '60', cleansession: true },
  ];
  writeFileSync(join(userDir, 'flows.json'), JSON.stringify(flows, null, 2));
  return userDir;
}

/** utime and stime of a process in ms (all threads), from /proc/<pid>/stat. */
function userSysMs(pid: number): { user: number; sys: number; minflt: number } {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return { user: Number(f[11]) * 10, sys: Number(f[12]) * 10, minflt: Number(f[7]) }; // CLK_TCK 100
}

interface Sample {
  cpu: number;
  sys: number;
  wb: number;
  minflt: number;
  threads: ThreadSample[];
}
const sample = (pid: number): Sample => {
  const { sys, minflt } = userSysMs(pid);
  return { cpu: cpuMs(pid), sys, minflt, wb: writeBytes(pid), threads: threadSamples(pid) };
};
const wakeups = (s: Sample) => s.threads.reduce((n, t) => n + t.voluntary, 0);
const runMs = (s: Sample) => s.threads.reduce((n, t) => n + t.runMs, 0);

async function main(): Promise<void> {
  const dir = await makeTempDir('tidemark-bench-footprint-');
  const [mqttPort, apiPort] = [await freePort(), await freePort()];
  const api = `http://127.0.0.1:${apiPort}`;
  const cloudDir = join(dir, 'cloud');
  const cloudConfig = writeYaml(join(dir, 'cloud.yaml'), {
    data_dir: cloudDir,
    broker: { mode: 'embedded', listen: `127.0.0.1:${mqttPort}` },
    auth: { devices_file: join(dir, 'devices.yaml') },
    api: { listen: `127.0.0.1:${apiPort}` },
    log: { level: 'warn' },
  });
  const passwordOf = (id: string) => {
    const add = runCli(CLOUD_BIN, ['device', 'add', id, '-c', cloudConfig]);
    if (add.code !== 0) throw new Error(`device add exited ${add.code}: ${add.stderr}`);
    return add.stdout.trim();
  };
  const passwords = new Map([DEVICE, ...(BASELINE_BIN ? [BASELINE_DEVICE] : [])].map((id) => [id, passwordOf(id)]));
  const collector = watch(startCli('collector', CLOUD_BIN, ['run', '-c', cloudConfig]));
  await waitFor(async () => (await fetch(`${api}/readyz`).catch(() => undefined))?.ok, { timeoutMs: 30_000, description: 'collector ready' });

  const columns = Array.from({ length: COLUMNS }, (_, c) => `s${c}`);
  // As the shipped systemd unit runs it (NODE_OPTIONS from scripts/systemd/tidemark-edge.service).
  const unit = readFileSync(new URL('../systemd/tidemark-edge.service', import.meta.url), 'utf8');
  const nodeOptions = /^Environment=NODE_OPTIONS=(.*)$/m.exec(unit)?.[1] ?? '';
  const profDir = join(dir, 'profile');
  const startAgent = async (name: string, device: string, bin: string, extra: Record<string, unknown> = EDGE_EXTRA) => {
    const pty = await openPtyPair();
    // The build under test serves its metrics: what it wrote, and why, in the window.
    const statusPort = bin === EDGE_BIN ? await freePort() : undefined;
    const config = writeYaml(join(dir, `${device}.yaml`), {
      device: { id: device },
      data_dir: join(dir, 'edge', device),
      sources: [
        {
          type: 'serial',
          name: 'plc',
          path: pty.a,
          baud_rate: 115200,
          // Only for the build under test: a baseline build may not know the key.
          ...(READ_INTERVAL_MS !== undefined && bin === EDGE_BIN ? { read_interval_ms: READ_INTERVAL_MS } : {}),
          parser: { format: 'csv', columns },
        },
      ],
      uplink: { url: `mqtt://127.0.0.1:${mqttPort}`, password: '${TIDEMARK_PASSWORD}' },
      clock: { sync_check: 'assume_synced' },
      log: { level: 'warn' },
      ...(statusPort !== undefined ? { status: { listen: `127.0.0.1:${statusPort}` } } : {}),
      ...extra,
    });
    const agentEnv = { ...process.env, TIDEMARK_PASSWORD: passwords.get(device)!, NODE_OPTIONS: nodeOptions, NODE_ENV: 'production' };
    const args = [...(PROFILE ? ['--cpu-prof', `--cpu-prof-dir=${join(profDir, name)}`] : []), ...(bin === EDGE_BIN ? AGENT_NODE_ARGS : []), bin, 'run', '-c', config];
    const proc = watch(spawnProcess(process.execPath, args, { name, env: agentEnv }));
    log(`${name}: pid ${proc.pid}`);
    return { name, device, pty, process: proc, statusPort };
  };
  const agents = [await startAgent('agent', DEVICE, EDGE_BIN), ...(BASELINE_BIN ? [await startAgent('agent-baseline', BASELINE_DEVICE, BASELINE_BIN, { ...EDGE_EXTRA, ...BASELINE_EXTRA })] : [])];

  let nodeRed: ManagedProcess | undefined;
  let nodeRedSub: MqttClient | undefined;
  let nodeRedMessages = 0;
  let nodeRedBytes = 0;
  let nodeRedNote: string | undefined;
  let nrPty;
  let mosquitto;
  if (NODE_RED) {
    const modulesDir = process.env.BENCH_NODE_RED_DIR ?? join(dir, 'node-red-install');
    const redJs = installNodeRed(modulesDir);
    if (redJs === undefined) nodeRedNote = 'node-red@4.1 could not be installed; not measured';
    else {
      mosquitto = await startMosquitto();
      nrPty = await openPtyPair();
      const userDir = nodeRedUserDir(dir, nrPty.a, mosquitto.port, await freePort(), modulesDir);
      nodeRed = watch(spawnProcess(process.execPath, [redJs, '--userDir', userDir, '--settings', join(userDir, 'settings.js')], { name: 'node-red', env: { ...process.env, NODE_ENV: 'production' } }));
      // Proof that the flow delivers: count what reaches the broker (this process's cost, not Node-RED's).
      nodeRedSub = await connectAsync(mosquitto.url);
      nodeRedSub.on('message', (_topic, payload) => {
        nodeRedMessages++;
        nodeRedBytes += payload.length;
      });
      await nodeRedSub.subscribeAsync('nodered/#', { qos: 1 });
    }
  }

  const outs = [...agents.map((a) => new PtyWriter(a.pty.b)), ...(nrPty ? [new PtyWriter(nrPty.b)] : [])];
  const load = new CsvLoad(outs, COLUMNS, LINES_PER_S);
  load.start();
  log(`load flowing: ${LINES_PER_S} lines/s × ${COLUMNS} values to ${agents.map((a) => a.name).join(', ')}${nodeRed ? ' and Node-RED' : ''}; warm-up ${WARMUP_S} s`);
  for (const a of agents) {
    await waitFor(async () => {
      const res = await fetch(`${api}/api/v1/devices/${a.device}/sensors`);
      return res.ok && ((await res.json()) as { items: unknown[] }).items.length >= COLUMNS;
    }, { timeoutMs: 60_000, intervalMs: 250, description: `${a.name} delivering every column` });
  }
  await sleep(WARMUP_S * 1000);

  if (nodeRed) await waitFor(() => nodeRedMessages > 0, { timeoutMs: 60_000, description: 'Node-RED publishing' });
  const nr0 = { messages: nodeRedMessages, bytes: nodeRedBytes };
  const pids = { ...Object.fromEntries(agents.map((a) => [a.name, a.process.pid])), ...(nodeRed ? { 'node-red': nodeRed.pid } : {}) } as Record<string, number>;
  const t0 = performance.now();
  const wall0 = Date.now();
  const load0 = loadavg()[0]!;
  const m0 = machineBusyMs();
  const s0 = Object.fromEntries(Object.entries(pids).map(([k, pid]) => [k, sample(pid)]));
  const c0 = cpuMs(collector.pid);
  const writes = async () => new Map(await Promise.all(agents.map(async (a) => [a.name, await agentWrites(a.statusPort)] as const)));
  const w0 = await writes();
  await sleep(SECONDS * 1000);
  const w1 = await writes();
  const s1 = Object.fromEntries(Object.entries(pids).map(([k, pid]) => [k, sample(pid)]));
  const c1 = cpuMs(collector.pid);
  const m1 = machineBusyMs();
  const wall1 = Date.now();
  const wallMs = performance.now() - t0;
  const rss = Object.fromEntries(Object.entries(pids).map(([k, pid]) => [k, rssMb(pid)]));
  const stalls = outs.map((o) => o.stalls);
  const nr1 = { messages: nodeRedMessages, bytes: nodeRedBytes };
  await nodeRedSub?.endAsync();

  stopping = true;
  load.stop();
  for (const o of outs) o.close();
  const exits = new Map<string, number | null>();
  for (const a of agents) exits.set(a.name, (await a.process.kill('SIGTERM', 15_000)).code);
  if (AGENT_OUTPUT) writeFileSync(AGENT_OUTPUT, agents[0]!.process.output());
  if (nodeRed) await nodeRed.kill('SIGTERM', 15_000);
  await mosquitto?.stop();
  await collector.kill('SIGTERM', 15_000);

  // Wire bytes: every batch the collector stored from each agent in the window (by receive time).
  const db = new Database(join(cloudDir, 'stream.db'), { readonly: true, fileMustExist: true });
  const wire = new Map<string, { bytes: number; readings: number; batches: number }>();
  try {
    for (const a of agents) {
      const w = { bytes: 0, readings: 0, batches: 0 };
      for (const row of db.prepare('SELECT received_ms, payload FROM stream WHERE device = ?').iterate(a.device) as Iterable<{ received_ms: number; payload: Buffer }>) {
        if (row.received_ms < wall0 || row.received_ms > wall1) continue;
        w.bytes += row.payload.length;
        w.readings += decodeBatch(new Uint8Array(row.payload)).readings.length;
        w.batches++;
      }
      wire.set(a.name, w);
    }
  } finally {
    db.close();
  }

  const readingsInWindow = (LINES_PER_S * COLUMNS * wallMs) / 1000;
  const busyAll = m1 - m0;
  const used = Object.fromEntries(Object.keys(pids).map((k) => [k, s1[k]!.cpu - s0[k]!.cpu]));
  const others = Math.max(0, busyAll - Object.values(used).reduce((a, b) => a + b, 0) - (c1 - c0));
  const common = { seconds: Number((wallMs / 1000).toFixed(1)), lines_per_s: LINES_PER_S, values_per_line: COLUMNS, readings_per_s: LINES_PER_S * COLUMNS };
  for (const k of Object.keys(pids)) {
    emit({
      bench: 'edge-footprint',
      process: k,
      ...common,
      cpu_pct: Number(((100 * used[k]!) / wallMs).toFixed(2)),
      cpu_sys_pct: Number(((100 * (s1[k]!.sys - s0[k]!.sys)) / wallMs).toFixed(2)),
      cpu_us_per_line: Math.round((1000 * used[k]!) / ((LINES_PER_S * wallMs) / 1000)),
      run_pct: Number(((100 * (runMs(s1[k]!) - runMs(s0[k]!))) / wallMs).toFixed(2)),
      wakeups_per_s: Number(((1000 * (wakeups(s1[k]!) - wakeups(s0[k]!))) / wallMs).toFixed(1)),
      page_faults_per_s: Number(((1000 * (s1[k]!.minflt - s0[k]!.minflt)) / wallMs).toFixed(1)),
      by_thread: threadDelta(pids[k]!, s0[k]!.threads, s1[k]!.threads, wallMs),
      write_bytes_per_reading: Number(((s1[k]!.wb - s0[k]!.wb) / readingsInWindow).toFixed(1)),
      write_kb_per_s: Number(((s1[k]!.wb - s0[k]!.wb) / wallMs).toFixed(1)),
      ...(w0.get(k) && w1.get(k) ? { why_written: Object.fromEntries(Object.keys(w1.get(k)!).map((m) => [m, w1.get(k)![m]! - (w0.get(k)![m] ?? 0)])) } : {}),
      ...(wire.has(k)
        ? {
            wire_bytes_per_reading: Number((wire.get(k)!.bytes / wire.get(k)!.readings).toFixed(2)),
            batches_in_window: wire.get(k)!.batches,
            readings_delivered_in_window: wire.get(k)!.readings,
            exit: exits.get(k),
            bin: k === 'agent' ? EDGE_BIN : BASELINE_BIN,
          }
        : {
            messages_per_s: Number(((1000 * (nr1.messages - nr0.messages)) / wallMs).toFixed(1)),
            wire_bytes_per_reading: Number(((nr1.bytes - nr0.bytes) / ((nr1.messages - nr0.messages) * COLUMNS)).toFixed(2)),
            wire_note: 'a JSON object per line (MQTT payload bytes), no buffer: nothing is durable',
          }),
      rss_mb: rss[k],
      target_cpu_pct: wire.has(k) ? 2 : undefined,
    });
  }
  emit({
    bench: 'edge-footprint',
    process: 'machine',
    collector_cpu_pct: Math.round((100 * (c1 - c0)) / wallMs),
    others_cpu_pct: Math.round((100 * others) / wallMs),
    load_avg_1m_at_start: Number(load0.toFixed(2)),
    pty_write_stalls: stalls,
    node_red: nodeRed ? 'measured' : (nodeRedNote ?? 'skipped (BENCH_NODE_RED=0)'),
  });
  if (PROFILE) log(`agent profiles (.cpuprofile) under ${profDir}`);
  if (!KEEP && !PROFILE) await removeTempDirs();
  else log(`kept ${dir}`);
}

main().then(
  () => reapAll().then(() => process.exit(0)),
  (err: Error) => abort(err.stack ?? err.message),
);
