import fs from 'node:fs';
import { join } from 'node:path';
import { SerialPort } from 'serialport';
import { afterEach, describe, expect, it } from 'vitest';
import { makeTempDir, openPtyAtPath, requireTool, useProcessReaper, type PtyLink } from '@tidemark/shared/testing';
import { serialConfig } from '../sources/serial/test-support/serial-config.js';
import type { AgentProbe } from './agent-probe.js';
import type { DoctorCheck } from './report.js';
import { serialChecks } from './serial-check.js';

requireTool('socat', 'socat');
useProcessReaper();

/** Plays the device: writes `text` to the peer end every 20 ms until stopped. */
function feed(link: PtyLink, text: string | Buffer): { stop(): Promise<void> } {
  let writing: Promise<void> = Promise.resolve();
  const timer = setInterval(() => {
    writing = writing.then(() => fs.promises.writeFile(link.peer, text)).catch(() => undefined);
  }, 20);
  return {
    stop: async () => {
      clearInterval(timer);
      await writing;
    },
  };
}

const feeders: { stop(): Promise<void> }[] = [];
afterEach(async () => {
  await Promise.all(feeders.splice(0).map((f) => f.stop()));
});

async function device(): Promise<{ link: PtyLink; byId: string }> {
  const dir = await makeTempDir('tidemark-doctor-serial-');
  const byId = join(dir, 'by-id');
  fs.mkdirSync(byId);
  return { link: await openPtyAtPath(join(dir, 'plc')), byId };
}

function statuses(checks: DoctorCheck[]): Record<string, string> {
  return Object.fromEntries(checks.map((c) => [c.name, c.status]));
}

function find(checks: DoctorCheck[], suffix: string): DoctorCheck {
  const c = checks.find((x) => x.name.endsWith(suffix));
  if (!c) throw new Error(`no check ${suffix} in ${checks.map((x) => x.name).join(', ')}`);
  return c;
}

describe('serialChecks', { timeout: 20_000 }, () => {
  it('opens a live port, counts its lines and parses them', async () => {
    const { link, byId } = await device();
    feeders.push(feed(link, '21.5,101.3\r\n'));
    const checks = await serialChecks(serialConfig(link.device), { listenMs: 5000, maxLines: 10, byIdDir: byId });
    expect(statuses(checks)).toEqual({ 'serial plc: device': 'pass', 'serial plc: open': 'pass', 'serial plc: data': 'pass', 'serial plc: parse': 'pass' });
    expect(find(checks, 'device').detail).toMatch(new RegExp(`^${link.device} → /dev/pts/\\d+ exists$`));
    expect(find(checks, 'open').detail).toBe('opened at 115200 baud 8N1');
    expect(find(checks, 'data').detail).toMatch(/^10 lines within 5 s/);
    expect(find(checks, 'parse').detail).toBe('10/10 lines parsed by parser csv into 20 readings (pressure_kpa, temp_c)');
  });

  it('fails the parse check when no line parses, showing an example and the parser settings', async () => {
    const { link, byId } = await device();
    feeders.push(feed(link, 'T=21.5 P=101.3\n'));
    const checks = await serialChecks(serialConfig(link.device), { listenMs: 5000, maxLines: 5, byIdDir: byId });
    const parse = find(checks, 'parse');
    expect(parse.status).toBe('fail');
    expect(parse.detail).toBe('5 of 5 lines failed parser csv, e.g. wrong_field_count: expected 2 fields, got 1 in "T=21.5 P=101.3"');
    expect(parse.hint).toContain('columns temp_c,pressure_kpa');
  });

  it('with skip_header, the first line after opening is not parsed (as the source does)', async () => {
    const { link, byId } = await device();
    feeders.push(feed(link, '21.5,101.3\n'));
    const config = serialConfig(link.device, { parser: { format: 'csv', columns: ['temp_c', 'pressure_kpa'], skip_header: true } });
    const checks = await serialChecks(config, { listenMs: 5000, maxLines: 5, byIdDir: byId });
    expect(find(checks, 'parse').detail).toMatch(/^4\/4 lines parsed/);
  });

  it('warns when only some lines parse', async () => {
    const { link, byId } = await device();
    feeders.push(feed(link, '21.5,101.3\nerr,101.3\n'));
    const checks = await serialChecks(serialConfig(link.device), { listenMs: 5000, maxLines: 6, byIdDir: byId });
    expect(find(checks, 'parse')).toMatchObject({ status: 'warn', detail: expect.stringMatching(/^\d of \d lines failed parser csv, e.g. not_a_number: temp_c: "err"/) });
  });

  it('warns when the port is silent', async () => {
    const { link, byId } = await device();
    const checks = await serialChecks(serialConfig(link.device), { listenMs: 300, byIdDir: byId });
    expect(statuses(checks)).toEqual({ 'serial plc: device': 'pass', 'serial plc: open': 'pass', 'serial plc: data': 'warn' });
    expect(find(checks, 'data').detail).toBe('no data within 0.3 s');
  });

  it('suspects the baud rate when the bytes look like noise', async () => {
    const { link, byId } = await device();
    feeders.push(feed(link, Buffer.from([0x00, 0x13, 0x81, 0xfe, 0x02, 0x1f, 0x07, 0xff])));
    const checks = await serialChecks(serialConfig(link.device), { listenMs: 500, byIdDir: byId });
    const data = find(checks, 'data');
    expect(data).toMatchObject({ status: 'warn', detail: expect.stringMatching(/bytes but no complete line/) });
    expect(data.hint).toContain('is baud_rate 115200');
  });

  it('a missing device fails with the devices that are present, and stops there', async () => {
    const { link, byId } = await device();
    fs.symlinkSync(link.device, join(byId, 'usb-FTDI_FT232R_A1-if00-port0'));
    const checks = await serialChecks(serialConfig(join(byId, 'usb-gone-if00')), { byIdDir: byId });
    expect(checks).toHaveLength(1);
    expect(checks[0]).toMatchObject({ name: 'serial plc: device', status: 'fail', detail: `${join(byId, 'usb-gone-if00')} does not exist` });
    expect(checks[0]!.hint).toMatch(/^serial devices present now: .*usb-FTDI_FT232R_A1-if00-port0 \(→ \/dev\/pts\/\d+\)$/);
  });

  it('a missing device with nothing plugged in says so', async () => {
    const dir = await makeTempDir('tidemark-doctor-serial-');
    const checks = await serialChecks(serialConfig('/dev/serial/by-id/usb-nothing'), { byIdDir: join(dir, 'by-id') });
    expect(checks[0]!.hint).toMatch(/no USB serial device is plugged in/);
  });

  it('a port held by another process (the agent) is a warning, not a crash', async () => {
    const { link, byId } = await device();
    const holder = new SerialPort({ path: link.device, baudRate: 115200, autoOpen: false });
    await new Promise<void>((resolve, reject) => holder.open((err) => (err ? reject(err) : resolve())));
    try {
      const checks = await serialChecks(serialConfig(link.device), { listenMs: 300, byIdDir: byId });
      expect(statuses(checks)).toEqual({ 'serial plc: device': 'pass', 'serial plc: open': 'warn' });
      expect(find(checks, 'open').detail).toContain('in use by another process');
      expect(find(checks, 'open').hint).toContain('systemctl stop tidemark-edge');
    } finally {
      await new Promise((resolve) => holder.close(resolve));
    }
  });

  it('leaves the port alone when an agent is running and reports what the agent says', async () => {
    const { link, byId } = await device();
    const agent: AgentProbe = {
      state: 'running',
      url: 'http://127.0.0.1:9101/status',
      status: {
        connected: true,
        sources: [
          {
            name: 'plc',
            type: 'serial',
            state: 'open',
            parse_errors: 3,
            recent_parse_errors: [{ at: '2025-01-01T00:00:00.000Z', reason: 'wrong_field_count', line: 'T=1' }],
          },
        ],
      },
    };
    // Hold the port ourselves: had doctor tried to open it, the result would be a lock warning.
    const holder = new SerialPort({ path: link.device, baudRate: 115200, autoOpen: false });
    await new Promise<void>((resolve, reject) => holder.open((err) => (err ? reject(err) : resolve())));
    try {
      const checks = await serialChecks(serialConfig(link.device), { agent, byIdDir: byId });
      expect(checks.map((c) => [c.name, c.status, c.detail])).toEqual([
        ['serial plc: device', 'pass', expect.any(String)],
        ['serial plc: open', 'pass', 'in use by the running agent, which reports state "open" (not opened by doctor)'],
        ['serial plc: parse', 'warn', 'the running agent reports 3 parse errors, latest wrong_field_count in "T=1"'],
      ]);
      const down = await serialChecks(serialConfig(link.device), {
        agent: { ...agent, status: { sources: [{ name: 'plc', type: 'serial', state: 'disconnected' }] } },
        byIdDir: byId,
      });
      expect(find(down, 'open')).toMatchObject({ status: 'warn', detail: 'the running agent reports state "disconnected"' });
    } finally {
      await new Promise((resolve) => holder.close(resolve));
    }
  });
});
