// `tidemark-cloud replay` rebuilds every aggregate from the stream store; the query output afterwards is
// byte-identical to the live result, for a full replay and for `--from`. It refuses to race a running
// aggregator.
import { describe, expect, it } from 'vitest';
import { useProcessReaper, waitFor } from '@tidemark/shared/testing';
import { CLOUD_BIN, runCli } from './support/cli.js';
import { setupCloud, setupEdge, waitForAggregated } from './support/pipeline.js';
import { readStream } from './support/stream-check.js';

describe('replay', () => {
  useProcessReaper();

  it('rebuilds aggregates identical to the live ones, fully and --from, and refuses while the aggregator runs', async () => {
    const cloud = await setupCloud();
    const sensors = [
      { name: 'temp_c', shape: 'sine', min: 20, max: 80, period_s: 20, decimals: 2 },
      { name: 'flow', shape: 'random_walk', min: 0, max: 10, decimals: 3 },
    ];
    const edge = setupEdge(cloud, 'gw-replay', { sources: [{ type: 'simulated', name: 'sim', rate_hz: 50, seed: 11, sensors }], batch: { max_readings: 100, max_delay_ms: 100 } });
    let collector = await cloud.start();
    const agent = edge.start();
    await waitFor(() => readStream(cloud.dataDir).length >= 1000, { timeoutMs: 30_000, intervalMs: 250, description: '1000 readings stored' });
    expect((await agent.kill('SIGTERM')).code).toBe(0);
    const total = readStream(cloud.dataDir).filter((r) => r.sensor === 'flow').length;
    await waitForAggregated(cloud.api, 'gw-replay', 'flow', total);

    const snapshot = async () => {
      const out: string[] = [];
      const from = new Date(Date.now() - 2 * 86_400_000).toISOString();
      const to = new Date(Date.now() + 86_400_000).toISOString();
      for (const s of sensors) {
        for (const res of ['1m', '1h', '1d']) {
          const q = new URLSearchParams({ device: 'gw-replay', sensor: s.name, resolution: res, from, to });
          out.push(await (await fetch(`${cloud.api}/api/v1/aggregates?${q}`)).text());
        }
      }
      out.push(await (await fetch(`${cloud.api}/api/v1/devices/gw-replay/sensors`)).text());
      return out;
    };
    const live = await snapshot();
    expect(live[0]).toContain('"count"');

    const refused = runCli(CLOUD_BIN, ['replay', '-c', cloud.configPath]);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/aggregator is running \(pid \d+\)/);

    expect((await collector.kill('SIGTERM')).code).toBe(0);
    const full = runCli(CLOUD_BIN, ['replay', '-c', cloud.configPath]);
    expect(full.code, full.stderr).toBe(0);
    expect(full.stdout).toMatch(/^replayed \d+ stream records/);
    collector = await cloud.start();
    expect(await snapshot()).toEqual(live);

    expect((await collector.kill('SIGTERM')).code).toBe(0);
    const from = new Date(Date.now() - 60_000).toISOString();
    const partial = runCli(CLOUD_BIN, ['replay', '-c', cloud.configPath, '--from', from]);
    expect(partial.code, partial.stderr).toBe(0);
    expect(partial.stdout).toMatch(/buckets from .*earlier buckets kept/);
    collector = await cloud.start();
    expect(await snapshot()).toEqual(live);

    expect(runCli(CLOUD_BIN, ['replay', '-c', cloud.configPath, '--from', 'last tuesday']).code).toBe(2);
    expect((await collector.kill('SIGTERM')).code).toBe(0);
  });
});
