// Fault tests of the delivery contract with real processes killed for real: the collector dies (SIGKILL,
// possibly between its commit and its ack) while the agent keeps reading, and the agent dies mid-send.
// Afterwards every reading the agent committed is stored exactly once, and the aggregates match the raw
// stream. The simulated source ticks on a fixed grid, so a lost reading shows up as a gap in a run.
import { describe, expect, it } from 'vitest';
import { freePort, useProcessReaper, waitFor } from '@tidemark/shared/testing';
import { fetchBuckets, setupCloud, setupEdge, waitForAggregated } from './support/pipeline.js';
import { expectBucketsMatch, expectContiguousRuns, expectNoDuplicateReadings, readStream, type ApiBucket } from './support/stream-check.js';

const RATE_HZ = 50;
/** SPEC/issue: the collector goes away for a minute while readings keep coming. */
const OUTAGE_MS = 60_000;
const STEP = 1000 / RATE_HZ;
const SOURCE = {
  type: 'simulated',
  name: 'sim',
  rate_hz: RATE_HZ,
  seed: 3,
  sensors: [{ name: 'level', shape: 'random_walk', min: 0, max: 100, decimals: 2 }],
};

async function finalCheck(cloud: Awaited<ReturnType<typeof setupCloud>>, device: string, maxRuns: number) {
  const stored = readStream(cloud.dataDir).filter((r) => r.device === device);
  expectNoDuplicateReadings(stored);
  const runs = expectContiguousRuns(stored.map((r) => r.ts), STEP, maxRuns);
  const info = await waitForAggregated(cloud.api, device, 'level', stored.length);
  const buckets = await fetchBuckets<ApiBucket>(cloud.api, device, 'level', '1m', Date.parse(info.first_seen) - 60_000, Date.parse(info.last_seen) + 60_000);
  expectBucketsMatch(buckets, stored);
  return { stored, runs };
}

describe('delivery under faults (real processes, SIGKILL)', () => {
  useProcessReaper();

  it('collector gone for a minute, then killed again mid-stream: every reading arrives exactly once', async () => {
    const cloud = await setupCloud();
    const edge = setupEdge(cloud, 'gw-outage', { sources: [SOURCE], batch: { max_readings: 100, max_delay_ms: 100 } });
    let collector = await cloud.start();
    const agent = edge.start();
    const readingsIn = async () => (await fetch(`${cloud.api}/api/v1/devices`).then((r) => r.json() as Promise<{ items: { id: string; readings: number }[] }>)).items.find((d) => d.id === 'gw-outage')?.readings ?? 0;

    for (let round = 1; round <= 2; round++) {
      await waitFor(async () => (await readingsIn()) >= 200 * round, { timeoutMs: 30_000, description: `round ${round}: readings flowing` });
      await collector.sigkill();
      // The agent keeps reading and buffering while the collector is gone: a full minute the first time.
      const before = edge.bufferStats().readings;
      const outage = round === 1 ? OUTAGE_MS : 3_000;
      await waitFor(() => edge.bufferStats().readings >= before + (outage / 1000) * RATE_HZ, {
        timeoutMs: outage + 30_000,
        intervalMs: 500,
        description: `agent buffering through a ${outage / 1000} s outage`,
      });
      collector = await cloud.start();
    }
    await waitFor(async () => edge.bufferStats().readings < 200, { timeoutMs: 30_000, description: 'backlog drained after the outage' });
    expect((await agent.kill('SIGTERM')).code, agent.output()).toBe(0);
    expect(edge.bufferStats().readings).toBe(0);

    const { stored, runs } = await finalCheck(cloud, 'gw-outage', 1);
    // One agent run: one gap-free run of ticks from its first reading to its last.
    expect(stored.length).toBe((runs[0]![1] - runs[0]![0]) / STEP + 1);
    expect((await collector.kill('SIGTERM')).code).toBe(0);
  }, 240_000);

  it('collector killed between its commit and its acks: the agent resends and the batch is stored once', async () => {
    const cloud = await setupCloud();
    const edge = setupEdge(cloud, 'gw-commit', { sources: [SOURCE], batch: { max_readings: 50, max_delay_ms: 50 } });
    // Fault injection: the collector SIGKILLs itself right after its 3rd stream commit, before any ack of it.
    let collector = await cloud.start({ TIDEMARK_FAULT_KILL_AFTER_COMMIT: '3' });
    const agent = edge.start();
    const died = await collector.exited;
    expect(died.signal, collector.output()).toBe('SIGKILL');
    expect(collector.output()).toContain('fault injection: SIGKILL between commit and ack');
    const committedBeforeCrash = readStream(cloud.dataDir).length;
    expect(committedBeforeCrash).toBeGreaterThan(0);

    collector = await cloud.start();
    await waitFor(async () => /tidemark_cloud_duplicates_total [1-9]/.test(await (await fetch(`${cloud.api}/metrics`)).text()), {
      timeoutMs: 30_000,
      description: 'the resent, already-committed batch acked as duplicate',
    });
    await waitFor(() => readStream(cloud.dataDir).length >= committedBeforeCrash + 300, { timeoutMs: 30_000, intervalMs: 250, description: 'more batches after the restart' });
    expect((await agent.kill('SIGTERM')).code, agent.output()).toBe(0);
    expect(edge.bufferStats().readings).toBe(0);
    const { stored, runs } = await finalCheck(cloud, 'gw-commit', 1);
    expect(stored.length).toBe((runs[0]![1] - runs[0]![0]) / STEP + 1);
    expect((await collector.kill('SIGTERM')).code).toBe(0);
  });

  it('agent killed mid-send and restarted: nothing committed is lost, nothing is stored twice', async () => {
    const cloud = await setupCloud();
    const statusPort = await freePort();
    const edge = setupEdge(cloud, 'gw-crash', { sources: [SOURCE], batch: { max_readings: 50, max_delay_ms: 50 }, status: { listen: `127.0.0.1:${statusPort}` } });
    const collector = await cloud.start();
    const ROUNDS = 3;
    /** A counter of the running agent (buffer.persist: unacked, the default: batches sent before any write). */
    const counter = async (name: string) => Number(new RegExp(`^tidemark_edge_${name} (\\S+)$`, 'm').exec(await (await fetch(`http://127.0.0.1:${statusPort}/metrics`)).text())?.[1] ?? 0);
    for (let round = 1; round <= ROUNDS; round++) {
      const agent = edge.start();
      await agent.waitForOutput('connected to collector', 20_000);
      const target = readStream(cloud.dataDir).length + 150;
      await waitFor(() => readStream(cloud.dataDir).length >= target, { timeoutMs: 30_000, description: `round ${round}: batches stored` });
      // The kill lands where batches are sent before they are written: that path is what this test proves.
      await waitFor(async () => (await counter('batches_sent_before_write_total')) >= 20, { timeoutMs: 30_000, description: `round ${round}: batches sent before a write` });
      if (round < ROUNDS) await agent.sigkill();
      else {
        expect((await agent.kill('SIGTERM')).code, agent.output()).toBe(0);
      }
    }
    expect(edge.bufferStats().readings).toBe(0);
    // Each agent run is one gap-free run of ticks (a kill may lose only the uncommitted last ≤ 100 ms,
    // which never became a reading the agent accepted as durable).
    await finalCheck(cloud, 'gw-crash', ROUNDS);
    expect((await collector.kill('SIGTERM')).code).toBe(0);
  });

  it('a full buffer applies each on_full policy and counts every dropped reading', async () => {
    // No collector at all: the link stays down, the buffer fills up to max_bytes.
    const cloud = await setupCloud();
    const policies = ['drop_oldest', 'drop_newest', 'block'] as const;
    const edges = policies.map((policy) =>
      setupEdge(cloud, `gw-${policy.replace('_', '-')}`, {
        sources: [{ ...SOURCE, rate_hz: 1000 }],
        buffer: { max_bytes: '96KB', on_full: policy },
        batch: { max_readings: 100, max_delay_ms: 100 },
      }),
    );
    const agents = edges.map((e) => e.start());
    const dropped = (e: (typeof edges)[number]) => Object.values(e.bufferStats().drops).reduce((a, b) => a + b, 0);
    await waitFor(() => edges.slice(0, 2).every((e) => dropped(e) > 2000), { timeoutMs: 60_000, intervalMs: 500, description: 'drops under both drop policies' });
    for (const a of agents) expect((await a.kill('SIGTERM')).code, a.output()).toBe(0);

    const [oldest, newest, block] = edges.map((e) => e.bufferStats());
    for (const s of [oldest!, newest!, block!]) expect(s.file_bytes).toBeLessThan(1024 * 1024); // bounded, not 1000 readings/s forever
    expect(oldest!.drops.buffer_full).toBeGreaterThan(0);
    expect(newest!.drops.buffer_full).toBeGreaterThan(0);
    // drop_oldest keeps the newest data, drop_newest the oldest.
    expect(Date.parse(oldest!.newest_time!)).toBeGreaterThan(Date.parse(newest!.newest_time!));
    expect(Date.parse(oldest!.oldest_time!)).toBeGreaterThan(Date.parse(newest!.oldest_time!));
    // block holds readings in memory while full; what could not be committed by shutdown is counted, not lost silently.
    expect(block!.readings).toBeGreaterThan(0);
    expect(block!.drops.unsaved_at_shutdown).toBeGreaterThan(0);
  }, 120_000);
});
