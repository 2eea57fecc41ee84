// What the resource-fault tests check, shared: /readyz degraded naming resources (or ready again), the
// collector's state-change log lines, and that every reading an agent produced is stored and aggregated
// exactly once (a gap-free run of simulated ticks, 1m buckets equal to ones recomputed from the stored readings).
import { expect } from 'vitest';
import { waitFor, type ManagedProcess } from '@tidemark/shared/testing';
import { getJson } from './cli.js';
import { fetchBuckets, waitForAggregated, type CloudSetup, type EdgeSetup } from './pipeline.js';
import { expectBucketsMatch, expectContiguousRuns, expectNoDuplicateReadings, type ApiBucket, type StoredReading } from './stream-check.js';

export const RATE_HZ = 50;
export const STEP = 1000 / RATE_HZ;
export const SOURCE = {
  type: 'simulated',
  name: 'sim',
  rate_hz: RATE_HZ,
  seed: 13,
  sensors: [{ name: 'level', shape: 'random_walk', min: 0, max: 100, decimals: 2 }],
};

export interface Readyz {
  status: string;
  failing?: { resource: string; reason: string; since: string }[];
}

export const readyz = (api: string) => getJson<Readyz>(`${api}/readyz`);
export const metrics = async (api: string) => (await fetch(`${api}/metrics`)).text();

export async function waitDegraded(api: string, resources: string[], timeoutMs = 30_000): Promise<Readyz> {
  return waitFor(
    async () => {
      const r = await readyz(api).catch(() => undefined);
      const failing = new Set(r?.body.failing?.map((f) => f.resource));
      return r && r.status === 503 && r.body.status === 'degraded' && resources.every((x) => failing.has(x)) ? r.body : undefined;
    },
    { timeoutMs, description: `/readyz 503 degraded naming ${resources.join(', ')}` },
  );
}

export async function waitReady(api: string, timeoutMs = 60_000): Promise<void> {
  await waitFor(async () => (await readyz(api).catch(() => undefined))?.status === 200, { timeoutMs, intervalMs: 250, description: '/readyz 200 again' });
}

/** The collector's log: exactly one "failing" line and one "recovered" line per spell, however many batches failed. */
export function stateChangeLines(collector: ManagedProcess, resource: string): { failing: number; recovered: number } {
  const out = collector.output();
  const count = (re: RegExp) => out.split('\n').filter((l) => re.test(l)).length;
  return { failing: count(new RegExp(`"msg":"${resource} failing;`)), recovered: count(new RegExp(`"msg":"${resource} recovered"`)) };
}

/** Every reading stored once, one gap-free run, and the API's 1m buckets equal to the reference computed from them. */
export async function expectExactlyOnce(cloud: CloudSetup, device: string, stored: StoredReading[]): Promise<void> {
  const mine = stored.filter((r) => r.device === device);
  expectNoDuplicateReadings(mine);
  const runs = expectContiguousRuns(mine.map((r) => r.ts), STEP, 1);
  // One agent run: one run of ticks from its first reading to its last, with nothing missing.
  expect(mine.length).toBe((runs[0]![1] - runs[0]![0]) / STEP + 1);
  const info = await waitForAggregated(cloud.api, device, 'level', mine.length, 60_000);
  const buckets = await fetchBuckets<ApiBucket>(cloud.api, device, 'level', '1m', Date.parse(info.first_seen) - 60_000, Date.parse(info.last_seen) + 60_000);
  expectBucketsMatch(buckets, mine);
}

/** Stops the agent cleanly once it has sent everything; its buffer must end empty. */
export async function drainAndStop(edge: EdgeSetup, agent: ManagedProcess): Promise<void> {
  await waitFor(() => edge.bufferStats().readings < 200, { timeoutMs: 90_000, intervalMs: 500, description: 'agent backlog drained after the fault' });
  expect((await agent.kill('SIGTERM')).code, agent.output()).toBe(0);
  expect(edge.bufferStats().readings).toBe(0);
}

export async function readingsIn(api: string, device: string): Promise<number> {
  const r = await getJson<{ items: { id: string; readings: number }[] }>(`${api}/api/v1/devices`).catch(() => undefined);
  return r?.body.items?.find((d) => d.id === device)?.readings ?? 0;
}
