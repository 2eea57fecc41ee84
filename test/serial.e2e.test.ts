// Real serial lines through real pseudo-terminals (socat) into a real agent and collector: csv with a
// device timestamp column, json with `ts`, kv, and NMEA from a real receiver's capture, mixed with garbage.
// Every good reading arrives exactly once (counts and sums checked against what was written), bad lines are
// counted, the device disappears and reappears mid-run without the agent exiting, and `doctor`,
// `buffer stats` and /status work against the live agent.
import { openSync, closeSync, readFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { freePort, openPtyAtPath, openPtyPair, requireTool, useProcessReaper, waitFor } from '@tidemark/shared/testing';
import { createParser } from '../edge/src/sources/serial/parsers/index.js';
import { EDGE_BIN, ROOT, getJson, runCli } from './support/cli.js';
import { fetchBuckets, setupCloud, setupEdge, waitForAggregated } from './support/pipeline.js';
import { expectNoDuplicateReadings, readStream, type ApiBucket } from './support/stream-check.js';

/** Writes to the test's end of a pty (the "device" side). */
function writeTo(path: string, text: string): void {
  const fd = openSync(path, 'w');
  try {
    writeSync(fd, text);
  } finally {
    closeSync(fd);
  }
}

const round2 = (x: number) => Math.round(x * 100) / 100;

async function sumOf(api: string, device: string, sensor: string, from: number, to: number) {
  const buckets = await fetchBuckets<ApiBucket>(api, device, sensor, '1m', from - 60_000, to + 120_000);
  return { count: buckets.reduce((a, b) => a + b.count, 0), sum: buckets.reduce((a, b) => a + b.sum, 0) };
}

describe('serial sources end to end (socat ptys)', () => {
  useProcessReaper();

  it('delivers csv, json, kv and NMEA lines exactly once, counts garbage, and survives an unplug', async () => {
    requireTool('socat', 'socat');
    const cloud = await setupCloud();
    const csvLink = join(cloud.dir, 'usb-plc-if00');
    const csvPty = await openPtyAtPath(csvLink);
    const jsonPty = await openPtyPair();
    const kvPty = await openPtyPair();
    const gpsPty = await openPtyPair();
    const statusPort = await freePort();
    const edge = setupEdge(cloud, 'gw-serial', {
      sources: [
        { type: 'serial', name: 'plc', path: csvLink, baud_rate: 115200, reconnect_min_ms: 100, reconnect_max_ms: 500, parser: { format: 'csv', columns: ['ts', 'csv_t', 'csv_p'], timestamp_column: 'ts' } },
        { type: 'serial', name: 'meter', path: jsonPty.a, parser: { format: 'json' } },
        { type: 'serial', name: 'drive', path: kvPty.a, parser: { format: 'kv' } },
        { type: 'serial', name: 'gps', path: gpsPty.a, baud_rate: 9600, parser: { format: 'nmea' } },
      ],
      batch: { max_readings: 200, max_delay_ms: 100 },
      status: { listen: `127.0.0.1:${statusPort}` },
    });
    const collector = await cloud.start();
    const agent = edge.start();
    const status = `http://127.0.0.1:${statusPort}/status`;
    type Status = { connected: boolean; sources: { name: string; state: string; parse_errors?: number }[] };
    const allOpen = async () => {
      const { body } = await getJson<Status>(status).catch(() => ({ body: undefined }));
      return body?.connected && body.sources.every((s) => s.state === 'open') ? body : undefined;
    };
    await waitFor(allOpen, { timeoutMs: 20_000, description: 'agent connected with every serial port open' });

    // Device-timestamped csv and json, written in two halves around an unplug of the csv port.
    const base = Date.now() - 120_000;
    const N = 300;
    const csvLine = (i: number) => `${base + i * 10},${round2(20 + i / 100)},${round2(100 + (i % 7) / 10)}\r\n`;
    let csvText = '\n';
    for (let i = 0; i < N / 2; i++) csvText += csvLine(i);
    csvText += 'garbage without commas\r\n1,2\r\n\u0000\u00ff\u00fe\r\n';
    writeTo(csvPty.peer, csvText);

    let jsonText = '\n';
    for (let i = 0; i < N; i++) jsonText += `${JSON.stringify({ ts: base + i * 10, json_flow: round2(i / 3) })}\n`;
    jsonText += '{"json_flow": \n{not json}\n';
    writeTo(jsonPty.b, jsonText);

    let kvText = '\n';
    for (let i = 0; i < N; i++) kvText += `kv_rpm=${1500 + i} kv_amps=${round2(3 + i / 1000)}\n`;
    kvText += 'kv_rpm=fast\n';
    writeTo(kvPty.b, kvText);

    // A real GPS receiver's output (MediaTek MT3339) — what the parser makes of it locally is the expectation.
    const capture = readFileSync(join(ROOT, 'test/fixtures/nmea/mt3339.log'), 'latin1').split(/\r?\n/).slice(0, 400);
    const parse = createParser({ format: 'nmea', sentences: ['GGA', 'RMC', 'VTG'] });
    const expectedGps = new Map<string, { count: number; sum: number }>();
    for (const line of capture) {
      const res = parse(line);
      for (const r of res.readings ?? []) {
        const e = expectedGps.get(r.sensor) ?? { count: 0, sum: 0 };
        e.count++;
        e.sum += r.value;
        expectedGps.set(r.sensor, e);
      }
    }
    expect(expectedGps.get('lat')?.count ?? 0).toBeGreaterThan(10);
    writeTo(gpsPty.b, `\n${capture.join('\r\n')}\r\n`);

    await waitForAggregated(cloud.api, 'gw-serial', 'csv_t', N / 2);

    // Unplug: the device path vanishes; the agent keeps running and reports the port as not open.
    await csvPty.close();
    await waitFor(async () => (await getJson<Status>(status)).body.sources.find((s) => s.name === 'plc')?.state !== 'open', {
      timeoutMs: 10_000,
      description: 'plc reported down',
    });
    expect(agent.running).toBe(true);
    const replug = await openPtyAtPath(csvLink);
    await waitFor(allOpen, { timeoutMs: 20_000, description: 'plc reopened after replug' });
    let rest = '\n';
    for (let i = N / 2; i < N; i++) rest += csvLine(i);
    writeTo(replug.peer, rest);

    await waitForAggregated(cloud.api, 'gw-serial', 'csv_t', N);
    await waitForAggregated(cloud.api, 'gw-serial', 'json_flow', N);
    await waitForAggregated(cloud.api, 'gw-serial', 'kv_rpm', N);
    await waitForAggregated(cloud.api, 'gw-serial', 'lat', expectedGps.get('lat')!.count);

    // Field-tech tools against the live agent.
    const stats = runCli(EDGE_BIN, ['buffer', 'stats', '-c', edge.configPath, '--json'], edge.env);
    expect(stats.code, stats.stderr).toBe(0);
    expect(JSON.parse(stats.stdout).device_id).toBe('gw-serial');
    const doctor = runCli(EDGE_BIN, ['doctor', '-c', edge.configPath], edge.env);
    expect(doctor.stdout).toMatch(/PASS\s+agent/);
    expect(doctor.stdout).toMatch(/PASS\s+broker tcp/);
    expect(doctor.code, doctor.stdout).toBe(0);
    const live = (await getJson<Status>(status)).body;
    expect(live.sources.find((s) => s.name === 'plc')!.parse_errors).toBeGreaterThanOrEqual(2);
    expect(live.sources.find((s) => s.name === 'meter')!.parse_errors).toBeGreaterThanOrEqual(2);

    expect((await agent.kill('SIGTERM')).code, agent.output()).toBe(0);

    // Exactly once, with the values written.
    const stored = readStream(cloud.dataDir);
    expectNoDuplicateReadings(stored.filter((r) => r.sensor.startsWith('csv') || r.sensor.startsWith('json')));
    const now = Date.now();
    const csv = await sumOf(cloud.api, 'gw-serial', 'csv_t', base, now);
    expect(csv.count).toBe(N);
    let want = 0;
    for (let i = 0; i < N; i++) want += round2(20 + i / 100);
    expect(csv.sum).toBeCloseTo(want, 6);
    const json = await sumOf(cloud.api, 'gw-serial', 'json_flow', base, now);
    want = 0;
    for (let i = 0; i < N; i++) want += round2(i / 3);
    expect(json).toMatchObject({ count: N });
    expect(json.sum).toBeCloseTo(want, 6);
    const rpm = await sumOf(cloud.api, 'gw-serial', 'kv_rpm', base, now);
    expect(rpm.count).toBe(N);
    expect(rpm.sum).toBe(N * 1500 + (N * (N - 1)) / 2);
    for (const [sensor, e] of expectedGps) {
      const got = await sumOf(cloud.api, 'gw-serial', sensor, base - 86_400_000, now);
      expect(got.count, sensor).toBe(e.count);
      expect(got.sum, sensor).toBeCloseTo(e.sum, 4);
    }

    const metrics = await (await fetch(`${cloud.api}/metrics`)).text();
    expect(metrics).toMatch(/tidemark_cloud_duplicates_total 0/);
    await replug.close();
    for (const p of [jsonPty, kvPty, gpsPty]) await p.close();
    expect((await collector.kill('SIGTERM')).code).toBe(0);
  });

  it('an agent restart (SIGTERM or SIGKILL) against an idle serial device loses no line', async () => {
    requireTool('socat', 'socat');
    const cloud = await setupCloud();
    const pty = await openPtyPair();
    const statusPort = await freePort();
    const edge = setupEdge(cloud, 'gw-idle', {
      sources: [{ type: 'serial', name: 'meter', path: pty.a, baud_rate: 9600, parser: { format: 'csv', columns: ['ts', 'idle_t'], timestamp_column: 'ts' } }],
      batch: { max_readings: 100, max_delay_ms: 100 },
      status: { listen: `127.0.0.1:${statusPort}` },
    });
    const collector = await cloud.start();
    type Status = { connected: boolean; sources: { name: string; state: string; parse_errors?: number; line_idle_at_open?: boolean }[] };
    const idle = async () => {
      const { body } = await getJson<Status>(`http://127.0.0.1:${statusPort}/status`).catch(() => ({ body: undefined }));
      const meter = body?.sources.find((s) => s.name === 'meter');
      return body?.connected && meter?.line_idle_at_open === true ? meter : undefined;
    };
    const base = Date.now() - 60_000;
    // A device that reports rarely: each start of the agent meets an idle line, and its next line is whole.
    for (let run = 0; run < 3; run++) {
      const agent = edge.start();
      await waitFor(idle, { timeoutMs: 20_000, description: `agent run ${run}: port open and the line seen idle` });
      writeTo(pty.b, `${base + run * 1000},${10 + run}\n`);
      await waitForAggregated(cloud.api, 'gw-idle', 'idle_t', run + 1);
      const meter = await idle();
      expect(meter?.parse_errors, agent.output()).toBe(0);
      if (run === 1) await agent.kill('SIGKILL');
      else expect((await agent.kill('SIGTERM')).code, agent.output()).toBe(0);
    }
    const got = await sumOf(cloud.api, 'gw-idle', 'idle_t', base, Date.now());
    expect(got).toEqual({ count: 3, sum: 10 + 11 + 12 });
    await pty.close();
    expect((await collector.kill('SIGTERM')).code).toBe(0);
  });
});
