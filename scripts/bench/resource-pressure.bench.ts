// Collector memory under pressure (issue 13): a real `tidemark-cloud run` process (embedded broker, SQLite
// stream store with its data_dir on a small tmpfs) and BENCH_DEVICES mqtt.js devices in this process, each
// with real credentials, a will and a retained status. Phases, each reporting the collector's peak RSS
// (sampled from /proc every 100 ms) as one JSON line:
//   cold-connect     every device connects at once to a collector that has never seen it (one scrypt each);
//   reconnect-storm  every connection is cut at once (a network outage: 10,000 wills = retained offline
//                    statuses), then every device reconnects at once;
//   store-refusing   the data_dir's disk is filled: for BENCH_REFUSE_SECONDS every device keeps sending a
//                    batch and resending it every BENCH_RESEND_SECONDS while it is not acked;
//   recovered        the disk is freed; devices resend until every batch is acked; then the collector is
//                    stopped and stream.db is read back: every acked batch stored, each exactly once.
// Needs root or passwordless sudo (tmpfs mount). Machine notes go in BENCHMARKS.md.
// Run: npx tsx scripts/bench/resource-pressure.bench.ts
// Scale: BENCH_DEVICES (10000), BENCH_SCRYPT_N (1024; the product's default is 16384, see BENCHMARKS.md),
//   BENCH_REFUSE_SECONDS (120), BENCH_RESEND_SECONDS (20).
import { randomBytes, scryptSync } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import Database from 'better-sqlite3';
import { connect, type MqttClient } from 'mqtt';
import { stringify } from 'yaml';
import { decodeAck, encodeBatch, newStreamId, streamIdToHex, topics } from '@tidemark/proto';
import { freePort, makeTempDir, reapAll, removeTempDirs, spawnProcess, waitFor } from '@tidemark/shared/testing';
import { mountSmallDisk } from '../../test/support/small-disk.js';
import { CLOUD_BIN } from '../../test/support/cli.js';

const env = (name: string, dflt: number) => (process.env[name] ? Number(process.env[name]) : dflt);
const DEVICES = env('BENCH_DEVICES', 10_000);
const SCRYPT_N = env('BENCH_SCRYPT_N', 1024);
const REFUSE_S = env('BENCH_REFUSE_SECONDS', 120);
const RESEND_S = env('BENCH_RESEND_SECONDS', 20);
const PASSWORD = 'pressure-device-secret';

const out = (o: object) => process.stdout.write(`${JSON.stringify({ bench: 'resource-pressure', ...o })}\n`);
const mb = (kb: number) => Math.round(kb / 102.4) / 10;

function procStatus(pid: number): { rssKb: number; hwmKb: number } {
  const s = readFileSync(`/proc/${pid}/status`, 'utf8');
  const field = (name: string) => Number(new RegExp(`^${name}:\\s+(\\d+) kB`, 'm').exec(s)?.[1] ?? 0);
  return { rssKb: field('VmRSS'), hwmKb: field('VmHWM') };
}

interface Device {
  id: string;
  client: MqttClient | undefined;
  streamId: Uint8Array;
  payload: Uint8Array;
  acked: boolean;
  sentAt: number;
}

async function main(): Promise<void> {
  const dir = await makeTempDir('tidemark-bench-pressure-');
  const dataDir = join(dir, 'cloud');
  const disk = mountSmallDisk(dataDir, 256 * 1024 * 1024);
  const [mqttPort, apiPort] = [await freePort(), await freePort()];
  const salt = randomBytes(16);
  const hash = `scrypt$${SCRYPT_N}$8$1$${salt.toString('base64')}$${scryptSync(PASSWORD, salt, 32, { N: SCRYPT_N, r: 8, p: 1, maxmem: 256 << 20 }).toString('base64')}`;
  const ids = Array.from({ length: DEVICES }, (_, i) => `gw-p-${String(i).padStart(5, '0')}`);
  writeFileSync(join(dir, 'devices.yaml'), stringify({ devices: Object.fromEntries(ids.map((id) => [id, { password_hash: hash }])) }));
  const config = join(dir, 'cloud.yaml');
  writeFileSync(
    config,
    stringify({
      data_dir: dataDir,
      broker: { mode: 'embedded', listen: `127.0.0.1:${mqttPort}` },
      auth: { devices_file: join(dir, 'devices.yaml') },
      api: { listen: `127.0.0.1:${apiPort}` },
      log: { level: 'info' },
    }),
  );
  const api = `http://127.0.0.1:${apiPort}`;
  const collector = spawnProcess(process.execPath, [CLOUD_BIN, 'run', '-c', config], { name: 'collector' });
  let phasePeakKb = 0;
  const sampler = setInterval(() => {
    try {
      phasePeakKb = Math.max(phasePeakKb, procStatus(collector.pid).rssKb);
    } catch {
      // the collector is gone: main() notices
    }
  }, 100);
  const phase = () => {
    const peak = phasePeakKb;
    phasePeakKb = procStatus(collector.pid).rssKb;
    return mb(peak);
  };

  try {
    await waitFor(async () => (await fetch(`${api}/readyz`).catch(() => undefined))?.ok, { timeoutMs: 30_000, description: 'collector ready' });
    const devices: Device[] = ids.map((id, i) => {
      const streamId = newStreamId();
      return {
        id,
        client: undefined,
        streamId,
        acked: false,
        sentAt: 0,
        payload: encodeBatch({
          deviceId: id,
          streamId,
          seq: 1,
          clock: { synced: true, anchorWallMs: 1, anchorMonoMs: 1 },
          readings: Array.from({ length: 10 }, (_, k) => ({ sensor: 'level', ts: 1_764_000_000_000 + i * 10 + k, value: k * 1.5 })),
        }),
      };
    });
    let acks = 0;
    let retries = 0;
    const connectAll = () =>
      Promise.all(
        devices.map(
          (d) =>
            new Promise<void>((resolve) => {
              const status = (online: boolean) => JSON.stringify({ online, agent_version: 'bench', backlog_readings: d.acked ? 0 : 10, clock_synced: true });
              const c = connect(`mqtt://127.0.0.1:${mqttPort}`, {
                clientId: d.id,
                username: d.id,
                password: PASSWORD,
                // As an agent does: a connection the broker drops (its CONNECT timeout while scrypt is queued) is retried.
                reconnectPeriod: 2000 + Math.floor(Math.random() * 1000),
                connectTimeout: 600_000,
                will: { topic: topics.status(d.id), payload: Buffer.from(status(false)), qos: 1, retain: true },
              });
              d.client = c;
              c.on('message', (_t, payload) => {
                for (const r of decodeAck(new Uint8Array(payload)).results) {
                  if (r.seq === 1 && r.status !== 'rejected' && !d.acked) {
                    d.acked = true;
                    acks++;
                  }
                }
              });
              c.on('error', () => {});
              c.once('connect', () => {
                c.subscribe(topics.ack(d.id), { qos: 1 });
                c.publish(topics.status(d.id), status(true), { qos: 1, retain: true });
                resolve();
              });
              c.on('reconnect', () => retries++);
            }),
        ),
      );

    let t = performance.now();
    await connectAll();
    out({ phase: 'cold-connect', devices: DEVICES, scrypt_n: SCRYPT_N, seconds: Math.round((performance.now() - t) / 100) / 10, connect_retries: retries, collector_peak_rss_mb: phase() });
    retries = 0;

    // The outage: every socket dies at once (no DISCONNECT: the broker publishes every will).
    for (const d of devices) d.client!.stream.destroy();
    for (const d of devices) d.client!.end(true);
    t = performance.now();
    await connectAll();
    out({ phase: 'reconnect-storm', devices: DEVICES, seconds: Math.round((performance.now() - t) / 100) / 10, connect_retries: retries, collector_peak_rss_mb: phase() });

    disk.fill();
    const send = () => {
      const now = performance.now();
      let n = 0;
      for (const d of devices) {
        if (d.acked || now - d.sentAt < RESEND_S * 1000) continue;
        d.sentAt = now;
        d.client!.publish(topics.batch(d.id), Buffer.from(d.payload), { qos: 1 });
        n++;
      }
      return n;
    };
    let sent = 0;
    t = performance.now();
    while (performance.now() - t < REFUSE_S * 1000) {
      sent += send();
      await new Promise((r) => setTimeout(r, 250));
    }
    const ready = await fetch(`${api}/readyz`).then(async (r) => ({ status: r.status, body: await r.text() }));
    out({
      phase: 'store-refusing',
      devices: DEVICES,
      seconds: REFUSE_S,
      batches_sent: sent,
      acked_while_full: acks,
      readyz: ready.status,
      collector_running: collector.running,
      collector_peak_rss_mb: phase(),
    });

    disk.free();
    t = performance.now();
    for (const d of devices) if (!d.acked) d.sentAt = 0; // the agent resends at once when the link is healthy again
    await waitFor(
      () => {
        sent += send();
        return acks === DEVICES;
      },
      { timeoutMs: 300_000, intervalMs: 250, description: 'every batch acked after the disk was freed' },
    );
    const recoverS = Math.round((performance.now() - t) / 100) / 10;
    const recoveredPeak = phase();
    const hwm = procStatus(collector.pid).hwmKb;
    for (const d of devices) d.client!.end(true);
    const exit = await collector.kill('SIGTERM', 15_000);
    const db = new Database(join(dataDir, 'stream.db'), { readonly: true });
    const rows = db.prepare('SELECT device, stream_id, seq FROM stream').all() as { device: string; stream_id: Buffer; seq: number }[];
    db.close();
    const stored = new Map<string, number>();
    for (const r of rows) stored.set(`${r.device}/${streamIdToHex(r.stream_id)}/${r.seq}`, (stored.get(`${r.device}/${streamIdToHex(r.stream_id)}/${r.seq}`) ?? 0) + 1);
    const ackedNotStored = devices.filter((d) => d.acked && !stored.has(`${d.id}/${streamIdToHex(d.streamId)}/1`)).length;
    const storedTwice = [...stored.values()].filter((n) => n > 1).length;
    out({
      phase: 'recovered',
      devices: DEVICES,
      seconds_to_all_acked: recoverS,
      batches_sent_total: sent,
      stored: rows.length,
      acked_not_stored: ackedNotStored,
      stored_twice: storedTwice,
      collector_exit_code: exit.code,
      collector_peak_rss_mb: recoveredPeak,
      collector_vm_hwm_mb: mb(hwm),
    });
    if (ackedNotStored > 0 || storedTwice > 0 || rows.length !== DEVICES) process.exitCode = 1;
  } finally {
    clearInterval(sampler);
    await reapAll();
    disk.unmount();
    await removeTempDirs();
  }
}

main().catch((err) => {
  process.stderr.write(`resource-pressure bench failed: ${(err as Error).stack ?? String(err)}\n`);
  process.exitCode = 1;
});
