// The agent's batching bound: batch.max_delay_ms bounds how long a reading waits before its batch is sealed
// for sending, even when the commit interval is much longer (the deadline timer), and full batches are
// sealed at once without waiting. The group commit follows the first queued reading by
// buffer.commit_interval_ms, and an agent with nothing queued does not tick.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createLogger } from '@tidemark/shared';
import { waitFor } from '@tidemark/shared/testing';
import { afterEach, describe, expect, it } from 'vitest';
import { Agent } from './agent.js';
import type { BatchEncoder, EdgeBuffer } from './buffer/edge-buffer.js';
import { SqliteBuffer } from './buffer/sqlite-buffer.js';
import { doctorConfig } from './doctor/test-support/doctor-config.js';

const dirs: string[] = [];
const agents: Agent[] = [];
afterEach(async () => {
  for (const a of agents.splice(0)) await a.stop();
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

/** An agent whose uplink never connects (port 1), with every sealed batch's oldest-reading age recorded. */
function agentWith(batch: { max_readings: number; max_delay_ms: number }, rateHz: number, commitIntervalMs = 1000) {
  const dir = mkdtempSync(join(tmpdir(), 'tidemark-agent-'));
  dirs.push(dir);
  const config = doctorConfig(dir, {
    sources: [{ type: 'simulated', name: 'sim', rate_hz: rateHz, sensors: [{ name: 'temp_c', shape: 'sine', min: 20, max: 80, period_s: 60 }] }],
    buffer: { commit_interval_ms: commitIntervalMs },
    batch,
    clock: { sync_check: 'assume_synced' },
  });
  // Sealing encodes the batch: record how old its oldest reading is at that moment (readings are stamped
  // with the agent's clock when the source produces them). The agent gets a buffer that wraps the encoder.
  const ages: number[] = [];
  const sizes: number[] = [];
  /** performance.now() of each append, and of each group commit with how many readings it found queued. */
  const appends: number[] = [];
  const commits: { at: number; queued: number }[] = [];
  const wrap = (encode: BatchEncoder): BatchEncoder => (seq, readings, synced, low) => {
    ages.push(Date.now() - Math.min(...readings.map((r) => r.ts)));
    sizes.push(readings.length);
    return encode(seq, readings, synced, low);
  };
  const inner = SqliteBuffer.open({ path: join(dir, 'buffer.db'), deviceId: config.device.id });
  const buffer: EdgeBuffer = new Proxy(inner, {
    get(target, key) {
      if (key === 'seal') return (max: number, encode: BatchEncoder, now: number) => target.seal(max, wrap(encode), now);
      if (key === 'commitAndSeal') {
        return (max: number, encode: BatchEncoder, now: number, sealAll?: boolean) => {
          commits.push({ at: performance.now(), queued: target.queuedCount });
          return target.commitAndSeal(max, wrap(encode), now, sealAll);
        };
      }
      if (key === 'append') {
        return (readings: Parameters<EdgeBuffer['append']>[0]) => {
          appends.push(performance.now());
          target.append(readings);
        };
      }
      const v = Reflect.get(target, key, target) as unknown;
      return typeof v === 'function' ? v.bind(target) : v;
    },
  });
  const agent = new Agent(config, { logger: createLogger({ name: 'agent-test', level: 'silent' }), buffer });
  agents.push(agent);
  let ticks = 0;
  const tick = agent.commits.tick.bind(agent.commits);
  agent.commits.tick = (force?: boolean) => {
    ticks++;
    tick(force);
  };
  return { agent, ages, sizes, appends, commits, ticks: () => ticks };
}

describe('Agent batching', () => {
  it('seals a partial batch once its oldest reading waited max_delay_ms, not at the next commit tick', async () => {
    // Commit ticks every 1000 ms; max_delay_ms 150. Without the deadline timer a batch would wait up to
    // ~1000 ms for the next tick.
    const { agent, ages, sizes } = agentWith({ max_readings: 1000, max_delay_ms: 150 }, 20);
    await agent.start();
    await waitFor(() => ages.length >= 8, { timeoutMs: 20_000, description: '8 sealed batches' });
    expect(Math.max(...sizes)).toBeLessThan(1000); // all partial: sealed by the delay, not by size
    // Ticks land on the deadline (±timer jitter on a loaded machine); the old behaviour was ≥ 1000 ms.
    expect(Math.max(...ages), `ages ${ages.join(', ')}`).toBeLessThan(700);
    expect(Math.min(...ages)).toBeGreaterThanOrEqual(140);
  });

  it('seals full batches at the commit tick without waiting for the delay', async () => {
    // 200 readings/s into 50-reading batches: each 1000 ms tick seals ~4 full batches straight away.
    const { agent, sizes } = agentWith({ max_readings: 50, max_delay_ms: 60_000 }, 200);
    await agent.start();
    await waitFor(() => sizes.length >= 6, { timeoutMs: 20_000, description: '6 sealed batches' });
    expect(sizes.slice(0, 6)).toEqual([50, 50, 50, 50, 50, 50]);
  });

  it('commits commit_interval_ms after the first queued reading, and never ticks with nothing queued', async () => {
    // 4 readings/s, commit interval 100 ms, no deadline seals: a commit per reading, none in between.
    const { agent, appends, commits, ticks } = agentWith({ max_readings: 1000, max_delay_ms: 60_000 }, 4, 100);
    await agent.start();
    await waitFor(() => commits.length >= 6, { timeoutMs: 20_000, description: '6 group commits' });
    expect(ticks(), 'every tick had readings to commit').toBe(commits.length);
    expect(commits.every((c) => c.queued > 0)).toBe(true);
    // Each commit follows the first reading queued after the previous commit by the interval (the timer
    // fires no earlier; a loaded machine may make it later).
    let prev = -Infinity;
    for (const c of commits) {
      const first = appends.find((t) => t > prev && t <= c.at)!;
      expect(c.at - first).toBeGreaterThanOrEqual(98);
      expect(c.at - first).toBeLessThan(1000);
      prev = c.at;
    }
  });
});
