// buffer.persist: unacked with the agent's real buffer and an injected link: the commit queue is sealed and sent
// before any write; a batch the collector acks before its readings' commit deadline is never written, one it
// does not ack is written by then with the bytes that were sent; persist: all, or a link that is down, commits
// as before. Nothing is lost or doubled on the way: every published reading is in exactly one batch.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { decodeBatch, encodeAck, topics } from '@tidemark/proto';
import { counterValue, createLogger, MetricsRegistry } from '@tidemark/shared';
import { waitFor } from '@tidemark/shared/testing';
import { afterEach, describe, expect, it } from 'vitest';
import { Agent } from './agent.js';
import { SqliteBuffer } from './buffer/sqlite-buffer.js';
import { doctorConfig } from './doctor/test-support/doctor-config.js';
import type { UplinkEvents } from './uplink/uplink.js';
import { FakeUplink } from './uplink/test-support/fake-uplink.js';

const dirs: string[] = [];
const agents: Agent[] = [];
afterEach(async () => {
  for (const a of agents.splice(0)) await a.stop();
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

/** A link that acks every batch `ackAfterMs` after it was published (never, when undefined). */
class AckingUplink extends FakeUplink {
  events: UplinkEvents | undefined;
  constructor(private readonly ackAfterMs: number | undefined) {
    super();
  }
  override publish(topic: string, payload: Uint8Array | string): Promise<void> {
    const done = super.publish(topic, payload);
    if (this.ackAfterMs !== undefined && topic.endsWith('/batch') && typeof payload !== 'string') {
      const b = decodeBatch(payload);
      setTimeout(() => this.events?.onAck(encodeAck({ deviceId: b.deviceId, streamId: b.streamId, results: [{ seq: b.seq, status: 'ok' }] })), this.ackAfterMs);
    }
    return done;
  }
}

async function agentWith(persist: 'unacked' | 'all', ackAfterMs: number | undefined, connected = true, maxInflight = 8) {
  const dir = mkdtempSync(join(tmpdir(), 'tidemark-early-send-'));
  dirs.push(dir);
  const config = doctorConfig(dir, {
    sources: [{ type: 'simulated', name: 'sim', rate_hz: 200, sensors: [{ name: 'temp_c', shape: 'sine', min: 20, max: 80, period_s: 60 }] }],
    buffer: { commit_interval_ms: 100, persist },
    uplink: { url: 'mqtt://127.0.0.1:1', max_inflight: maxInflight },
    clock: { sync_check: 'assume_synced' },
  });
  const path = join(dir, 'buffer.db');
  const buffer = SqliteBuffer.open({ path, deviceId: config.device.id });
  const link = new AckingUplink(ackAfterMs);
  link.connected = connected;
  const metrics = new MetricsRegistry('tidemark_edge');
  const agent = new Agent(config, {
    logger: createLogger({ name: 'agent-test', level: 'silent' }),
    metrics,
    buffer,
    uplink: (_settings, e) => {
      link.events = e;
      return link.asUplink();
    },
  });
  agents.push(agent);
  // Connected before the sources start, so that no reading is queued while the link is still down.
  if (connected) link.events!.onConnect();
  await agent.start();
  const counter = (name: string) => counterValue(metrics.counter(name, ''));
  const published = () => link.publishes.filter((p) => p.topic === topics.batch(config.device.id)).map((p) => ({ bytes: p.payload, batch: decodeBatch(p.payload) }));
  /** What the buffer file holds, read through a connection of its own. */
  const onDisk = () => {
    const db = new Database(path, { readonly: true });
    try {
      const batches = db.prepare<[], { seq: number; payload: Buffer }>('SELECT seq, payload FROM batches ORDER BY seq').all();
      const chunks = db.prepare<[], { n: number }>('SELECT count(*) AS n FROM chunks').get()!.n;
      return { batches, chunks };
    } finally {
      db.close();
    }
  };
  return { agent, link, buffer, counter, published, onDisk };
}

/** Every reading of the published batches once: distinct seqs, and the readings' times strictly increase seq by seq. */
function expectNoDuplicates(batches: { batch: ReturnType<typeof decodeBatch> }[]): void {
  const seqs = batches.map((b) => b.batch.seq);
  expect(new Set(seqs).size).toBe(seqs.length);
  const times = [...batches].sort((a, b) => a.batch.seq - b.batch.seq).flatMap((b) => b.batch.readings.map((r) => r.ts));
  for (let i = 1; i < times.length; i++) expect(times[i]!).toBeGreaterThan(times[i - 1]!);
}

describe('Agent with buffer.persist: unacked', () => {
  it('writes nothing when the collector acks every batch before its commit deadline', async () => {
    const t = await agentWith('unacked', 2);
    await waitFor(async () => (await t.counter('readings_acked_total')) >= 600, { timeoutMs: 20_000, description: '600 readings acked' });
    const sent = await t.counter('batches_sent_before_write_total');
    const written = await t.counter('batches_written_after_send_total');
    expect(sent).toBeGreaterThan(0);
    // A timer late by more than the grace (a loaded machine, a GC pause) writes a batch: rare, never the rule.
    expect(written).toBeLessThanOrEqual(sent / 10);
    expect(await t.counter('readings_committed_total')).toBe(0);
    const disk = t.onDisk();
    expect(disk.chunks).toBe(0);
    expect(disk.batches.length).toBeLessThanOrEqual(written);
    expectNoDuplicates(t.published());
  });

  it('writes a batch the collector has not acked by its commit deadline, with the bytes that were sent', async () => {
    // A window wide enough that every seal goes the early way: only the commit deadline writes them.
    const t = await agentWith('unacked', undefined, true, 1000);
    await waitFor(async () => (await t.counter('batches_written_after_send_total')) >= 3, { timeoutMs: 20_000, description: '3 unacked batches written' });
    const sent = new Map(t.published().map((p) => [p.batch.seq, p.bytes]));
    const stored = t.onDisk().batches;
    expect(stored.length).toBeGreaterThanOrEqual(3);
    for (const s of stored) expect([...s.payload]).toEqual([...sent.get(s.seq)!]);
    expect(await t.counter('readings_committed_total')).toBe(0); // all went the early way
    expectNoDuplicates(t.published());
  });

  it('commits as before with persist: all, and while the link is down', async () => {
    for (const t of [await agentWith('all', 2), await agentWith('unacked', undefined, false)]) {
      await waitFor(async () => (await t.counter('readings_committed_total')) >= 100, { timeoutMs: 20_000, description: '100 readings committed' });
      expect(await t.counter('batches_sent_before_write_total')).toBe(0);
    }
  });

  it('a clean stop writes what was sent and not yet acked', async () => {
    const t = await agentWith('unacked', undefined);
    await waitFor(async () => (await t.counter('batches_sent_before_write_total')) >= 1, { timeoutMs: 20_000, description: 'a batch sent before a write' });
    await t.agent.stop();
    agents.splice(agents.indexOf(t.agent), 1);
    const sent = t.published();
    const stored = new Set(t.onDisk().batches.map((b) => b.seq));
    for (const p of sent) expect(stored.has(p.batch.seq), `batch ${p.batch.seq} was sent, never acked, and is not in the buffer`).toBe(true);
  });
});
