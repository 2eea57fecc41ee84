// Serial sources: the device path (present, a stable /dev/serial/by-id name), the port (opens at the
// configured settings), the data (lines arrive within a few seconds) and the parser (those lines parse).
// A port held by a running agent is never opened: its reads would be split between two readers.
import { readdirSync, realpathSync, statSync } from 'node:fs';
import { basename, join } from 'node:path';
import { SerialPort } from 'serialport';
import type { SerialSourceConfig } from '../config.js';
import { LineFramer } from '../sources/serial/line-framer.js';
import { createParser } from '../sources/serial/parsers/index.js';
import { BY_ID_DIR, stablePathFor } from '../sources/serial/stable-path.js';
import { agentSource, isHealthySource, type AgentProbe } from './agent-probe.js';
import { describeError, errorCode } from './error-text.js';
import { fail, pass, warn, type DoctorCheck } from './report.js';

export interface SerialCheckOptions {
  /** How long to listen for lines (default 3000 ms); stops early after maxLines. */
  listenMs?: number;
  maxLines?: number;
  /** Bound on opening and closing the port. Default 5000 ms. */
  timeoutMs?: number;
  agent?: AgentProbe;
  /** Where stable names live (default /dev/serial/by-id). */
  byIdDir?: string;
}

const STOP_HINT = 'to test the port itself, stop the agent first: sudo systemctl stop tidemark-edge';

interface Heard {
  lines: string[];
  /** What came before the first line end: possibly the tail of a line sent before the port was opened. */
  head: string | undefined;
  bytes: number;
  /** Control bytes and undecodable bytes: many of them mean a wrong baud rate. */
  garbage: number;
  tooLong: number;
}

export async function serialChecks(src: SerialSourceConfig, opts: SerialCheckOptions = {}): Promise<DoctorCheck[]> {
  const prefix = `serial ${src.name}`;
  const checks: DoctorCheck[] = [];
  const device = deviceCheck(`${prefix}: device`, src.path, opts.byIdDir ?? BY_ID_DIR);
  checks.push(device);
  if (device.status === 'fail') return checks;

  const agent = opts.agent;
  if (agent?.state === 'running') return [...checks, ...fromRunningAgent(prefix, src, agent)];

  const port = new SerialPort({
    path: src.path,
    baudRate: src.baud_rate,
    dataBits: src.data_bits,
    parity: src.parity,
    stopBits: src.stop_bits,
    autoOpen: false,
    // flock: a second opener (the agent, another doctor) gets "Cannot lock port" instead of half the bytes.
    lock: true,
  });
  const timeoutMs = opts.timeoutMs ?? 5000;
  const settings = `${src.baud_rate} baud ${src.data_bits}${src.parity[0]!.toUpperCase()}${src.stop_bits}`;
  try {
    await withTimeout(new Promise<void>((resolve, reject) => port.open((err) => (err ? reject(err) : resolve()))), timeoutMs, 'opening the port');
  } catch (err) {
    // A late open after our timeout must not leave the port held.
    // guard-audit: doctor is a one-shot check; this callback only settles its probe (destroy, resolve, format a result)
    port.once('open', () => port.close());
    checks.push(openFailure(`${prefix}: open`, src.path, err));
    return checks;
  }
  checks.push(pass(`${prefix}: open`, `opened at ${settings}`));
  const listenMs = opts.listenMs ?? 3000;
  let heard: Heard;
  try {
    heard = await listen(port, listenMs, opts.maxLines ?? 50, src.max_line_length);
  } finally {
    await withTimeout(new Promise<void>((resolve) => port.close(() => resolve())), timeoutMs, 'closing the port').catch(() => undefined);
  }
  checks.push(dataCheck(`${prefix}: data`, heard, listenMs, src));
  const parse = parseCheck(`${prefix}: parse`, heard, src);
  if (parse) checks.push(parse);
  return checks;
}

export function deviceCheck(name: string, path: string, byIdDir: string = BY_ID_DIR): DoctorCheck {
  let real: string;
  try {
    real = realpathSync(path);
    const st = statSync(real);
    if (!st.isCharacterDevice()) return fail(name, `${path} is not a character device`, 'path must name a serial device, e.g. /dev/serial/by-id/usb-…');
  } catch (err) {
    const plugged = listById(byIdDir);
    if (errorCode(err) === 'ENOENT') {
      return fail(
        name,
        `${path} does not exist`,
        plugged.length > 0
          ? `serial devices present now: ${plugged.map((p) => `${p.path} (→ ${p.target})`).join(', ')}`
          : `no USB serial device is plugged in (${byIdDir} is empty); check the cable and dmesg | tail`,
      );
    }
    return fail(name, `${path}: ${describeError(err)}`);
  }
  const shown = real === path ? path : `${path} → ${real}`;
  if (/^tty(?:USB|ACM)\d+$/.test(basename(path))) {
    const stable = stablePathFor(path, byIdDir);
    return warn(
      name,
      `${shown} exists, but ttyUSB/ttyACM numbers change when devices are replugged or the gateway reboots`,
      stable ? `use path: ${stable}` : `use the device's name under ${byIdDir} (ls -l ${byIdDir})`,
    );
  }
  return pass(name, `${shown} exists`);
}

function listById(dir: string): { path: string; target: string }[] {
  try {
    return readdirSync(dir)
      .sort()
      .map((entry) => {
        const path = join(dir, entry);
        let target = '?';
        try {
          target = realpathSync(path);
        } catch {
          // dangling link: the device just went away
        }
        return { path, target };
      });
  } catch {
    return [];
  }
}

function openFailure(name: string, path: string, err: unknown): DoctorCheck {
  const msg = describeError(err);
  const code = errorCode(err);
  if (/Cannot lock port|Resource temporarily unavailable|EBUSY|Device or resource busy/i.test(msg) || code === 'EBUSY') {
    return warn(name, `${path} is in use by another process (the running agent?)`, `${STOP_HINT}; see who holds it: sudo fuser -v ${path}`);
  }
  if (/Permission denied|EACCES/i.test(msg) || code === 'EACCES') {
    return fail(name, `${path}: permission denied`, 'sudo usermod -aG dialout tidemark (then log in again; the systemd unit adds the dialout group)');
  }
  return fail(name, `${path} does not open: ${msg}`, 'check the serial settings (baud_rate, data_bits, parity, stop_bits) and dmesg | tail');
}

function listen(port: SerialPort, ms: number, maxLines: number, maxLineLength: number): Promise<Heard> {
  const heard: Heard = { lines: [], head: undefined, bytes: 0, garbage: 0, tooLong: 0 };
  const framer = new LineFramer(maxLineLength, {
    line: (text) => {
      if (heard.lines.length < maxLines) heard.lines.push(text);
    },
    head: (text) => {
      if (text !== '') heard.head = text;
    },
    tooLong: () => heard.tooLong++,
  });
  framer.reset();
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(timer);
      port.off('data', onData);
      port.off('close', done);
      resolve(heard);
    };
    const onData = (chunk: Buffer) => {
      heard.bytes += chunk.length;
      heard.garbage += garbageBytes(chunk);
      framer.push(chunk);
      if (heard.lines.length >= maxLines) done();
    };
    // guard-audit: doctor is a one-shot check; this callback only settles its probe (destroy, resolve, format a result)
    const timer = setTimeout(done, ms);
    // guard-audit: doctor is a one-shot check; this callback only settles its probe (destroy, resolve, format a result)
    port.on('data', onData);
    // guard-audit: doctor is a one-shot check; this callback only settles its probe (destroy, resolve, format a result)
    port.on('close', done);
  });
}

function garbageBytes(chunk: Buffer): number {
  let n = 0;
  for (const b of chunk) if ((b < 0x20 && b !== 0x09 && b !== 0x0a && b !== 0x0d) || b === 0x7f) n++;
  for (const ch of chunk.toString('utf8')) if (ch === '\uFFFD') n++;
  return n;
}

function dataCheck(name: string, heard: Heard, listenMs: number, src: SerialSourceConfig): DoctorCheck {
  const secs = `${(listenMs / 1000).toFixed(listenMs % 1000 === 0 ? 0 : 1)} s`;
  const noisy = heard.bytes > 0 && heard.garbage / heard.bytes > 0.1;
  const baudHint = `the bytes look like noise: is baud_rate ${src.baud_rate} (and data_bits/parity/stop_bits) what the device uses?`;
  const n = heard.lines.length;
  if (heard.bytes === 0) {
    return warn(name, `no data within ${secs}`, 'is the device powered and sending? check the wiring (TX↔RX, GND) and that nothing else reads the port');
  }
  if (n === 0) {
    const what = `${heard.bytes} bytes but no complete line within ${secs}`;
    if (noisy) return warn(name, what, baudHint);
    if (heard.tooLong > 0) return warn(name, `${what}: lines are longer than max_line_length (${src.max_line_length})`, 'raise max_line_length, or check the line ending');
    return warn(name, what, 'the device may send slower than this, or end lines with something other than CR/LF');
  }
  const detail = `${n} line${n === 1 ? '' : 's'} within ${secs} (${heard.bytes} bytes)${heard.tooLong > 0 ? `; ${heard.tooLong} over max_line_length` : ''}`;
  if (noisy) return warn(name, detail, baudHint);
  if (heard.tooLong > 0) return warn(name, detail, `raise max_line_length (${src.max_line_length}) if these lines are real`);
  return pass(name, detail);
}

function parseCheck(name: string, heard: Heard, src: SerialSourceConfig): DoctorCheck | undefined {
  // The head may be the cut-off tail of a line; it is parsed only when nothing better arrived. With
  // skip_header the source ignores the first line after opening, and so does this check.
  const lines = src.parser.format === 'csv' && src.parser.skip_header ? heard.lines.slice(1) : heard.lines;
  const candidates = lines.length > 0 ? lines : heard.head !== undefined && heard.lines.length === 0 ? [heard.head] : [];
  if (candidates.length === 0) return undefined;
  const parser = createParser(src.parser);
  let ok = 0;
  let readings = 0;
  const sensors = new Set<string>();
  let firstFailure: { line: string; error: string; detail: string } | undefined;
  for (const line of candidates) {
    const result = parser(line);
    for (const r of result.readings ?? []) sensors.add(r.sensor);
    readings += result.readings?.length ?? 0;
    if (result.error === undefined) ok++;
    else firstFailure ??= { line, error: result.error, detail: result.detail };
  }
  const total = candidates.length;
  const format = `parser ${src.parser.format}`;
  if (!firstFailure) {
    return pass(name, `${ok}/${total} lines parsed by ${format} into ${readings} readings (${[...sensors].sort().join(', ') || 'no sensors'})`);
  }
  const example = `${firstFailure.error}: ${firstFailure.detail} in ${JSON.stringify(clip(firstFailure.line))}`;
  const detail = `${total - ok} of ${total} lines failed ${format}, e.g. ${example}`;
  const hint = `compare the parser settings (${describeParser(src)}) with what the device sends`;
  if (ok === 0 && lines.length > 0) return fail(name, detail, hint);
  return warn(name, detail, hint);
}

function describeParser(src: SerialSourceConfig): string {
  const p = src.parser;
  switch (p.format) {
    case 'csv':
      return `columns ${p.columns.join(p.delimiter)}, delimiter ${JSON.stringify(p.delimiter)}`;
    case 'regex':
      return `pattern ${p.pattern}`;
    default:
      return `format ${p.format}`;
  }
}

function clip(s: string): string {
  return s.length > 80 ? `${s.slice(0, 77)}...` : s;
}

function fromRunningAgent(prefix: string, src: SerialSourceConfig, agent: Extract<AgentProbe, { state: 'running' }>): DoctorCheck[] {
  const s = agentSource(agent, src.name);
  if (!s) {
    return [warn(`${prefix}: open`, 'not opened: an agent is running and may hold the port (its /status does not list this source)', STOP_HINT)];
  }
  const checks: DoctorCheck[] = [];
  checks.push(
    isHealthySource(s)
      ? pass(`${prefix}: open`, `in use by the running agent, which reports state "${s.state}" (not opened by doctor)`)
      : warn(`${prefix}: open`, `the running agent reports state "${s.state}"`, `journalctl -u tidemark-edge -n 50; ${STOP_HINT}`),
  );
  if (typeof s.parse_errors === 'number') {
    const last = s.recent_parse_errors?.at(-1);
    checks.push(
      s.parse_errors === 0
        ? pass(`${prefix}: parse`, 'the running agent reports no parse errors')
        : warn(
            `${prefix}: parse`,
            `the running agent reports ${s.parse_errors} parse error${s.parse_errors === 1 ? '' : 's'}${last ? `, latest ${last.reason} in ${JSON.stringify(clip(last.line))}` : ''}`,
            `compare the parser settings (${describeParser(src)}) with what the device sends`,
          ),
    );
  }
  return checks;
}

function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms ${what}`)), ms);
  });
  return Promise.race([p, timeout]).finally(() => clearTimeout(timer));
}
