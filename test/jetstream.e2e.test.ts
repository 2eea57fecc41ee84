// The JetStream stream store under faults, with real processes only: a 3-node NATS cluster (replicas 3, 3
// partitions) loses a partition's stream leader and then the collector process mid-stream, with the
// collector, aggregator and API as separate roles; afterwards every batch each agent sealed is in the stream
// exactly once, the API serves buckets equal to a recomputation from the stored readings, and a replay
// reproduces the API output byte for byte. Then, on a single server, the collector dies between its commit
// and its acks, and the resent batch is stored once.
import { connect, type JetStreamManager } from 'nats';
import { describe, expect, it } from 'vitest';
import { freePort, sampleSum, startNatsCluster, startNatsServer, useProcessReaper, waitFor, type ManagedProcess } from '@tidemark/shared/testing';
import type { BucketItem as Bucket } from '@tidemark/cloud';
import { partitionStreamName } from '../cloud/src/store/open-stream-store.js';
import { partitionOf } from '../cloud/src/store/partitioned-stream-store.js';
import { CLOUD_BIN, getJson, startCli } from './support/cli.js';
import { fetchBuckets, setupCloud, setupEdge, waitForAggregated, type CloudSetup, type EdgeSetup } from './support/pipeline.js';
import { expectBucketsMatch, expectContiguousRuns, expectNoDuplicateReadings, readJetStream, type StoredReading } from './support/stream-check.js';

const RATE_HZ = 20;
const STEP = 1000 / RATE_HZ;
const PARTITIONS = 3;
const SENSOR = 'level';
const source = (seed: number) => ({
  type: 'simulated',
  name: 'sim',
  rate_hz: RATE_HZ,
  seed,
  sensors: [{ name: SENSOR, shape: 'random_walk', min: 0, max: 100, decimals: 2 }],
});

/** One device per partition (`gw-<n>` whose FNV-1a hash lands there), so every partition carries traffic. */
function devicePerPartition(): string[] {
  const byPartition = new Map<number, string>();
  for (let n = 1; byPartition.size < PARTITIONS; n++) {
    const p = partitionOf(`gw-${n}`, PARTITIONS);
    if (!byPartition.has(p)) byPartition.set(p, `gw-${n}`);
  }
  return [...byPartition.keys()].sort((a, b) => a - b).map((p) => byPartition.get(p)!);
}

type Role = 'collector' | 'aggregator' | 'api';

/**
 * `tidemark-cloud run --role <role>` on the shared config; resolves once the process says it started. The
 * api role listens on api.listen; the others serve /metrics on a port of their own (`--listen`), kept across
 * restarts: `metricsUrl(role)`.
 */
async function roleStarter(cloud: CloudSetup) {
  const starts = new Map<Role, number>();
  const ports = new Map<Role, number>([
    ['collector', await freePort()],
    ['aggregator', await freePort()],
  ]);
  const start = async (role: Role): Promise<ManagedProcess> => {
    const n = (starts.get(role) ?? 0) + 1;
    starts.set(role, n);
    const listen = ports.has(role) ? ['--listen', `127.0.0.1:${ports.get(role)}`] : [];
    const p = startCli(`${role}#${n}`, CLOUD_BIN, ['run', '-c', cloud.configPath, '--role', role, ...listen]);
    await p.waitForOutput('tidemark-cloud started', 60_000);
    return p;
  };
  const metrics = async (role: Role): Promise<string> =>
    (await fetch(ports.has(role) ? `http://127.0.0.1:${ports.get(role)}/metrics` : `${cloud.api}/metrics`)).text();
  return { start, metrics };
}


async function withJsm<T>(servers: string[], fn: (jsm: JetStreamManager) => Promise<T>): Promise<T> {
  const nc = await connect({ servers, timeout: 5_000 });
  try {
    return await fn(await nc.jetstreamManager());
  } finally {
    await nc.close();
  }
}

/** Readings stored per device, as the collector records them in devices.db (served by the api role). */
async function storedCounts(api: string): Promise<Map<string, number>> {
  const { body } = await getJson<{ items: { id: string; readings: number }[] }>(`${api}/api/v1/devices`);
  return new Map(body.items.map((d) => [d.id, d.readings]));
}

async function waitForProgress(api: string, devices: string[], perDevice: number, description: string): Promise<void> {
  const before = await storedCounts(api);
  await waitFor(
    async () => {
      const now = await storedCounts(api);
      return devices.every((d) => (now.get(d) ?? 0) >= (before.get(d) ?? 0) + perDevice);
    },
    { timeoutMs: 60_000, intervalMs: 250, description },
  );
}

/**
 * Every batch the agent sealed (seq 1 … next_seq-1; its buffer is empty, so all were acked) is stored
 * exactly once, the readings form one gap-free run of ticks, and the API's 1m buckets equal a recomputation
 * from the stored readings.
 */
async function expectDeliveredOnce(api: string, device: string, edge: EdgeSetup, stored: readonly StoredReading[]): Promise<Bucket[]> {
  const stats = edge.bufferStats();
  expect(stats.readings).toBe(0);
  const mine = stored.filter((r) => r.device === device);
  expect(new Set(mine.map((r) => r.stream)).size).toBe(1);
  const seqs = [...new Set(mine.map((r) => r.seq))].sort((a, b) => a - b);
  expect(seqs).toEqual(Array.from({ length: stats.next_seq - 1 }, (_, i) => i + 1));
  expectNoDuplicateReadings(mine);
  const [run] = expectContiguousRuns(mine.map((r) => r.ts), STEP, 1);
  expect(mine.length).toBe((run![1] - run![0]) / STEP + 1);
  const info = await waitForAggregated(api, device, SENSOR, mine.length, 30_000);
  expect([Date.parse(info.first_seen), Date.parse(info.last_seen)]).toEqual(run);
  const buckets = await fetchBuckets<Bucket>(api, device, SENSOR, '1m', run![0] - 60_000, run![1] + 60_000);
  expectBucketsMatch(buckets, mine);
  // The run is shorter than allowed_lateness (5m): no bucket can be final yet, so no reading was late.
  expect(buckets.filter((b) => b.revision !== 0 || b.final)).toEqual([]);
  return buckets;
}

describe('JetStream stream store end to end (real processes, SIGKILL)', () => {
  useProcessReaper();

  it('a 3-node JetStream cluster survives a node and a collector being killed mid-stream; replay reproduces the aggregates', async () => {
    const cluster = await startNatsCluster();
    const jetstream = { servers: cluster.urls, stream: 'TIDEMARK', partitions: PARTITIONS, replicas: 3 };
    const cloud = await setupCloud({ store: { type: 'jetstream', ...jetstream } });
    const devices = devicePerPartition();
    const edges = devices.map((d, i) => setupEdge(cloud, d, { sources: [source(21 + i)], batch: { max_readings: 50, max_delay_ms: 100 } }));
    const roles = await roleStarter(cloud);
    const startRole = roles.start;
    // The collector creates the streams; the read-only roles expect them.
    let collector = await startRole('collector');
    let aggregator = await startRole('aggregator');
    let apiRole = await startRole('api');
    const api = cloud.api;
    const agents = edges.map((e) => e.start());
    await waitForProgress(api, devices, 100, 'readings flowing from every agent');

    // Kill the node leading partition 0's stream (the worst one to lose); the others must elect and go on.
    const streams = devices.map((_, k) => partitionStreamName(jetstream.stream, k, PARTITIONS));
    const leader = await withJsm(cluster.urls, async (jsm) => (await jsm.streams.info(streams[0]!)).cluster?.leader);
    const victim = cluster.servers.find((s) => s.process.commandLine.includes(`-n ${leader} `));
    expect(victim, `leader ${leader}`).toBeDefined();
    await victim!.kill();
    await waitForProgress(api, devices, 100, 'readings stored with a NATS node down');
    await victim!.restart();
    const live = cluster.servers.filter((s) => s !== victim).map((s) => s.url);
    await waitFor(
      () =>
        withJsm(live, async (jsm) => {
          for (const s of streams) {
            const c = (await jsm.streams.info(s)).cluster;
            if (!c?.leader || c.replicas?.length !== 2 || !c.replicas.every((r) => r.current)) return false;
          }
          return true;
        }),
      { timeoutMs: 30_000, intervalMs: 500, description: 'the restarted node to rejoin every partition' },
    );

    // Now the collector process dies mid-stream: the agents keep buffering and resend after its restart.
    await collector.sigkill();
    collector = await startRole('collector');
    await waitForProgress(api, devices, 100, 'readings stored after the collector restart');
    await waitFor(() => edges.every((e) => e.bufferStats().readings < 100), { timeoutMs: 30_000, intervalMs: 500, description: 'agents caught up' });
    for (const [i, agent] of agents.entries()) expect((await agent.kill('SIGTERM')).code, `${devices[i]}: ${agent.output()}`).toBe(0);

    const stored = await readJetStream(jetstream);
    expect(new Set(stored.map((r) => r.device))).toEqual(new Set(devices));
    for (const [i, d] of devices.entries()) await expectDeliveredOnce(api, d, edges[i]!, stored);
    // Every reading was aggregated (synced clocks, nothing in the future), none late; the separate roles'
    // own /metrics say so (the aggregator's since its start, the collector's since its restart).
    await waitFor(async () => sampleSum(await roles.metrics('aggregator'), 'tidemark_cloud_aggregated_readings_total') === stored.length, {
      timeoutMs: 10_000,
      description: `the aggregator's counter to reach the ${stored.length} stored readings`,
    });
    const aggMetrics = await roles.metrics('aggregator');
    expect(sampleSum(aggMetrics, 'tidemark_cloud_unaggregated_readings_total')).toBe(0);
    expect(sampleSum(aggMetrics, 'tidemark_cloud_late_readings_total')).toBe(0);
    expect(sampleSum(await roles.metrics('collector'), 'tidemark_cloud_batches_total')).toBeGreaterThan(0);

    // Replay: with the aggregator stopped, rebuild from the stream; the API must answer byte for byte the same.
    expect((await aggregator.kill('SIGTERM')).code, aggregator.output()).toBe(0);
    const snapshot = async () => {
      const out: string[] = [];
      const [from, to] = [new Date(Date.now() - 86_400_000).toISOString(), new Date(Date.now() + 86_400_000).toISOString()];
      for (const device of devices) {
        for (const resolution of ['1m', '1h']) {
          const q = new URLSearchParams({ device, sensor: SENSOR, resolution, from, to });
          out.push(await (await fetch(`${api}/api/v1/aggregates?${q}`)).text());
        }
        out.push(await (await fetch(`${api}/api/v1/devices/${device}/sensors`)).text());
      }
      return out;
    };
    const before = await snapshot();
    expect(before[0]).toContain('"count"');
    // Spawned, not spawnSync: a replay that hangs must fail the test at a deadline, not stall the worker.
    const replay = startCli('replay', CLOUD_BIN, ['replay', '-c', cloud.configPath]);
    await replay.waitForOutput(/^replayed \d+ stream records/m, 60_000);
    await waitFor(() => !replay.running, { timeoutMs: 10_000, description: 'replay to exit after printing its result' });
    expect((await replay.exited).code, replay.output()).toBe(0);
    // The running api role follows the replayed aggregates.db renamed into place.
    expect(await snapshot()).toEqual(before);
    aggregator = await startRole('aggregator');
    await waitForAggregated(api, devices[0]!, SENSOR, stored.filter((r) => r.device === devices[0]).length);
    expect(await snapshot()).toEqual(before);

    for (const p of [apiRole, aggregator, collector]) expect((await p.kill('SIGTERM')).code, p.output()).toBe(0);
  }, 180_000);

  it('collector killed between its commit and its acks, on JetStream: the agent resends and the batch is stored once', async () => {
    const nats = await startNatsServer();
    const jetstream = { servers: [nats.url], stream: 'TIDEMARK', partitions: 1 };
    const cloud = await setupCloud({ store: { type: 'jetstream', ...jetstream } });
    const edge = setupEdge(cloud, 'gw-commit', { sources: [source(5)], batch: { max_readings: 50, max_delay_ms: 50 } });
    // Fault injection: the collector SIGKILLs itself right after its 3rd stream commit, before any ack of it.
    let collector = await cloud.start({ TIDEMARK_FAULT_KILL_AFTER_COMMIT: '3' });
    const agent = edge.start();
    const died = await collector.exited;
    expect(died.signal, collector.output()).toBe('SIGKILL');
    expect(collector.output()).toContain('fault injection: SIGKILL between commit and ack');
    const committedBeforeCrash = (await readJetStream(jetstream)).length;
    expect(committedBeforeCrash).toBeGreaterThan(0);

    collector = await cloud.start();
    const metrics = async () => (await fetch(`${cloud.api}/metrics`)).text();
    await waitFor(async () => /tidemark_cloud_duplicates_total [1-9]/.test(await metrics()), {
      timeoutMs: 30_000,
      description: 'the resent, already-committed batch acked as duplicate',
    });
    await waitFor(async () => (await readJetStream(jetstream)).length >= committedBeforeCrash + 200, {
      timeoutMs: 30_000,
      intervalMs: 500,
      description: 'more batches after the restart',
    });
    expect((await agent.kill('SIGTERM')).code, agent.output()).toBe(0);
    await expectDeliveredOnce(cloud.api, 'gw-commit', edge, await readJetStream(jetstream));
    const text = await metrics();
    expect(text).toMatch(/^tidemark_cloud_late_readings_total 0$/m);
    expect(text).not.toMatch(/^tidemark_cloud_unaggregated_readings_total\{[^}]*\} [1-9]/m);
    expect((await collector.kill('SIGTERM')).code, collector.output()).toBe(0);
  });

  it('every role still stops cleanly on SIGTERM when NATS is gone (exit 0 within 10 s)', async () => {
    const nats = await startNatsServer();
    const cloud = await setupCloud({ store: { type: 'jetstream', servers: [nats.url], stream: 'TIDEMARK', partitions: 2 } });
    const roles = await roleStarter(cloud);
    const running = [await roles.start('collector'), await roles.start('aggregator'), await roles.start('api')];
    await nats.kill();
    // SPEC: SIGTERM → exit 0 within 10 s; kill() SIGKILLs after that deadline, and the exit code says so.
    for (const p of running) expect((await p.kill('SIGTERM', 10_000)).code, p.output()).toBe(0);
  });
});
