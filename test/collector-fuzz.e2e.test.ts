// Broken and hostile payloads through the real broker into the real collector: random bytes and mutated
// valid batches (bit flips, truncations, insertions). The collector never crashes; every payload gets
// exactly one outcome — stored (ok/duplicate), rejected (dead-lettered and acked `rejected`) or undecodable
// (dead-lettered) — and a valid batch afterwards is still stored and acked.
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { connectAsync } from 'mqtt';
import { describe, expect, it } from 'vitest';
import { decodeAck, encodeBatch, newStreamId, topics } from '@tidemark/proto';
import { mulberry32 } from '@tidemark/shared';
import { useProcessReaper, waitFor } from '@tidemark/shared/testing';
import { setupCloud } from './support/pipeline.js';

const N_RANDOM = 100;
const N_MUTATED = 200;

function mutate(bytes: Uint8Array, rand: () => number): Uint8Array {
  const out = Array.from(bytes);
  const edits = 1 + Math.floor(rand() * 4);
  for (let e = 0; e < edits; e++) {
    const at = Math.floor(rand() * out.length);
    const kind = rand();
    if (kind < 0.5) out[at] = out[at]! ^ (1 << Math.floor(rand() * 8));
    else if (kind < 0.7) out.splice(at, 1 + Math.floor(rand() * 8));
    else if (kind < 0.9) out.splice(at, 0, Math.floor(rand() * 256));
    else out.length = at; // truncation
  }
  return Uint8Array.from(out);
}

describe('collector under fuzzed MQTT payloads', () => {
  useProcessReaper();

  it('gives every payload exactly one outcome and keeps serving', async () => {
    const cloud = await setupCloud();
    const password = cloud.addDevice('gw-fuzz');
    const collector = await cloud.start();
    const client = await connectAsync(cloud.mqttUrl, { clientId: 'gw-fuzz', username: 'gw-fuzz', password, reconnectPeriod: 0 });
    const acks: { seq: number; status: string }[] = [];
    client.on('message', (_t, p) => acks.push(...decodeAck(new Uint8Array(p)).results));
    await client.subscribeAsync(topics.ack('gw-fuzz'), { qos: 1 });

    const rand = mulberry32(20261127);
    const streamId = newStreamId();
    const valid = (seq: number) =>
      encodeBatch({
        deviceId: 'gw-fuzz',
        streamId,
        seq,
        clock: { synced: true, anchorWallMs: Date.now(), anchorMonoMs: 0 },
        readings: Array.from({ length: 50 }, (_, i) => ({ sensor: i % 2 ? 'temp_c' : 'rpm', ts: Date.now() - 60_000 + i * 100, value: Math.round(rand() * 10_000) / 100 })),
      });
    for (let i = 0; i < N_RANDOM; i++) {
      await client.publishAsync(topics.batch('gw-fuzz'), Buffer.from(Array.from({ length: Math.floor(rand() * 300) }, () => Math.floor(rand() * 256))), { qos: 1 });
    }
    for (let i = 0; i < N_MUTATED; i++) await client.publishAsync(topics.batch('gw-fuzz'), Buffer.from(mutate(valid(1 + i), rand)), { qos: 1 });

    const outcomes = async () => {
      const text = await (await fetch(`${cloud.api}/metrics`)).text();
      let total = 0;
      for (const m of text.matchAll(/^tidemark_cloud_batches_total\{status="(\w+)"\} (\d+)$/gm)) total += Number(m[2]);
      return total;
    };
    await waitFor(async () => (await outcomes()) === N_RANDOM + N_MUTATED, { timeoutMs: 30_000, description: 'an outcome for every payload' });
    expect(collector.running).toBe(true);

    // Still healthy: a valid batch with a fresh seq is stored and acked ok.
    await client.publishAsync(topics.batch('gw-fuzz'), Buffer.from(valid(10_000)), { qos: 1 });
    await waitFor(() => acks.find((a) => a.seq === 10_000), { description: 'ack for the valid batch' });
    expect(acks.find((a) => a.seq === 10_000)!.status).toBe('ok');
    client.end(true);

    const text = await (await fetch(`${cloud.api}/metrics`)).text();
    const count = (status: string) => Number(new RegExp(`tidemark_cloud_batches_total\\{status="${status}"\\} (\\d+)`).exec(text)?.[1] ?? 0);
    expect((await collector.kill('SIGTERM')).code).toBe(0);
    const db = new Database(join(cloud.dataDir, 'stream.db'), { readonly: true });
    try {
      const dead = (db.prepare('SELECT count(*) AS n FROM dead_letters').get() as { n: number }).n;
      const stored = (db.prepare('SELECT count(*) AS n FROM stream').get() as { n: number }).n;
      expect(dead).toBe(count('rejected') + count('undecodable'));
      expect(stored).toBe(count('ok'));
      expect(count('undecodable')).toBeGreaterThan(N_RANDOM / 2);
    } finally {
      db.close();
    }
  });
});
