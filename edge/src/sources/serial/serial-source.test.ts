// The serial source against real pseudo-terminals (socat): framing and error accounting end to end, and a
// real unplug/replug — the device path vanishes and comes back while the source keeps running.
import fs from 'node:fs';
import path from 'node:path';
import { Writable } from 'node:stream';
import { SerialPort } from 'serialport';
import { afterEach, describe, expect, it } from 'vitest';
import { counterValue, createLogger, MetricsRegistry } from '@tidemark/shared';
import { makeTempDir, openPtyAtPath, openPtyPair, requireTool, useProcessReaper, waitFor } from '@tidemark/shared/testing';
import type { SourceContext, SourceReading } from '../source.js';
import { SerialSource } from './serial-source.js';
import { serialConfig } from './test-support/serial-config.js';

requireTool('socat', 'socat');
useProcessReaper();

interface LogLine {
  level: string;
  msg: string;
  [k: string]: unknown;
}

interface TestContext extends SourceContext {
  readings: SourceReading[];
  logs: LogLine[];
  errors(reason?: string): Promise<number>;
  connected(): Promise<number>;
  lines(): Promise<number>;
}

function testContext(opts: { sink?: (r: readonly SourceReading[]) => void } = {}): TestContext {
  const readings: SourceReading[] = [];
  const logs: LogLine[] = [];
  const destination = new Writable({
    write(chunk: Buffer, _enc, done) {
      for (const l of chunk.toString().split('\n')) if (l !== '') logs.push(JSON.parse(l) as LogLine);
      done();
    },
  });
  const metrics = new MetricsRegistry('tidemark_edge');
  return {
    readings,
    logs,
    sink: opts.sink ?? ((batch) => void readings.push(...batch)),
    logger: createLogger({ name: 'serial-test', level: 'debug', destination }),
    metrics,
    now: () => Date.now(),
    errors: (reason) => counterValue(metrics.counter('source_parse_errors_total', '', ['source', 'reason']), reason ? { source: 'plc', reason } : { source: 'plc' }),
    connected: () => counterValue(metrics.gauge('source_connected', '', ['source']), { source: 'plc' }),
    lines: () => counterValue(metrics.counter('serial_lines_total', '', ['source']), { source: 'plc' }),
  };
}

const sources: SerialSource[] = [];
afterEach(async () => {
  for (const s of sources.splice(0)) await s.stop();
});

function track(source: SerialSource): SerialSource {
  sources.push(source);
  return source;
}

const write = (device: string, text: string | Buffer) => fs.promises.writeFile(device, text);

describe('SerialSource on a pty', () => {
  // read_interval_ms 20 reads on a timer (port-poller.ts), 0 through serialport's stream: same result.
  it.each([20, 0])('frames, parses and counts: split lines, CR/LF/CRLF, bad lines by reason, recent errors (read_interval_ms %i)', async (interval) => {
    const pty = await openPtyPair();
    const ctx = testContext();
    const source = track(new SerialSource(serialConfig(pty.a, { max_line_length: 32, read_interval_ms: interval }), ctx));
    await source.start();
    expect(source.connected).toBe(true);
    expect(await ctx.connected()).toBe(1);

    // A leading line end: whole lines follow whether or not the line was seen idle at the open.
    await write(pty.b, '\n21.5,101.3\r\n21');
    await write(pty.b, '.6,101.');
    await write(pty.b, '4\r21.7,101.5\n');
    await waitFor(() => ctx.readings.length >= 6, { description: 'three csv lines' });
    expect(ctx.readings.map((r) => [r.sensor, r.value, r.ts])).toEqual([
      ['temp_c', 21.5, undefined],
      ['pressure_kpa', 101.3, undefined],
      ['temp_c', 21.6, undefined],
      ['pressure_kpa', 101.4, undefined],
      ['temp_c', 21.7, undefined],
      ['pressure_kpa', 101.5, undefined],
    ]);

    await write(pty.b, `1,2,3\nhot,101\n${'9'.repeat(100)}\n,\n22.0,102.0\n`);
    await waitFor(() => ctx.readings.length >= 9, { description: 'the last good line' });
    expect(ctx.readings.slice(6).map((r) => r.value)).toEqual([101, 22, 102]); // `hot,101` keeps its good cell
    expect(await ctx.errors('partial_line')).toBe(0);
    expect(await ctx.errors('wrong_field_count')).toBe(1);
    expect(await ctx.errors('not_a_number')).toBe(1);
    expect(await ctx.errors('line_too_long')).toBe(1);
    expect(await ctx.errors('no_readings')).toBe(1);
    expect(await ctx.lines()).toBe(8);

    const recent = source.recentErrors();
    expect(recent.map((e) => [e.reason, e.line])).toEqual([
      ['wrong_field_count', '1,2,3'],
      ['not_a_number', 'hot,101'],
      ['line_too_long', '9'.repeat(33)],
      ['no_readings', ','],
    ]);
    for (const e of recent) expect(Date.parse(e.at)).toBeGreaterThan(Date.now() - 60_000);
    // Never a log line per bad reading.
    expect(ctx.logs.filter((l) => l.level !== 'debug').map((l) => l.msg)).toEqual(['serial port open']);
  });

  it('an idle line at open: the first line is whole and is kept (a restart loses no reading)', async () => {
    const pty = await openPtyPair();
    const ctx = testContext();
    const source = track(new SerialSource(serialConfig(pty.a), ctx));
    await source.start();
    await waitFor(() => source.lineIdleAtOpen === true, { description: 'the line seen idle after the open' });
    await write(pty.b, '21.5,101.3\n');
    await waitFor(() => ctx.readings.length === 2, { description: 'the first line' });
    expect(ctx.readings.map((r) => r.value)).toEqual([21.5, 101.3]);
    expect(await ctx.errors()).toBe(0);

    // The same after a restart of the source against the same idle device.
    await source.stop();
    await source.start();
    await waitFor(() => source.lineIdleAtOpen === true, { description: 'idle again after the restart' });
    await write(pty.b, '21.6,101.4\n');
    await waitFor(() => ctx.readings.length === 4, { description: 'the first line after the restart' });
    expect(ctx.readings.slice(2).map((r) => r.value)).toEqual([21.6, 101.4]);
    expect(await ctx.errors()).toBe(0);
  });

  it('a line already streaming at open: its head is refused as possibly cut, never parsed as a whole line', async () => {
    const pty = await openPtyPair();
    const ctx = testContext();
    const source = track(new SerialSource(serialConfig(pty.a), ctx));
    // The device sends without pause while the port opens (socat drops what is written before the open).
    const out = fs.openSync(pty.b, 'w');
    let streaming = true;
    const writer = (async () => {
      while (streaming) await new Promise<void>((resolve) => fs.write(out, '21.5,101.3\n', () => setTimeout(resolve, 2)));
    })();
    try {
      await source.start();
      await waitFor(() => ctx.readings.length >= 10, { description: 'lines while streaming' });
    } finally {
      streaming = false;
      await writer;
      fs.closeSync(out);
    }
    expect(source.lineIdleAtOpen).toBe(false);
    // The head (whole or cut, it cannot be known) is refused; every reading comes from a whole line.
    expect(await ctx.errors('partial_line')).toBe(1);
    expect(await ctx.errors()).toBe(1);
    expect(ctx.readings.length % 2).toBe(0);
    ctx.readings.forEach((r, i) => expect([r.sensor, r.value]).toEqual(i % 2 === 0 ? ['temp_c', 21.5] : ['pressure_kpa', 101.3]));
  });

  it('keeps only the last 10 refused lines', async () => {
    const pty = await openPtyPair();
    const ctx = testContext();
    const source = track(new SerialSource(serialConfig(pty.a, { parser: { format: 'kv' } }), ctx));
    await source.start();
    const bad = Array.from({ length: 25 }, (_, i) => `t=bad${i}`);
    await write(pty.b, `\n${bad.join('\n')}\nt=1\n`);
    await waitFor(() => ctx.readings.length === 1, { description: 'the good line' });
    expect(await ctx.errors('not_a_number')).toBe(25);
    expect(source.recentErrors().map((e) => e.line)).toEqual(bad.slice(15));
  });

  it('skip_header drops the first line after connecting as the header', async () => {
    const pty = await openPtyPair();
    const ctx = testContext();
    const config = serialConfig(pty.a, { parser: { format: 'csv', columns: ['t', 'p'], skip_header: true, timestamp_column: 't' } });
    const source = track(new SerialSource(config, ctx));
    await source.start();
    await write(pty.b, '\r\ntime,pressure\r\n2024-05-01T12:00:00Z,101.3\r\n');
    await waitFor(() => ctx.readings.length === 1, { description: 'one reading' });
    expect(ctx.readings).toEqual([{ sensor: 'p', value: 101.3, ts: Date.UTC(2024, 4, 1, 12) }]);
    expect(await ctx.errors()).toBe(0);
  });

  it('reads NMEA from a GPS HAT capture', async () => {
    const pty = await openPtyPair();
    const ctx = testContext();
    const source = track(new SerialSource(serialConfig(pty.a, { baud_rate: 9600, parser: { format: 'nmea' } }), ctx));
    await source.start();
    const capture = fs.readFileSync(new URL('../../../../test/fixtures/nmea/mt3339.log', import.meta.url), 'utf8');
    const sentences = capture.split('\n').filter((l) => l.startsWith('$'));
    await write(pty.b, `\r\n${sentences.join('\n')}\n`);
    const fixes = sentences.filter((l) => l.startsWith('$GPGGA')).length;
    await waitFor(() => ctx.readings.filter((r) => r.sensor === 'lat').length === fixes, { description: 'every fix' });
    expect(await ctx.errors()).toBe(0);
    const lon = ctx.readings.find((r) => r.sensor === 'lon')!;
    expect(lon.value).toBeCloseTo(-121.3142, 4);
    expect(lon.ts).toBeUndefined();
  });

  it('survives a sink that throws', async () => {
    const pty = await openPtyPair();
    let calls = 0;
    const ctx = testContext({
      sink: () => {
        calls++;
        throw new Error('buffer full');
      },
    });
    const source = track(new SerialSource(serialConfig(pty.a), ctx));
    await source.start();
    await write(pty.b, '\n1,2\n');
    await waitFor(() => calls === 1, { description: 'first sink call' });
    await write(pty.b, '3,4\n');
    await waitFor(() => calls === 2, { description: 'second sink call' });
    expect(source.connected).toBe(true);
    expect(ctx.logs.filter((l) => l.msg.includes('refused readings'))).toHaveLength(1);
  });

  it('releases the port on stop, so another process can open it', async () => {
    const pty = await openPtyPair();
    const ctx = testContext();
    const source = track(new SerialSource(serialConfig(pty.a), ctx));
    await source.start();
    await source.stop();
    expect(await ctx.connected()).toBe(0);
    const other = new SerialPort({ path: pty.a, baudRate: 9600, autoOpen: false });
    await new Promise<void>((resolve, reject) => other.open((err) => (err ? reject(err) : resolve())));
    await new Promise<void>((resolve) => other.close(() => resolve()));
    // And it can start again.
    await source.start();
    expect(source.connected).toBe(true);
  });
});

describe('SerialSource unplug and replug', () => {
  it('waits for a device that is absent at start, without throwing', async () => {
    const dir = await makeTempDir();
    const device = path.join(dir, 'usb-Tidemark_Sensor_0002-if00-port0');
    const ctx = testContext();
    const source = track(new SerialSource(serialConfig(device, { reconnect_min_ms: 20, reconnect_max_ms: 100 }), ctx));
    await source.start(); // resolves although the port cannot be opened
    expect(source.connected).toBe(false);
    expect(await ctx.connected()).toBe(0);
    await waitFor(() => ctx.logs.filter((l) => l.msg.includes('open retry failed')).length >= 2, { description: 'a few retries' });

    const link = await openPtyAtPath(device);
    await waitFor(async () => (await ctx.connected()) === 1, { description: 'connected once the device appears' });
    await write(link.peer, '\n5,6\n');
    await waitFor(() => ctx.readings.length === 2, { description: 'readings' });
    const notDebug = ctx.logs.filter((l) => l.level !== 'debug').map((l) => l.msg);
    expect(notDebug).toEqual(['cannot open serial port; retrying with backoff', 'serial port open again']);
  });

  it('reconnects after the device vanishes and returns, discarding and counting the half-line', async () => {
    const dir = await makeTempDir();
    // The shape of a stable /dev/serial/by-id/ path.
    const device = path.join(dir, 'usb-FTDI_FT232R_USB_UART_A10K3WQ1-if00-port0');
    const ctx = testContext();
    const source = track(new SerialSource(serialConfig(device, { reconnect_min_ms: 20, reconnect_max_ms: 200 }), ctx));

    const first = await openPtyAtPath(device);
    await source.start();
    expect(await ctx.connected()).toBe(1);
    // The unplug cuts the third line: its half is counted, never parsed.
    await write(first.peer, '\n1.0,2.0\n1.1,2.1\n1.2,2');
    await waitFor(() => ctx.readings.length === 4, { description: 'readings before the unplug' });

    // Unplug: socat dies abruptly and the device path disappears.
    await first.process.sigkill();
    expect(fs.existsSync(device)).toBe(false);
    await waitFor(async () => (await ctx.connected()) === 0, { description: 'source_connected drops to 0' });
    expect(source.connected).toBe(false);
    await waitFor(() => ctx.logs.filter((l) => l.msg.includes('open retry failed')).length >= 3, { description: 'quiet retries' });

    // Replug at the same path.
    const second = await openPtyAtPath(device);
    await waitFor(async () => (await ctx.connected()) === 1, { description: 'source_connected back to 1' });
    // Garbage, then good lines.
    await write(second.peer, Buffer.concat([Buffer.from('\n'), Buffer.from([0x00, 0xff, 0xfe, 0x2c, 0x0a]), Buffer.from('3.0,4.0\r\n3.1,4.1\r\n')]));
    await waitFor(() => ctx.readings.length === 8, { description: 'readings after the replug' });
    expect(ctx.readings.slice(4).map((r) => r.value)).toEqual([3.0, 4.0, 3.1, 4.1]);
    expect(await ctx.errors('partial_line')).toBe(1);
    expect(await ctx.errors('not_a_number')).toBe(1);
    expect(source.recentErrors().at(-2)).toMatchObject({ reason: 'partial_line', line: '1.2,2' });

    // State changes are logged, retries are not (beyond the first failure).
    const notDebug = ctx.logs.filter((l) => l.level !== 'debug').map((l) => l.msg);
    expect(notDebug).toEqual([
      'serial port open',
      'serial port lost; reconnecting',
      'cannot open serial port; retrying with backoff',
      'serial port open again',
    ]);
    const disconnects = await counterValue(ctx.metrics.counter('source_reconnects_total', '', ['source']), { source: 'plc' });
    expect(disconnects).toBe(1);

    // A second unplug with a clean shutdown of the device (SIGTERM) works the same way.
    await second.close();
    await waitFor(async () => (await ctx.connected()) === 0, { description: 'disconnected again' });
    const third = await openPtyAtPath(device);
    await waitFor(async () => (await ctx.connected()) === 1, { description: 'connected again' });
    await write(third.peer, '\n5.0,6.0\n');
    await waitFor(() => ctx.readings.length === 10, { description: 'readings after the second replug' });
  });

  it('stops cleanly while waiting to reconnect', async () => {
    const dir = await makeTempDir();
    const device = path.join(dir, 'ttyGONE');
    const ctx = testContext();
    const source = track(new SerialSource(serialConfig(device, { reconnect_min_ms: 10_000, reconnect_max_ms: 10_000 }), ctx));
    const link = await openPtyAtPath(device);
    await source.start();
    await link.process.sigkill();
    await waitFor(async () => (await ctx.connected()) === 0, { description: 'disconnected' });
    const started = Date.now();
    await source.stop(); // must not wait for the 10 s backoff
    expect(Date.now() - started).toBeLessThan(2_000);
    expect(await ctx.connected()).toBe(0);
  });
});
