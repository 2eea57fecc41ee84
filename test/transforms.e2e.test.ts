// Transforms end to end: csv lines with device timestamps through a real pty (socat) into a real agent whose
// config has a transform chain, delivered to a real collector. What the collector stored must equal, reading
// for reading, what a plain reference computation of the same chain makes of the written lines, and every
// reading the chain removed must be counted by transform and reason on the agent's /metrics.
import { closeSync, openSync, writeSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { freePort, openPtyPair, requireTool, sampleSum, useProcessReaper, waitFor } from '@tidemark/shared/testing';
import { getJson } from './support/cli.js';
import { setupCloud, setupEdge, waitForAggregated } from './support/pipeline.js';
import { expectNoDuplicateReadings, readStream } from './support/stream-check.js';

function writeTo(path: string, text: string): void {
  const fd = openSync(path, 'w');
  try {
    writeSync(fd, text);
  } finally {
    closeSync(fd);
  }
}

const N = 600;
const STEP_MS = 10;

/** The device's columns for line i, as text (what the pty carries). Fixed decimals: parsing is exact. */
function columns(i: number) {
  // temp_a: 5 decimals whose last digit is never 0, so never a tie at 3 decimals; every 50th line out of range.
  const tempUnits = 2_000_000 + ((i * 7919) % 400_000) * 10 + 1 + (i % 9);
  const temp = i % 50 === 7 ? '-50.5' : i % 50 === 31 ? '200.25' : (tempUnits / 100_000).toFixed(5);
  const raw = String(24_000 + ((i * 37) % 2_000)); // raw_pressure counts
  const vib = (((i * 13) % 97) / 10).toFixed(1);
  const flat = (20 + (Math.floor(i / 4) % 5) * 0.03).toFixed(2); // creeps by 0.03 (inside the 0.05 band), falls back by 0.12
  const level = String(100 + ((Math.floor(i / 3) * 3) % 7) * 2); // 100..112 in steps of 2: around a 5 % band
  return { temp, raw, vib, flat, level };
}

interface Out {
  sensor: string;
  ts: number;
  value: number;
}

/**
 * The chain, computed the plain way: one pass per sensor over its own series, without the agent's code.
 * Rounding is decimal text rounding (toFixed), not the agent's arithmetic.
 */
function reference(base: number) {
  const out: Out[] = [];
  const removed: Record<string, number> = {};
  const count = (key: string) => (removed[key] = (removed[key] ?? 0) + 1);
  const r3 = (x: number) => Number(x.toFixed(3));
  let flatLast: { v: number; ts: number } | undefined;
  let levelLast: number | undefined;
  let vibLast: number | undefined;
  for (let i = 0; i < N; i++) {
    const ts = base + i * STEP_MS;
    const c = columns(i);
    const temp = Number(c.temp);
    if (temp < -40) count('0:filter/below_min');
    else if (temp > 150) count('0:filter/above_max');
    else out.push({ sensor: 'temp_a', ts, value: r3(temp) });
    out.push({ sensor: 'pressure_bar', ts, value: r3(Number(c.raw) / 100 - 1.5) });
    const flat = Number(c.flat);
    if (flatLast === undefined || Math.abs(flat - flatLast.v) > 0.05 + 1e-9 || ts - flatLast.ts >= 1000) {
      flatLast = { v: flat, ts };
      out.push({ sensor: 'flat', ts, value: flat });
    } else count('flat-deadband/deadband');
    const level = Number(c.level);
    if (levelLast === undefined || Math.abs(level - levelLast) > levelLast * 0.05) {
      levelLast = level;
      out.push({ sensor: 'level', ts, value: level });
    } else count('3:deadband/deadband');
    const vib = Number(c.vib);
    if (vibLast === undefined || ts - vibLast >= 100) {
      vibLast = ts;
      out.push({ sensor: 'vibration', ts, value: vib });
    } else count('4:min_interval/min_interval');
  }
  return { out, removed };
}

describe('transforms end to end', () => {
  useProcessReaper();

  it('the collector stores exactly what an independent computation of the chain gives, and every removal is counted', async () => {
    requireTool('socat', 'socat');
    const cloud = await setupCloud();
    const pty = await openPtyPair();
    const statusPort = await freePort();
    const edge = setupEdge(cloud, 'gw-xform', {
      sources: [
        { type: 'serial', name: 'plc', path: pty.a, parser: { format: 'csv', columns: ['ts', 'temp_a', 'raw_pressure', 'vibration', 'flat', 'level'], timestamp_column: 'ts' } },
      ],
      transforms: [
        { type: 'filter', sensors: 'temp_*', min: -40, max: 150 },
        { type: 'scale', sensors: 'raw_pressure', factor: 0.01, offset: -1.5, rename: 'pressure_bar' },
        { type: 'deadband', name: 'flat-deadband', sensors: 'fla?', absolute: 0.05, max_interval: '1s' },
        { type: 'deadband', sensors: 'level', percent: 5 },
        { type: 'min_interval', sensors: 'vibration', interval: '100ms' },
        { type: 'round', sensors: '*', decimals: 3 },
      ],
      batch: { max_readings: 500, max_delay_ms: 100 },
      status: { listen: `127.0.0.1:${statusPort}` },
    });
    const collector = await cloud.start();
    const agent = edge.start();
    const statusUrl = `http://127.0.0.1:${statusPort}`;
    await waitFor(
      async () => {
        const { body } = await getJson<{ connected: boolean; sources: { state: string }[] }>(`${statusUrl}/status`).catch(() => ({ body: undefined }));
        return body?.connected && body.sources.every((s) => s.state === 'open');
      },
      { timeoutMs: 40_000, description: 'agent connected with its port open' },
    );

    const base = Date.now() - 120_000;
    let text = '\n';
    for (let i = 0; i < N; i++) {
      const c = columns(i);
      text += `${base + i * STEP_MS},${c.temp},${c.raw},${c.vib},${c.flat},${c.level}\r\n`;
    }
    writeTo(pty.b, text);

    const want = reference(base);
    const bySensor = (rs: readonly Out[]) => {
      const m = new Map<string, Out[]>();
      for (const r of rs) m.set(r.sensor, [...(m.get(r.sensor) ?? []), { sensor: r.sensor, ts: r.ts, value: r.value }]);
      for (const list of m.values()) list.sort((a, b) => a.ts - b.ts);
      return m;
    };
    const expected = bySensor(want.out);
    // The reference itself exercises every rule: something removed by each, something kept by each.
    expect(Object.keys(want.removed).sort()).toEqual(['0:filter/above_max', '0:filter/below_min', '3:deadband/deadband', '4:min_interval/min_interval', 'flat-deadband/deadband']);
    expect(expected.get('flat')!.length).toBeGreaterThan(10);
    expect(expected.get('level')!.length).toBeGreaterThan(10);
    for (const [sensor, list] of expected) await waitForAggregated(cloud.api, 'gw-xform', sensor, list.length);

    const stored = readStream(cloud.dataDir).filter((r) => r.device === 'gw-xform');
    expectNoDuplicateReadings(stored);
    const got = bySensor(stored);
    expect([...got.keys()].sort()).toEqual(['flat', 'level', 'pressure_bar', 'temp_a', 'vibration']);
    for (const [sensor, list] of expected) expect(got.get(sensor), sensor).toEqual(list);

    const metrics = await (await fetch(`${statusUrl}/metrics`)).text();
    for (const [key, n] of Object.entries(want.removed)) {
      const [transform, reason] = key.split('/');
      expect(sampleSum(metrics, 'tidemark_edge_transform_removed_total', `transform="${transform}",reason="${reason}"`), key).toBe(n);
    }
    const totalRemoved = Object.values(want.removed).reduce((a, b) => a + b, 0);
    expect(sampleSum(metrics, 'tidemark_edge_transform_removed_total')).toBe(totalRemoved);
    expect(totalRemoved + want.out.length).toBe(N * 5); // nothing else went missing
    // The agent's own accounting: what the source handed over = refused + removed + accepted into the buffer.
    expect(sampleSum(metrics, 'tidemark_edge_source_readings_total', 'source="plc"')).toBe(N * 5);
    expect(sampleSum(metrics, 'tidemark_edge_readings_invalid_total')).toBe(0);
    expect(sampleSum(metrics, 'tidemark_edge_readings_received_total', 'source="plc"')).toBe(want.out.length);

    expect((await agent.kill('SIGTERM')).code, agent.output()).toBe(0);
    await pty.close();
    expect((await collector.kill('SIGTERM')).code).toBe(0);
  });
});
