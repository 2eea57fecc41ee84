// Issue 13: the collector never dies of its environment. Real processes, real faults, and the collector is
// never restarted by the test: its data_dir on a small tmpfs filled mid-stream and then freed; its PostgreSQL
// (aggregates and device registry) stopped for 60 s and started again; its NATS server (JetStream stream
// store) killed for 60 s and started again. While a resource fails, /readyz answers 503 naming it and
// tidemark_cloud_resource_up{resource} is 0; the log has one line per state change, not one per batch.
// Afterwards every reading the agent produced is stored exactly once (a gap-free run of simulated ticks) and
// every 1m bucket the API serves equals one recomputed here from the stored readings.
import { afterEach, describe, expect, it } from 'vitest';
import { sampleSum, startNatsServer, useProcessReaper, waitFor } from '@tidemark/shared/testing';
import { writerLockHolderAt } from '../cloud/src/aggregate/testing/postgres.js';
import { setupCloud, setupEdge } from './support/pipeline.js';
import { startPrivatePostgres } from './support/private-postgres.js';
import { drainAndStop, expectExactlyOnce, metrics, RATE_HZ, readingsIn, readyz, SOURCE, stateChangeLines, waitDegraded, waitReady } from './support/resource-checks.js';
import { mountSmallDisk, type SmallDisk } from './support/small-disk.js';
import { readJetStream, readStream } from './support/stream-check.js';

/** The issue: PostgreSQL and NATS are away for a minute. */
const OUTAGE_MS = 60_000;

describe('the collector under resource faults (real processes, never restarted)', () => {
  useProcessReaper();
  const disks: SmallDisk[] = [];
  afterEach(() => {
    for (const d of disks.splice(0)) d.unmount();
  });

  it('data_dir on a small disk filled mid-stream, then freed: refuses, reports, resumes by itself', async () => {
    const cloud = await setupCloud();
    const disk = mountSmallDisk(cloud.dataDir, 32 * 1024 * 1024);
    disks.push(disk);
    const edge = setupEdge(cloud, 'gw-disk', { sources: [SOURCE], batch: { max_readings: 100, max_delay_ms: 100 } });
    const collector = await cloud.start();
    const agent = edge.start();
    await waitFor(async () => (await readingsIn(cloud.api, 'gw-disk')) >= 200, { timeoutMs: 30_000, description: 'readings flowing' });

    disk.fill();
    expect(disk.freeBytes()).toBe(0);
    const degraded = await waitDegraded(cloud.api, ['stream-store']);
    expect(degraded.failing!.find((f) => f.resource === 'stream-store')!.reason).toMatch(/full/i);
    expect(sampleSum(await metrics(cloud.api), 'tidemark_cloud_resource_up', 'resource="stream-store"')).toBe(0);
    // Nothing is acked while nothing can be stored: the agent keeps 20 s of readings in its own buffer.
    const before = edge.bufferStats().readings;
    await waitFor(() => edge.bufferStats().readings >= before + 20 * RATE_HZ, { timeoutMs: 60_000, intervalMs: 500, description: 'agent buffering while the disk is full' });
    expect(collector.running, collector.output()).toBe(true);
    expect((await readyz(cloud.api)).status).toBe(503);

    disk.free();
    await waitReady(cloud.api);
    await drainAndStop(edge, agent);
    await expectExactlyOnce(cloud, 'gw-disk', readStream(cloud.dataDir));

    const m = await metrics(cloud.api);
    expect(sampleSum(m, 'tidemark_cloud_resource_up', 'resource="stream-store"')).toBe(1);
    const unstored = sampleSum(m, 'tidemark_cloud_ingest_unstored_batches_total');
    const lines = stateChangeLines(collector, 'stream-store');
    expect(lines.failing).toBeGreaterThanOrEqual(1);
    expect(lines.recovered).toBe(lines.failing);
    // A full disk can let a small commit through now and then (SQLite reuses WAL space), and each such flap is
    // a state change; but the log stays far below one line per refused batch.
    expect(lines.failing).toBeLessThanOrEqual(5);
    expect(unstored).toBeGreaterThanOrEqual(20 * lines.failing);
    expect(collector.output()).not.toMatch(/SqliteError|uncaught|unhandled/i);
    expect((await collector.kill('SIGTERM')).code, collector.output()).toBe(0);
  }, 300_000);

  it('PostgreSQL (aggregates, device registry) stopped for 60 s and started again: ingest goes on, aggregates catch up', async () => {
    const pg = await startPrivatePostgres();
    const cloud = await setupCloud({ aggregates: { type: 'postgres', url: pg.url } });
    const edge = setupEdge(cloud, 'gw-pg', { sources: [SOURCE], batch: { max_readings: 100, max_delay_ms: 100 } });
    const collector = await cloud.start();
    const agent = edge.start();
    await waitFor(async () => (await readingsIn(cloud.api, 'gw-pg')) >= 200, { timeoutMs: 30_000, description: 'readings flowing' });

    await pg.fastStop();
    const degraded = await waitDegraded(cloud.api, ['aggregate-store', 'device-registry']);
    expect(degraded.failing!.map((f) => f.resource)).not.toContain('stream-store');
    const m0 = await metrics(cloud.api);
    expect(sampleSum(m0, 'tidemark_cloud_resource_up', 'resource="aggregate-store"')).toBe(0);
    expect(sampleSum(m0, 'tidemark_cloud_resource_up', 'resource="device-registry"')).toBe(0);
    // The stream store (SQLite here) still works: readings keep being stored and acked through the outage.
    const storedAtStop = readStream(cloud.dataDir).length;
    await waitFor(() => readStream(cloud.dataDir).length >= storedAtStop + (OUTAGE_MS / 1000) * RATE_HZ, {
      timeoutMs: OUTAGE_MS + 60_000,
      intervalMs: 1000,
      description: 'a minute of readings stored while PostgreSQL is down',
    });
    expect(collector.running, collector.output()).toBe(true);
    expect((await readyz(cloud.api)).status).toBe(503);

    await pg.restart();
    await waitReady(cloud.api);
    await drainAndStop(edge, agent);
    await expectExactlyOnce(cloud, 'gw-pg', readStream(cloud.dataDir));
    // The aggregator took its writer lock again on a new session before it wrote again (postgres-writer-session.ts).
    expect((await writerLockHolderAt(pg.url, 'tidemark'))?.application_name).toMatch(new RegExp(`^tidemark-cloud aggregator pid ${collector.pid} `));
    for (const resource of ['aggregate-store', 'device-registry']) {
      const lines = stateChangeLines(collector, resource);
      expect(lines, resource).toEqual({ failing: 1, recovered: 1 });
    }
    expect((await collector.kill('SIGTERM')).code, collector.output()).toBe(0);
    await pg.fastStop();
  }, 360_000);

  it('NATS killed for 60 s under the JetStream store, then started again: nothing acked that was not stored', async () => {
    const nats = await startNatsServer();
    const jetstream = { servers: [nats.url], stream: 'TIDEMARK', partitions: 1, replicas: 1 };
    const cloud = await setupCloud({ store: { type: 'jetstream', ...jetstream } });
    const edge = setupEdge(cloud, 'gw-nats', { sources: [SOURCE], batch: { max_readings: 100, max_delay_ms: 100 } });
    const collector = await cloud.start();
    const agent = edge.start();
    await waitFor(async () => (await readingsIn(cloud.api, 'gw-nats')) >= 200, { timeoutMs: 30_000, description: 'readings flowing' });

    await nats.kill();
    const degraded = await waitDegraded(cloud.api, ['stream-store']);
    expect(degraded.failing!.length).toBeGreaterThanOrEqual(1);
    expect(sampleSum(await metrics(cloud.api), 'tidemark_cloud_resource_up', 'resource="stream-store"')).toBe(0);
    // A minute of readings stays in the agent's buffer: the collector acks nothing it could not store.
    const before = edge.bufferStats().readings;
    await waitFor(() => edge.bufferStats().readings >= before + (OUTAGE_MS / 1000) * RATE_HZ, {
      timeoutMs: OUTAGE_MS + 60_000,
      intervalMs: 1000,
      description: 'agent buffering a minute while NATS is down',
    });
    expect(collector.running, collector.output()).toBe(true);
    expect((await readyz(cloud.api)).status).toBe(503);

    await nats.restart();
    await waitReady(cloud.api, 90_000);
    await drainAndStop(edge, agent);
    await expectExactlyOnce(cloud, 'gw-nats', await readJetStream(jetstream));
    const lines = stateChangeLines(collector, 'stream-store');
    expect(lines.failing).toBeGreaterThanOrEqual(1);
    expect(lines.failing).toBeLessThanOrEqual(3);
    expect(lines.recovered).toBe(lines.failing);
    expect((await collector.kill('SIGTERM')).code, collector.output()).toBe(0);
  }, 360_000);
});
