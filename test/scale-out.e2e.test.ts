// The scale-out deployment: collector, aggregator and API as separate processes that share NOTHING on disk
// (each its own data_dir, as on separate hosts) — the stream in NATS JetStream, aggregates and device state
// in PostgreSQL. A reading from a real agent must reach the API process's /api/v1/aggregates and
// /api/v1/devices exactly once.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { freePort, startNatsServer, useProcessReaper, waitFor, type ManagedProcess } from '@tidemark/shared/testing';
import type { BucketItem } from '@tidemark/cloud';
import { dropSchemas, requirePostgres, schemaPrefix } from '../cloud/src/aggregate/testing/postgres.js';
import { CLOUD_BIN, getJson, startCli, writeYaml } from './support/cli.js';
import { fetchBuckets, setupCloud, setupEdge, waitForAggregated } from './support/pipeline.js';
import { readJetStream } from './support/stream-check.js';

const PREFIX = schemaPrefix();
let pgUrl: string | undefined;
afterAll(async () => {
  if (pgUrl) await dropSchemas(pgUrl, PREFIX);
});

describe('scale-out roles with nothing shared on disk', () => {
  useProcessReaper();

  it('collector, aggregator and API on separate data_dirs serve every reading exactly once', async () => {
    pgUrl = await requirePostgres();
    const nats = await startNatsServer();
    const jetstream = { servers: [nats.url], stream: 'TIDEMARK', partitions: 2 };
    const cloud = await setupCloud({ store: { type: 'jetstream', ...jetstream }, aggregates: { type: 'postgres', url: pgUrl, schema: `${PREFIX}_scale` } });
    const edge = setupEdge(cloud, 'gw-far', {
      sources: [{ type: 'simulated', name: 'sim', rate_hz: 20, seed: 3, sensors: [{ name: 'temp_c', shape: 'sine', min: 0, max: 10, period_s: 30, decimals: 3 }] }],
      batch: { max_readings: 50, max_delay_ms: 100 },
    });

    // One config per "host": the shared one with its own data_dir (the collector keeps the devices file).
    const base = parse(readFileSync(cloud.configPath, 'utf8')) as Record<string, unknown>;
    const hostConfig = (role: string) => writeYaml(join(cloud.dir, `${role}.yaml`), { ...base, data_dir: join(cloud.dir, `host-${role}`) });
    const start = async (role: string, listen: string): Promise<ManagedProcess> => {
      const config = role === 'collector' ? cloud.configPath : hostConfig(role);
      const p = startCli(role, CLOUD_BIN, ['run', '-c', config, '--role', role, '--listen', listen]);
      await p.waitForOutput('tidemark-cloud started', 60_000);
      return p;
    };
    const collector = await start('collector', `127.0.0.1:${await freePort()}`);
    const aggregator = await start('aggregator', `127.0.0.1:${await freePort()}`);
    const apiPort = await freePort();
    const api = `http://127.0.0.1:${apiPort}`;
    const apiRole = await start('api', `127.0.0.1:${apiPort}`);

    const agent = edge.start();
    await waitFor(
      async () => {
        const { body } = await getJson<{ items: { id: string; online: boolean; readings: number }[] }>(`${api}/api/v1/devices`);
        return body.items.find((d) => d.id === 'gw-far' && d.online && d.readings >= 200);
      },
      { timeoutMs: 30_000, description: 'the API process to see gw-far online with 200 readings (device state in PostgreSQL)' },
    );
    expect((await agent.kill('SIGTERM')).code, agent.output()).toBe(0);
    expect(edge.bufferStats().readings).toBe(0);

    const stored = await readJetStream(jetstream);
    const keys = new Set(stored.map((r) => `${r.sensor}/${r.ts}`));
    expect(keys.size).toBe(stored.length); // no reading stored twice
    const sensor = await waitForAggregated(api, 'gw-far', 'temp_c', stored.length);
    expect(sensor.readings).toBe(stored.length);
    const from = Math.min(...stored.map((r) => r.ts));
    const buckets = await fetchBuckets<BucketItem>(api, 'gw-far', 'temp_c', '1m', from - (from % 60_000), Date.now() + 60_000);
    expect(buckets.reduce((n, b) => n + b.count, 0)).toBe(stored.length);
    // The collector writes device state once a second: the API process sees the final count shortly after.
    await waitFor(
      async () => {
        const { body } = await getJson<{ items: { id: string; readings: number }[] }>(`${api}/api/v1/devices`);
        return body.items.find((d) => d.id === 'gw-far')?.readings === stored.length;
      },
      { timeoutMs: 10_000, description: `the device registry to count all ${stored.length} stored readings` },
    );

    for (const p of [apiRole, aggregator, collector]) expect((await p.kill('SIGTERM')).code, p.output()).toBe(0);
  });
});
