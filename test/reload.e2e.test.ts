// Hot reload end to end: a real agent fed by a real pty (device-timestamped csv, numbered lines written
// continuously, also while reloads happen) and a real collector. A bad config file (SIGHUP through
// `tidemark-edge reload`) is refused with every error and its path, in the CLI's output and the agent's log,
// and the running config stays; a change a reload cannot make (device.id) is refused with its reason; a good
// file adds a source and a transform and changes the uplink (reconnected), later removes a source, without
// restarting what did not change.
// Through all of it every written line reaches the collector exactly once, in one stream.
import { closeSync, existsSync, openSync, readFileSync, writeSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { freePort, openPtyPair, requireTool, useProcessReaper, waitFor } from '@tidemark/shared/testing';
import { EDGE_BIN, getJson, startCli, writeYaml } from './support/cli.js';
import { setupCloud, setupEdge, waitForAggregated } from './support/pipeline.js';
import { expectNoDuplicateReadings, readStream } from './support/stream-check.js';
import { parse } from 'yaml';

type Status = { connected: boolean; stream_id: string; sources: { name: string; state: string }[] };

/** A device that writes numbered csv lines (`ts,counter`) at a steady pace until told to stop. */
function lineWriter(path: string, base: number) {
  const fd = openSync(path, 'w');
  // The source drops the partial line it may open in the middle of: start on a line boundary.
  writeSync(fd, '\n');
  let next = 0;
  let timer: NodeJS.Timeout | undefined;
  const write = (n: number) => {
    let text = '';
    for (let k = 0; k < n; k++, next++) text += `${base + next * 10},${next}\r\n`;
    writeSync(fd, text);
  };
  return {
    get written() {
      return next;
    },
    start: () => {
      timer = setInterval(() => write(2), 5);
    },
    stop: () => clearInterval(timer),
    close: () => {
      clearInterval(timer);
      closeSync(fd);
    },
  };
}

describe('config reload (SIGHUP) end to end', () => {
  useProcessReaper();

  it('refuses a bad file keeping the running config, applies a good one, and no reading is lost or duplicated', async () => {
    requireTool('socat', 'socat');
    const cloud = await setupCloud();
    const plcPty = await openPtyPair();
    const meterPty = await openPtyPair();
    const statusPort = await freePort();
    const plc = { type: 'serial', name: 'plc', path: plcPty.a, parser: { format: 'csv', columns: ['ts', 'counter'], timestamp_column: 'ts' } };
    const edge = setupEdge(cloud, 'gw-reload', {
      sources: [plc],
      batch: { max_readings: 200, max_delay_ms: 100 },
      status: { listen: `127.0.0.1:${statusPort}` },
    });
    const original = parse(readFileSync(edge.configPath, 'utf8')) as Record<string, unknown>;
    const writeConfig = (overrides: Record<string, unknown>) => writeYaml(edge.configPath, { ...original, ...overrides });
    const reload = async () => {
      const p = startCli('reload', EDGE_BIN, ['reload', '-c', edge.configPath], edge.env);
      const exit = await p.exited;
      return { code: exit.code, stdout: p.stdout(), stderr: p.stderr() };
    };
    const statusUrl = `http://127.0.0.1:${statusPort}/status`;
    const status = async () => (await getJson<Status>(statusUrl)).body;

    const collector = await cloud.start();
    const agent = edge.start();
    await waitFor(async () => {
      const s = await status().catch(() => undefined);
      return s?.connected && s.sources.every((x) => x.state === 'open');
    }, { timeoutMs: 40_000, description: 'agent connected with its port open' });
    const stream = (await status()).stream_id;
    const pidFile = join(dirname(edge.configPath), 'edge', 'gw-reload', 'agent.pid');
    expect(JSON.parse(readFileSync(pidFile, 'utf8'))).toMatchObject({ pid: agent.pid, config_path: edge.configPath });

    const writer = lineWriter(plcPty.b, Date.now() - 600_000);
    writer.start();
    await waitFor(() => writer.written >= 200, { timeoutMs: 10_000, description: '200 lines written' });

    // 1. A bad file: every error with its path, in the CLI's answer and in the agent's log; nothing applied.
    writeConfig({ sources: [{ ...plc, baud_rate: -5 }], transforms: [{ type: 'average', sensors: '*' }], batch: { max_readings: 'lots' } });
    const bad = await reload();
    expect(bad.code, bad.stdout + bad.stderr).toBe(1);
    for (const path of ['sources[0].baud_rate', 'transforms[0].type', 'batch.max_readings']) {
      expect(bad.stderr).toContain(path);
      await agent.waitForOutput(`config reload refused: ${path}`, 10_000);
    }
    expect(bad.stderr).toMatch(/reload NOT taken; the running config stays \(3 errors\)/);

    // 2. A valid file that changes what a reload cannot change: refused with the reason, nothing applied.
    writeConfig({ device: { id: 'gw-other' }, sources: [plc, { type: 'serial', name: 'meter', path: meterPty.a, parser: { format: 'json' } }] });
    const refused = await reload();
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/device\.id: cannot be changed by a reload/);
    expect((await status()).sources.map((s) => s.name)).toEqual(['plc']);

    // 3. A good file: a new source, a transform and new uplink settings (the link reconnects while batches are
    // in flight: they are resent, and de-duplicated); plc is unchanged and keeps running (never restarted).
    const uplink = { ...(original.uplink as Record<string, unknown>), keepalive_s: 20, max_inflight: 4 };
    writeConfig({
      sources: [plc, { type: 'serial', name: 'meter', path: meterPty.a, parser: { format: 'json' } }],
      transforms: [{ type: 'scale', sensors: 'flow_raw', factor: 10, rename: 'flow' }],
      uplink,
    });
    const good = await reload();
    expect(good.code, good.stderr).toBe(0);
    expect(good.stdout).toMatch(/reload taken: sources started meter; kept plc; transforms changed; uplink restarted/);
    await waitFor(async () => (await status()).sources.map((s) => `${s.name}:${s.state}`).join() === 'plc:open,meter:open', {
      timeoutMs: 10_000,
      description: 'plc and meter open',
    });
    const base = Date.now() - 300_000;
    let json = '\n';
    for (let i = 0; i < 50; i++) json += `${JSON.stringify({ ts: base + i * 100, flow_raw: i })}\n`;
    const meterFd = openSync(meterPty.b, 'w');
    writeSync(meterFd, json);
    closeSync(meterFd);
    await waitForAggregated(cloud.api, 'gw-reload', 'flow', 50);

    // 4. Stop writing; every plc line written (also those written during the reloads) arrives. Then another
    // good file removes plc (lines still unread in the port when a source is removed are not read: wait first).
    writer.stop();
    const written = writer.written;
    await waitForAggregated(cloud.api, 'gw-reload', 'counter', written, 30_000);
    writeConfig({
      sources: [{ type: 'serial', name: 'meter', path: meterPty.a, parser: { format: 'json' } }],
      transforms: [{ type: 'scale', sensors: 'flow_raw', factor: 10, rename: 'flow' }],
      uplink,
    });
    const removed = await reload();
    expect(removed.code, removed.stderr).toBe(0);
    expect(removed.stdout).toMatch(/reload taken: sources stopped plc; kept meter; transforms unchanged/);
    expect((await status()).sources.map((s) => s.name)).toEqual(['meter']);

    expect((await status()).stream_id).toBe(stream); // the buffer and its stream were never touched
    expect(agent.running).toBe(true);
    expect((await agent.kill('SIGTERM')).code, agent.output()).toBe(0);
    expect(existsSync(pidFile)).toBe(false); // removed on a clean exit
    writer.close();

    const stored = readStream(cloud.dataDir).filter((r) => r.device === 'gw-reload');
    expectNoDuplicateReadings(stored);
    expect(new Set(stored.map((r) => r.stream))).toEqual(new Set([stream]));
    const counters = stored.filter((r) => r.sensor === 'counter').map((r) => r.value).sort((a, b) => a - b);
    expect(counters).toEqual(Array.from({ length: written }, (_, i) => i));
    const flows = stored.filter((r) => r.sensor === 'flow').map((r) => r.value).sort((a, b) => a - b);
    expect(flows).toEqual(Array.from({ length: 50 }, (_, i) => i * 10));
    await plcPty.close();
    await meterPty.close();
    expect((await collector.kill('SIGTERM')).code).toBe(0);
  });
});
