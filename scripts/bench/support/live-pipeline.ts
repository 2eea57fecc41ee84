// A live pipeline for benchmarks, as e2e-latency.bench.ts runs it: `tidemark-cloud run` (role all, embedded
// broker, devices provisioned with `tidemark-cloud device add`) and `agents` × `tidemark-edge run` with the
// shipped batch and buffer defaults, each reading csv of `sensors` columns from a socat pty that CsvLoad
// writes at `linesPerS` lines per second. The caller adds its own sections to the cloud config (alerts …) and
// watches every process it is handed (a process that dies is its finding).
import { join } from 'node:path';
import { freePort, openPtyPair, waitFor, type ManagedProcess, type PtyPair } from '@tidemark/shared/testing';
import { CLOUD_BIN, EDGE_BIN, runCli, startCli, writeYaml } from '../../../test/support/cli.js';
import { CsvLoad, PtyWriter } from './pty-load.js';

export interface LivePipelineOptions {
  dir: string;
  agents: number;
  sensors: number;
  linesPerS: number;
  /** Seeds the csv random walks (CsvLoad): every run then carries the same values. Absent: Math.random. */
  seed?: number;
  /** Extra top-level sections of the cloud config. */
  cloud?: Record<string, unknown>;
  /** Flags for the collector's node (e.g. --cpu-prof). */
  collectorNodeArgs?: string[];
  /** Every process started, as it starts (the caller's exit watch). */
  watch: (p: ManagedProcess) => ManagedProcess;
  log: (msg: string) => void;
}

export interface LivePipeline {
  api: string;
  ids: string[];
  columns: string[];
  dataDir: string;
  collector: ManagedProcess;
  agents: ManagedProcess[];
  ptys: PtyPair[];
  writers: PtyWriter[];
  load: CsvLoad;
  /** Stops the load, the agents, then the collector; true if every exit was clean. */
  stop(): Promise<boolean>;
}

export async function startLivePipeline(o: LivePipelineOptions): Promise<LivePipeline> {
  const [mqttPort, apiPort] = [await freePort(), await freePort()];
  const api = `http://127.0.0.1:${apiPort}`;
  const dataDir = join(o.dir, 'cloud');
  const cloudConfig = writeYaml(join(o.dir, 'cloud.yaml'), {
    data_dir: dataDir,
    broker: { mode: 'embedded', listen: `127.0.0.1:${mqttPort}` },
    auth: { devices_file: join(o.dir, 'devices.yaml') },
    api: { listen: `127.0.0.1:${apiPort}` },
    log: { level: 'info' },
    ...o.cloud,
  });
  const ids = Array.from({ length: o.agents }, (_, i) => `lat-${String(i).padStart(2, '0')}`);
  o.log(`provisioning ${o.agents} devices (tidemark-cloud device add)`);
  const passwords = ids.map((id) => {
    const r = runCli(CLOUD_BIN, ['device', 'add', id, '-c', cloudConfig]);
    if (r.code !== 0) throw new Error(`device add ${id} exited ${r.code}: ${r.stderr}`);
    return r.stdout.trim();
  });
  const collector = o.watch(startCli('collector', CLOUD_BIN, ['run', '-c', cloudConfig], {}, o.collectorNodeArgs));
  await waitFor(async () => (await fetch(`${api}/readyz`).catch(() => undefined))?.ok, { timeoutMs: 60_000, description: 'collector ready' });
  const ptys = await Promise.all(ids.map(() => openPtyPair()));
  for (const p of ptys) o.watch(p.process);
  const columns = Array.from({ length: o.sensors }, (_, s) => `s${s}`);
  const agents = ids.map((id, i) => {
    const config = writeYaml(join(o.dir, `${id}.yaml`), {
      device: { id },
      data_dir: join(o.dir, 'edge', id),
      sources: [{ type: 'serial', name: 'plc', path: ptys[i]!.a, baud_rate: 921600, parser: { format: 'csv', columns } }],
      uplink: { url: `mqtt://127.0.0.1:${mqttPort}`, password: '${TIDEMARK_PASSWORD}' },
      clock: { sync_check: 'assume_synced' },
      log: { level: 'info' },
    });
    return o.watch(startCli(`agent-${id}`, EDGE_BIN, ['run', '-c', config], { TIDEMARK_PASSWORD: passwords[i]! }));
  });
  const writers = ptys.map((p) => new PtyWriter(p.b));
  const load = new CsvLoad(writers, o.sensors, o.linesPerS, o.seed);
  load.start();
  o.log(`waiting for ${o.agents} agents to deliver every sensor`);
  await waitFor(
    async () => {
      for (const id of ids) {
        const res = await fetch(`${api}/api/v1/devices/${id}/sensors`);
        if (!res.ok) return false;
        const { items } = (await res.json()) as { items: { name: string }[] };
        if (items.length < o.sensors) return false;
      }
      return true;
    },
    { timeoutMs: 90_000, intervalMs: 250, description: `every agent's ${o.sensors} sensors aggregated` },
  );
  return {
    api,
    ids,
    columns,
    dataDir,
    collector,
    agents,
    ptys,
    writers,
    load,
    async stop() {
      load.stop();
      for (const w of writers) w.close();
      const exits = await Promise.all(agents.map((a) => a.kill('SIGTERM', 15_000)));
      const c = await collector.kill('SIGTERM', 15_000);
      await Promise.all(ptys.map((p) => p.close()));
      return exits.every((e) => e.code === 0) && c.code === 0;
    },
  };
}
