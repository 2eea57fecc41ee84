// The agent with its buffer and uplink injected (AgentOptions.buffer / .uplink), no broker: readings from a
// source go through the transform chain into the buffer, are sealed and published through the injected link,
// and leave the buffer only when the collector's ack arrives through the link's events.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
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

describe('Agent with an injected buffer and uplink', () => {
  it('sends what the transforms keep, counts what they remove, and frees batches only on the ack', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tidemark-agent-inject-'));
    dirs.push(dir);
    const config = doctorConfig(dir, {
      sources: [{ type: 'simulated', name: 'sim', rate_hz: 100, sensors: [{ name: 'level', shape: 'sine', min: 0, max: 100, period_s: 2 }] }],
      transforms: [{ type: 'filter', sensors: 'lev*', max: 50 }, { type: 'round', sensors: '*', decimals: 0 }],
      batch: { max_readings: 20, max_delay_ms: 50 },
      clock: { sync_check: 'assume_synced' },
    });
    const buffer = SqliteBuffer.open({ path: join(dir, 'injected.db'), deviceId: config.device.id });
    const link = new FakeUplink();
    let events: UplinkEvents | undefined;
    const metrics = new MetricsRegistry('tidemark_edge');
    const agent = new Agent(config, {
      logger: createLogger({ name: 'agent-test', level: 'silent' }),
      metrics,
      buffer,
      uplink: (_settings, e) => {
        events = e;
        return link.asUplink();
      },
    });
    agents.push(agent);
    expect(agent.buffer).toBe(buffer);
    buffer.recordDrop('buffer_full', 5); // as an earlier run under on_full: drop_oldest would have left it
    buffer.recordDrop('too_old', 2);
    await agent.start();
    expect(link.started).toBe(true);
    events!.onConnect();
    // The status message carries what the buffer gave up (the console's Drops column).
    await waitFor(() => link.publishes.some((p) => p.topic === topics.status(config.device.id)), { timeoutMs: 20_000, description: 'a status message' });
    const status = JSON.parse(Buffer.from(link.publishes.find((p) => p.topic === topics.status(config.device.id))!.payload).toString()) as Record<string, unknown>;
    expect(status).toMatchObject({ online: true, dropped_readings: 7 });
    // The sine spends a second below the filter's max: wait until it has crossed it (not only 5 batches, which
    // may all fall in that second).
    const removed = () => counterValue(metrics.counter('transform_removed_total', '', ['transform', 'reason']), { transform: '0:filter', reason: 'above_max' });
    await waitFor(async () => (await removed()) > 0, { timeoutMs: 20_000, description: 'the filter removed a reading' });
    await waitFor(() => link.publishes.filter((p) => p.topic === topics.batch(config.device.id)).length >= 5, { timeoutMs: 20_000, description: '5 batches published' });

    const batches = link.publishes.filter((p) => p.topic === topics.batch(config.device.id)).map((p) => decodeBatch(p.payload));
    const values = batches.flatMap((b) => b.readings.map((r) => r.value));
    expect(values.every((v) => v <= 50 && Number.isInteger(v))).toBe(true); // filtered, then rounded

    // Nothing leaves the buffer on publish; the ack frees exactly the acked batches.
    const acked = batches.slice(0, 3).map((b) => b.seq);
    events!.onAck(encodeAck({ deviceId: config.device.id, streamId: buffer.streamId, results: acked.map((seq) => ({ seq, status: 'ok' as const })) }));
    const left = buffer.batchesAfter(0, 10_000).map((b) => b.seq);
    for (const seq of acked) expect(left).not.toContain(seq);
    expect(left).toContain(batches[3]!.seq);
  });
});
