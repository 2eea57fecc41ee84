import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import { join } from 'node:path';
import { SerialPort } from 'serialport';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createLogger, MetricsRegistry } from '@tidemark/shared';
import { freePort, makeTempDir, openPtyAtPath, requireTool, startMosquitto, useProcessReaper, type MosquittoServer, type PtyLink } from '@tidemark/shared/testing';
import { StatusServer } from '../status/status-server.js';
import { runDoctor } from './doctor.js';
import { doctorExitCode, formatDoctorReport, type DoctorReport } from './report.js';
import { doctorConfig } from './test-support/doctor-config.js';

const mosquittoPasswd = requireTool('mosquitto_passwd', 'mosquitto');
requireTool('socat', 'socat');
useProcessReaper();

const PASSWORD = 'pw-press-07';
let broker: MosquittoServer;

beforeAll(async () => {
  const dir = await makeTempDir('tidemark-doctor-e2e-');
  execFileSync(mosquittoPasswd, ['-b', '-c', join(dir, 'passwords'), 'press-07', PASSWORD]);
  broker = await startMosquitto({ allowAnonymous: false, configLines: [`password_file ${join(dir, 'passwords')}`] });
}, 30_000);

const stops: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const s of stops.splice(0)) await s();
});

function feed(link: PtyLink, text: string): void {
  let writing: Promise<void> = Promise.resolve();
  const timer = setInterval(() => {
    writing = writing.then(() => fs.promises.writeFile(link.peer, text)).catch(() => undefined);
  }, 20);
  stops.push(async () => {
    clearInterval(timer);
    await writing;
  });
}

async function gateway(statusPort: number) {
  const dir = await makeTempDir('tidemark-doctor-gw-');
  const link = await openPtyAtPath(join(dir, 'plc'));
  feed(link, '21.5,101.3\n');
  const config = doctorConfig(dir, {
    data_dir: join(dir, 'var', 'tidemark'),
    sources: [
      { type: 'serial', name: 'plc', path: link.device, baud_rate: 115200, parser: { format: 'csv', columns: ['temp_c', 'pressure_kpa'] } },
      { type: 'simulated', name: 'sim', rate_hz: 1, sensors: [{ name: 'x', shape: 'sine', min: 0, max: 1, period_s: 10 }] },
    ],
    buffer: { max_bytes: '1MB' },
    uplink: { url: broker.url, password: PASSWORD },
    status: { listen: `127.0.0.1:${statusPort}` },
  });
  return { config, link };
}

function table(report: DoctorReport): [string, string][] {
  return report.checks.map((c) => [c.name, c.status]);
}

describe('runDoctor', { timeout: 30_000 }, () => {
  it('a fresh gateway with no agent running: every item checked, credentials tested', async () => {
    const { config } = await gateway(await freePort());
    const report = await runDoctor(config, { configPath: 'edge.yaml', serialListenMs: 5000, clockProbe: async () => true, timeoutMs: 3000 });
    expect(table(report)).toEqual([
      ['config', 'pass'],
      ['agent', 'warn'],
      ['data_dir', 'pass'],
      ['disk', 'pass'],
      ['buffer', 'pass'],
      ['serial plc: device', 'pass'],
      ['serial plc: open', 'pass'],
      ['serial plc: data', 'pass'],
      ['serial plc: parse', 'pass'],
      ['simulated sim', 'warn'],
      ['broker tcp', 'pass'],
      ['broker auth', 'pass'],
      ['clock', 'pass'],
    ]);
    expect(report.checks[0]!.detail).toBe(`edge.yaml loaded: device press-07; sources: serial plc, simulated sim; uplink ${broker.url}`);
    expect(doctorExitCode(report)).toBe(0);
    const text = formatDoctorReport(report);
    expect(text).toMatch(/^ {2}PASS {2}broker auth {9}CONNECT as press-07 accepted/m);
    expect(text).toContain('result: WARN — 0 failed, 2 warnings, 11 passed');
    // doctor created nothing: the agent makes data_dir on its first run.
    expect(fs.existsSync(config.data_dir)).toBe(false);
  });

  it('beside a running agent: reads its status, leaves its port and MQTT session alone', async () => {
    const statusPort = await freePort();
    const { config, link } = await gateway(statusPort);
    // The "agent": holds the serial port and serves /status.
    const port = new SerialPort({ path: link.device, baudRate: 115200, autoOpen: false });
    await new Promise<void>((resolve, reject) => port.open((err) => (err ? reject(err) : resolve())));
    stops.push(() => new Promise((resolve) => port.close(resolve)));
    const server = new StatusServer({
      listen: { host: '127.0.0.1', port: statusPort },
      metrics: new MetricsRegistry('tidemark_edge'),
      logger: createLogger({ name: 'test', level: 'silent' }),
      status: () => ({
        device: 'press-07',
        connected: true,
        backlog_readings: 0,
        oldest_buffered_time: null,
        clock_synced: true,
        sources: [{ name: 'plc', type: 'serial', state: 'open', parse_errors: 0 }],
      }),
    });
    await server.start();
    stops.push(() => server.stop());

    const report = await runDoctor({ ...config, uplink: { ...config.uplink, password: 'not-even-the-right-one' } }, { authCheck: true, clockProbe: async () => true });
    const byName = Object.fromEntries(report.checks.map((c) => [c.name, c]));
    expect(byName.agent).toMatchObject({ status: 'pass', detail: 'running; connected to the collector; backlog 0 readings' });
    expect(byName['serial plc: open']).toMatchObject({ status: 'pass', detail: expect.stringContaining('in use by the running agent') });
    expect(byName['serial plc: parse']).toMatchObject({ status: 'pass' });
    expect(byName['serial plc: data']).toBeUndefined();
    expect(byName['broker auth']).toMatchObject({ status: 'pass', detail: expect.stringContaining('the running agent is connected') });
  });

  it('a broken gateway fails with exit code 1 and hints', async () => {
    const dir = await makeTempDir('tidemark-doctor-broken-');
    const config = doctorConfig(dir, {
      sources: [{ type: 'serial', name: 'plc', path: join(dir, 'no-such-tty'), parser: { format: 'kv' } }],
      uplink: { url: `mqtt://127.0.0.1:${await freePort()}` },
      clock: { sync_check: 'auto', min_plausible_time: '2999-01-01T00:00:00Z' },
    });
    const report = await runDoctor(config, { clockProbe: async () => undefined, timeoutMs: 2000 });
    expect(doctorExitCode(report)).toBe(1);
    const text = formatDoctorReport(report);
    expect(text).toMatch(/FAIL {2}serial plc: device .*no-such-tty does not exist/);
    expect(text).toMatch(/FAIL {2}broker tcp .*connection refused/);
    expect(text).toMatch(/FAIL {2}clock .*before clock\.min_plausible_time/);
    expect(text).toMatch(/hint: /);
    expect(text).toMatch(/result: FAIL — 3 failed/);
  });
});
