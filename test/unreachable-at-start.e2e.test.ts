// Issue 13 follow-up: PostgreSQL (aggregates, device registry) and NATS (JetStream stream store) are not
// running yet when `tidemark-cloud run` starts. The collector starts anyway, degraded: /healthz 200, /readyz
// 503 naming every missing resource, resource_up 0, batches that arrive refused unacked (the agent keeps
// them buffered). NATS is then started, later PostgreSQL (initdb and all), on the ports configured from the
// start; the collector becomes ready by itself, and every reading the agent produced is stored and
// aggregated exactly once. One "failing" and one "recovered" log line per resource. Real processes throughout.
import { describe, expect, it } from 'vitest';
import { freePort, makeTempDir, sampleSum, startNatsServer, useProcessReaper, waitFor } from '@tidemark/shared/testing';
import { CLOUD_BIN, getJson, runCli, startCli } from './support/cli.js';
import { setupCloud, setupEdge } from './support/pipeline.js';
import { startPrivatePostgres } from './support/private-postgres.js';
import { drainAndStop, expectExactlyOnce, metrics, RATE_HZ, readyz, SOURCE, stateChangeLines, waitDegraded, waitReady } from './support/resource-checks.js';
import { readJetStream } from './support/stream-check.js';

const RESOURCES = ['stream-store', 'aggregate-store', 'device-registry'];

describe('the collector started before its servers', () => {
  useProcessReaper();

  it('PostgreSQL and NATS not running at start: degraded, nothing acked, ready by itself once they are, every reading once', async () => {
    const [pgPort, natsPort] = [await freePort(), await freePort()];
    const natsDir = await makeTempDir('tidemark-nats-');
    const jetstream = { servers: [`nats://127.0.0.1:${natsPort}`], stream: 'TIDEMARK', partitions: 1, replicas: 1 };
    const cloud = await setupCloud({
      store: { type: 'jetstream', ...jetstream },
      aggregates: { type: 'postgres', url: `postgres://postgres@127.0.0.1:${pgPort}/postgres` },
    });
    const edge = setupEdge(cloud, 'gw-early', { sources: [SOURCE], batch: { max_readings: 100, max_delay_ms: 100 } });
    const collector = startCli('collector', CLOUD_BIN, ['run', '-c', cloud.configPath]);

    await waitFor(async () => (await fetch(`${cloud.api}/healthz`).catch(() => undefined))?.ok, { timeoutMs: 20_000, description: '/healthz 200' });
    const degraded = await waitDegraded(cloud.api, RESOURCES);
    const reason = (r: string) => degraded.failing!.find((f) => f.resource === r)!.reason;
    expect(reason('stream-store')).toMatch(new RegExp(`NATS at nats://127.0.0.1:${natsPort}`));
    expect(reason('aggregate-store')).toMatch(/ECONNREFUSED|cannot connect to PostgreSQL/);
    const m0 = await metrics(cloud.api);
    for (const r of RESOURCES) expect(sampleSum(m0, 'tidemark_cloud_resource_up', `resource="${r}"`), r).toBe(0);
    // The API says what it cannot read yet is unavailable (not a 500, not an empty answer).
    expect((await fetch(`${cloud.api}/api/v1/aggregates?device=gw-early&sensor=level&resolution=1m&from=2020-01-01T00:00:00Z&to=2030-01-01T00:00:00Z`)).status).toBe(503);
    const devices = await getJson<{ error: { code: string } }>(`${cloud.api}/api/v1/devices`);
    expect([devices.status, devices.body.error.code]).toEqual([503, 'unavailable']);

    // The agent connects and sends; nothing is acked: its buffer grows, and the collector counts what it refused.
    const agent = edge.start();
    await waitFor(() => edge.bufferStats().readings >= 5 * RATE_HZ, { timeoutMs: 30_000, intervalMs: 250, description: 'agent buffering while nothing can be stored' });
    await waitFor(async () => sampleSum(await metrics(cloud.api), 'tidemark_cloud_ingest_unstored_batches_total', 'reason="store_failing"') > 0, {
      timeoutMs: 30_000,
      description: 'batches refused unacked',
    });
    expect(sampleSum(await metrics(cloud.api), 'tidemark_cloud_batches_total', 'status="ok"')).toBe(0);

    // NATS first: ingest resumes (the stream store recovers) while PostgreSQL is still missing.
    const nats = await startNatsServer({ port: natsPort, dataDir: natsDir });
    await waitFor(
      async () => {
        const failing = (await readyz(cloud.api)).body.failing?.map((f) => f.resource) ?? [];
        return !failing.includes('stream-store') && failing.includes('aggregate-store');
      },
      { timeoutMs: 30_000, intervalMs: 250, description: 'stream store recovered, aggregate store still failing' },
    );
    const pg = await startPrivatePostgres({ port: pgPort });
    await waitReady(cloud.api);
    const m1 = await metrics(cloud.api);
    for (const r of RESOURCES) expect(sampleSum(m1, 'tidemark_cloud_resource_up', `resource="${r}"`), r).toBe(1);

    await drainAndStop(edge, agent);
    await expectExactlyOnce(cloud, 'gw-early', await readJetStream(jetstream));
    for (const r of RESOURCES) expect(stateChangeLines(collector, r), r).toEqual({ failing: 1, recovered: 1 });
    expect(collector.output()).not.toMatch(/uncaught|unhandled/i);
    expect((await collector.kill('SIGTERM')).code, collector.output()).toBe(0);
    await pg.fastStop();
    await nats.stop();
  }, 120_000);

  it('SIGTERM while still waiting for its servers: clean exit 0 within the 10 s budget', async () => {
    const cloud = await setupCloud({
      store: { type: 'jetstream', servers: [`nats://127.0.0.1:${await freePort()}`], stream: 'TIDEMARK', partitions: 1, replicas: 1 },
      aggregates: { type: 'postgres', url: `postgres://postgres@127.0.0.1:${await freePort()}/postgres` },
    });
    const collector = startCli('collector', CLOUD_BIN, ['run', '-c', cloud.configPath]);
    await waitDegraded(cloud.api, RESOURCES);
    const t0 = Date.now();
    expect((await collector.kill('SIGTERM', 10_000)).code, collector.output()).toBe(0);
    expect(Date.now() - t0).toBeLessThan(10_000);
  }, 60_000);

  it('a server that answers and refuses the credentials or database is a config error: exit 2 naming the setting', async () => {
    const nats = await startNatsServer({ args: ['--user', 'tidemark', '--pass', 'right'] });
    const wrongNats = await setupCloud({ store: { type: 'jetstream', servers: [nats.url], username: 'tidemark', password: 'wrong' } });
    const a = runCli(CLOUD_BIN, ['run', '-c', wrongNats.configPath]);
    expect(a.code, a.stderr).toBe(2);
    expect(a.stderr).toMatch(/store: the server refused the configured credentials or database: .*Authorization Violation/i);
    await nats.stop();

    const pg = await startPrivatePostgres();
    const noDb = await setupCloud({ aggregates: { type: 'postgres', url: `postgres://postgres@127.0.0.1:${pg.port}/no_such_db` } });
    const b = runCli(CLOUD_BIN, ['run', '-c', noDb.configPath]);
    expect(b.code, b.stderr).toBe(2);
    expect(b.stderr).toMatch(/aggregates\.url: the server refused the configured credentials or database: .*database "no_such_db" does not exist/);
    await pg.fastStop();
  }, 60_000);
});
