// A real collector and real agents as separate processes, configured through files as a user would.
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { expect } from 'vitest';
import { freePort, makeTempDir, requireTool, startMosquitto, waitFor, type ManagedProcess, type MosquittoServer } from '@tidemark/shared/testing';
import { makeCerts } from '@tidemark/shared/testing';
import { CLOUD_BIN, EDGE_BIN, ROOT, getJson, runCli, startCli, writeYaml } from './cli.js';

export interface CloudSetup {
  dir: string;
  dataDir: string;
  configPath: string;
  mqttUrl: string;
  api: string;
  /** What an agent's uplink.tls needs, in `embedded-tls` mode. */
  edgeTls: { ca: string } | undefined;
  /** The external broker, in `external` mode. */
  mosquitto: MosquittoServer | undefined;
  start(env?: NodeJS.ProcessEnv): Promise<ManagedProcess>;
  addDevice(id: string): string;
}

export type BrokerMode = 'embedded' | 'embedded-tls' | 'external';

/**
 * A collector config in a temp dir. `external`: a real Mosquitto on a free port, configured with the
 * shipped scripts/mosquitto/ ACL and the rules of docs/external-broker.md, and the collector as its client.
 */
export async function setupCloud(extra: Record<string, unknown> = {}, mode: BrokerMode = 'embedded'): Promise<CloudSetup> {
  const dir = await makeTempDir('tidemark-e2e-');
  const [mqttPort, apiPort] = [await freePort(), await freePort()];
  const dataDir = join(dir, 'cloud');
  let mosquitto: MosquittoServer | undefined;
  let broker: Record<string, unknown> = { mode: 'embedded', listen: `127.0.0.1:${mqttPort}` };
  const auth: Record<string, unknown> = { devices_file: join(dir, 'devices.yaml') };
  let edgeTls: { ca: string } | undefined;
  let mqttUrl = `mqtt://127.0.0.1:${mqttPort}`;
  if (mode === 'embedded-tls') {
    const certs = makeCerts(dir);
    const tlsPort = await freePort();
    broker = { ...broker, tls_listen: `127.0.0.1:${tlsPort}`, tls: { cert: certs.cert, key: certs.key } };
    edgeTls = { ca: certs.ca };
    mqttUrl = `mqtts://127.0.0.1:${tlsPort}`;
  }
  if (mode === 'external') {
    const passwd = join(dir, 'mosquitto.passwd');
    writeFileSync(passwd, '', { mode: 0o600 });
    const r = spawnSync(requireTool('mosquitto_passwd', 'mosquitto'), ['-b', passwd, 'tidemark-collector', 'collector-secret'], { encoding: 'utf8' });
    expect(r.status, r.stderr).toBe(0);
    mosquitto = await startMosquitto({
      allowAnonymous: false,
      configLines: [`password_file ${passwd}`, `acl_file ${join(ROOT, 'scripts/mosquitto/tidemark.acl')}`, 'use_username_as_clientid true', 'max_queued_messages 100000'],
    });
    broker = { mode: 'external', url: mosquitto.url, username: 'tidemark-collector', password: 'collector-secret' };
    auth.mosquitto_password_file = passwd;
  }
  const configPath = writeYaml(join(dir, 'cloud.yaml'), {
    data_dir: dataDir,
    broker,
    auth,
    api: { listen: `127.0.0.1:${apiPort}` },
    ...extra,
  });
  const api = `http://127.0.0.1:${apiPort}`;
  let starts = 0;
  return {
    dir,
    dataDir,
    configPath,
    api,
    mosquitto,
    edgeTls,
    mqttUrl: mosquitto?.url ?? mqttUrl,
    async start(env: NodeJS.ProcessEnv = {}) {
      const p = startCli(`collector#${++starts}`, CLOUD_BIN, ['run', '-c', configPath], env);
      await waitFor(async () => (await fetch(`${api}/readyz`).catch(() => undefined))?.ok, { timeoutMs: 20_000, description: 'collector ready' });
      return p;
    },
    addDevice(id: string) {
      const r = runCli(CLOUD_BIN, ['device', 'add', id, '-c', configPath]);
      expect(r.code, r.stderr).toBe(0);
      // Mosquitto re-reads its password file on SIGHUP (agents retry until it has).
      if (mosquitto) process.kill(mosquitto.process.pid, 'SIGHUP');
      return r.stdout.trim();
    },
  };
}

/** `tidemark-edge buffer stats --json`. */
export interface BufferStatsJson {
  readings: number;
  next_seq: number;
  oldest_time: string | null;
  newest_time: string | null;
  file_bytes: number;
  drops: Record<string, number>;
}

export interface EdgeSetup {
  configPath: string;
  env: NodeJS.ProcessEnv;
  start(): ManagedProcess;
  bufferStats(): BufferStatsJson;
}

export function setupEdge(cloud: CloudSetup, deviceId: string, config: Record<string, unknown>): EdgeSetup {
  const password = cloud.addDevice(deviceId);
  const env = { TIDEMARK_PASSWORD: password };
  const configPath = writeYaml(join(cloud.dir, `${deviceId}.yaml`), {
    device: { id: deviceId },
    data_dir: join(cloud.dir, 'edge', deviceId),
    uplink: {
      url: cloud.mqttUrl,
      password: '${TIDEMARK_PASSWORD}',
      reconnect_min_ms: 100,
      reconnect_max_ms: 1000,
      ack_timeout_ms: 5000,
      ...(cloud.edgeTls ? { tls: cloud.edgeTls } : {}),
    },
    clock: { sync_check: 'assume_synced' },
    ...config,
  });
  let starts = 0;
  return {
    configPath,
    env,
    start: () => startCli(`agent-${deviceId}#${++starts}`, EDGE_BIN, ['run', '-c', configPath], env),
    bufferStats() {
      const r = runCli(EDGE_BIN, ['buffer', 'stats', '-c', configPath, '--json'], env);
      expect(r.code, r.stderr).toBe(0);
      return JSON.parse(r.stdout) as BufferStatsJson;
    },
  };
}

export interface SensorInfo {
  name: string;
  first_seen: string;
  last_seen: string;
  readings: number;
}

/** Waits until the aggregator has folded exactly `expected` readings of the sensor. */
export async function waitForAggregated(api: string, device: string, sensor: string, expected: number, timeoutMs = 20_000): Promise<SensorInfo> {
  return waitFor(
    async () => {
      const { body } = await getJson<{ items: SensorInfo[] }>(`${api}/api/v1/devices/${device}/sensors`).catch(() => ({ body: { items: [] } }));
      const s = body.items.find((x) => x.name === sensor);
      return s && s.readings === expected ? s : undefined;
    },
    { timeoutMs, description: `${device}/${sensor} aggregated ${expected} readings` },
  );
}

export async function fetchBuckets<T>(api: string, device: string, sensor: string, resolution: string, from: number, to: number): Promise<T[]> {
  const items: T[] = [];
  let cursor: string | null = null;
  do {
    const q = new URLSearchParams({ device, sensor, resolution, from: new Date(from).toISOString(), to: new Date(to).toISOString(), limit: '10000' });
    if (cursor) q.set('cursor', cursor);
    const { status, body } = await getJson<{ items: T[]; next_cursor: string | null }>(`${api}/api/v1/aggregates?${q}`);
    expect(status).toBe(200);
    items.push(...body.items);
    cursor = body.next_cursor;
  } while (cursor);
  return items;
}
