// Aggregate retention through the real collector process: `aggregation.retention` from the config file
// decides which resolutions a reading still reaches. A backlog older than the 1m retention updates 1h and 1d
// buckets but never creates a (partial) 1m bucket; it is counted, and every reading stays in the stream.
import { connectAsync } from 'mqtt';
import { describe, expect, it } from 'vitest';
import { decodeAck, encodeBatch, newStreamId, topics } from '@tidemark/proto';
import { sampleSum, useProcessReaper, waitFor } from '@tidemark/shared/testing';
import type { BucketItem } from '@tidemark/cloud';
import { CLOUD_BIN, runCli } from './support/cli.js';
import { fetchBuckets, setupCloud } from './support/pipeline.js';
import { readStream } from './support/stream-check.js';

const MINUTE = 60_000;
const HOUR = 3_600_000;

async function metric(api: string, name: string, labels = ''): Promise<number> {
  return sampleSum(await (await fetch(`${api}/metrics`)).text(), name, labels);
}

describe('aggregate retention in the collector', () => {
  useProcessReaper();

  it('keeps a backlog older than the 1m retention out of 1m buckets, in 1h/1d, counted, and in the stream', async () => {
    const cloud = await setupCloud({ aggregation: { retention: { '1m': '1h', '1h': '30d' } } });
    const password = cloud.addDevice('gw-old');
    const collector = await cloud.start();
    const client = await connectAsync(cloud.mqttUrl, { clientId: 'gw-old', username: 'gw-old', password, reconnectPeriod: 0 });
    const acks: string[] = [];
    client.on('message', (_t, p) => acks.push(...decodeAck(new Uint8Array(p)).results.map((r) => r.status)));
    await client.subscribeAsync(topics.ack('gw-old'), { qos: 1 });

    // One batch of fresh readings (the last 10 minutes) and one of a 3-hour-old backlog.
    const now = Date.now();
    const streamId = newStreamId();
    const fresh = Array.from({ length: 10 }, (_, i) => ({ sensor: 'temp_c', ts: now - (10 - i) * MINUTE, value: i }));
    const old = Array.from({ length: 10 }, (_, i) => ({ sensor: 'temp_c', ts: now - 3 * HOUR + i * MINUTE, value: 100 + i }));
    for (const [seq, readings] of [[1, fresh], [2, old]] as const) {
      const payload = encodeBatch({ deviceId: 'gw-old', streamId, seq, clock: { synced: true, anchorWallMs: now, anchorMonoMs: 0 }, readings: [...readings] });
      await client.publishAsync(topics.batch('gw-old'), Buffer.from(payload), { qos: 1 });
    }
    await waitFor(() => acks.length === 2, { timeoutMs: 15_000, description: 'both batches acked' });
    expect(acks).toEqual(['ok', 'ok']);
    await waitFor(async () => (await metric(cloud.api, 'tidemark_cloud_aggregated_readings_total')) === 20, {
      timeoutMs: 15_000,
      description: 'all 20 readings aggregated',
    });

    const range = [now - 4 * HOUR, now + HOUR] as const;
    const minutes = await fetchBuckets<BucketItem>(cloud.api, 'gw-old', 'temp_c', '1m', ...range);
    expect(minutes.reduce((n, b) => n + b.count, 0)).toBe(10); // only the fresh readings
    expect(minutes.every((b) => Date.parse(b.start) >= now - HOUR)).toBe(true);
    const hours = await fetchBuckets<BucketItem>(cloud.api, 'gw-old', 'temp_c', '1h', ...range);
    expect(hours.reduce((n, b) => n + b.count, 0)).toBe(20);
    expect(hours.reduce((n, b) => n + b.sum, 0)).toBe(45 + 1045);
    expect(await metric(cloud.api, 'tidemark_cloud_bucket_updates_outside_retention_total', 'resolution="1m"')).toBe(10);

    await client.endAsync();
    expect((await collector.kill('SIGTERM')).code, collector.output()).toBe(0);
    expect(readStream(cloud.dataDir)).toHaveLength(20); // retention of aggregates never touches the stream
  });

  it('refuses a retention for a resolution that is not configured, naming the key (exit 2)', async () => {
    const cloud = await setupCloud({ aggregation: { resolutions: ['1m', '1h'], retention: { '5m': '7d' } } });
    for (const command of ['validate', 'run']) {
      const r = runCli(CLOUD_BIN, [command, '-c', cloud.configPath]);
      expect(r.code, `${command}: ${r.stderr}`).toBe(2);
      expect(r.stderr).toMatch(/aggregation\.retention\.5m: "5m" is not one of aggregation\.resolutions \(1m, 1h\)/);
    }
  });
});
