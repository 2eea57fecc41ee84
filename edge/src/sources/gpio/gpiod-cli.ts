// What Debian's `gpiod` tools (libgpiod 1.6 on Debian 12 / Raspberry Pi OS bookworm, 2.x after) expect and
// print: finding them, their command lines per major version, and tolerant parsers of their output.
// Parsers never throw: an odd line is `undefined`, and the caller counts it.
import fs from 'node:fs';
import path from 'node:path';
import type { GpioSourceConfig } from './config.js';
import type { GpioLevel } from './gpio-driver.js';

/** The Debian (and Raspberry Pi OS) package that ships gpiomon and gpioget. */
export const GPIOD_PACKAGE = 'gpiod';

/** Major version of the tools' command line: 1.x (`gpiomon CHIP OFFSET`) or 2.x (`gpiomon -c CHIP OFFSET`). */
export type GpiodApi = 1 | 2;

/** Absolute path of the executable `name` in `searchPath` (a PATH string), or undefined. */
export function findExecutable(name: string, searchPath: string): string | undefined {
  for (const dir of searchPath.split(path.delimiter)) {
    if (dir === '') continue;
    const candidate = path.resolve(dir, name);
    try {
      if (!fs.statSync(candidate).isFile()) continue;
      fs.accessSync(candidate, fs.constants.X_OK);
      return candidate;
    } catch {
      // not here; keep looking
    }
  }
  return undefined;
}

/** `gpiomon (libgpiod) v1.6.3` → 1; undefined when the text names no version. */
export function parseToolApi(versionOutput: string): GpiodApi | undefined {
  const m = /\(libgpiod\)\s+v?(\d+)\.\d+/.exec(versionOutput) ?? /\bv(\d+)\.\d+/.exec(versionOutput);
  if (!m) return undefined;
  return Number(m[1]) >= 2 ? 2 : 1;
}

/**
 * Custom output formats we ask gpiomon for. 1.x prints `%n` without zero padding, so seconds and
 * nanoseconds stay separate fields; 2.x has `%E` (rising/falling) and `%S` (seconds.nanoseconds, padded).
 */
export const GPIOMON_FORMAT: Record<GpiodApi, string> = { 1: '%e %s %n', 2: '%E %S' };

function biasArgs(api: GpiodApi, bias: GpioSourceConfig['bias']): string[] {
  switch (bias) {
    case 'as_is':
      return []; // 2.x has no "as-is" value: leaving the flag out is how both say it
    case 'pull_up':
      return ['--bias=pull-up'];
    case 'pull_down':
      return ['--bias=pull-down'];
    case 'disable':
      return [api === 1 ? '--bias=disable' : '--bias=disabled'];
  }
}

type LineSpec = Pick<GpioSourceConfig, 'chip' | 'line' | 'active_low' | 'bias'>;

/** gpioget arguments that print the line's logical level as a bare `0` or `1`. */
export function gpiogetArgs(api: GpiodApi, cfg: LineSpec): string[] {
  const common = [...(cfg.active_low ? ['--active-low'] : []), ...biasArgs(api, cfg.bias)];
  return api === 1 ? [...common, cfg.chip, String(cfg.line)] : ['--numeric', ...common, '--chip', cfg.chip, String(cfg.line)];
}

/**
 * gpiomon arguments: both edges, one line per event in GPIOMON_FORMAT. 1.x must be told to line-buffer
 * stdout (a pipe is otherwise block-buffered and events would sit in it); 2.x flushes after each read and
 * prints a banner once the line is requested, which tells us it is ready.
 */
export function gpiomonArgs(api: GpiodApi, cfg: LineSpec): string[] {
  const common = [...(cfg.active_low ? ['--active-low'] : []), ...biasArgs(api, cfg.bias)];
  return api === 1
    ? [...common, '--line-buffered', `--format=${GPIOMON_FORMAT[1]}`, cfg.chip, String(cfg.line)]
    : ['--banner', ...common, `--format=${GPIOMON_FORMAT[2]}`, '--chip', cfg.chip, String(cfg.line)];
}

/** 2.x prints this once the line is requested (with --banner). */
export function isGpiomonBanner(line: string): boolean {
  return /^Monitoring lines? /.test(line.trim());
}

/** gpioget output → level: `1` (1.x, 2.x --numeric) or `"17"=active` (2.x default). */
export function parseGpiogetOutput(stdout: string): GpioLevel | undefined {
  const text = stdout.trim();
  if (text === '0' || text === '1') return Number(text) as GpioLevel;
  const m = /^(?:"[^"]*"|\S+)=(active|inactive)$/.exec(text);
  if (m) return m[1] === 'active' ? 1 : 0;
  return undefined;
}

export interface GpiomonEvent {
  edge: 'rising' | 'falling';
  /** The kernel's event timestamp, split as the tools print it. */
  sec: number;
  nsec: number;
}

const NSEC_MAX = 999_999_999;

/** `123.4` → 400000000 (the digits after the point, as nanoseconds). */
function fractionToNsec(digits: string): number {
  return Number(digits.slice(0, 9).padEnd(9, '0'));
}

function event(edge: 'rising' | 'falling', sec: number, nsec: number): GpiomonEvent | undefined {
  if (!Number.isSafeInteger(sec) || !Number.isSafeInteger(nsec) || nsec < 0 || nsec > NSEC_MAX) return undefined;
  return { edge, sec, nsec };
}

/**
 * One line of gpiomon output → event, or undefined for anything else. Understands our custom formats
 * and, should a wrapper drop `--format`, both versions' default human-readable lines:
 *   1.x custom  `1 1700000000 123456789`            (%e %s %n; 1 rising, 0 falling)
 *   2.x custom  `rising 1700000000.123456789`       (%E %S)
 *   1.x default `event:  RISING EDGE offset: 17 timestamp: [    1234.567890123]`
 *   2.x default `1234.567890123\trising\tgpiochip0 17`
 */
export function parseGpiomonLine(line: string): GpiomonEvent | undefined {
  const text = line.trim();
  let m = /^([01]) (\d{1,16}) (\d{1,9})$/.exec(text);
  if (m) return event(m[1] === '1' ? 'rising' : 'falling', Number(m[2]), Number(m[3]));
  m = /^(rising|falling) (\d{1,16})\.(\d{1,9})$/.exec(text);
  if (m) return event(m[1] as 'rising' | 'falling', Number(m[2]), fractionToNsec(m[3]!));
  m = /^event:\s+(RISING|FALLING) EDGE offset: \d+ timestamp: \[\s*(\d{1,16})\.(\d{1,9})\]$/.exec(text);
  if (m) return event(m[1] === 'RISING' ? 'rising' : 'falling', Number(m[2]), fractionToNsec(m[3]!));
  m = /^(\d{1,16})\.(\d{1,9})\s+(rising|falling)(?:\s|$)/.exec(text);
  if (m) return event(m[3] as 'rising' | 'falling', Number(m[1]), fractionToNsec(m[2]!));
  return undefined;
}

/** Kernel stamps at or above this many seconds are CLOCK_REALTIME (kernels before 5.7); below, CLOCK_MONOTONIC. */
const REALTIME_MIN_SEC = 1_000_000_000;

/**
 * An event's time in ms since the epoch. Kernels since 5.7 stamp edges with CLOCK_MONOTONIC (the tools'
 * default), which we map to the runner's clock through the current offset between the two, taken now,
 * so a wall-clock step between events cannot skew it. Never later than `wallNowMs`.
 */
export function eventTimeMs(ev: Pick<GpiomonEvent, 'sec' | 'nsec'>, wallNowMs: number, monoNowMs: number): number {
  const eventMs = ev.sec * 1000 + ev.nsec / 1e6;
  const wall = ev.sec >= REALTIME_MIN_SEC ? eventMs : wallNowMs - (monoNowMs - eventMs);
  return Math.min(Math.floor(wall), Math.floor(wallNowMs));
}

/** CLOCK_MONOTONIC in ms: libuv's hrtime is the clock the kernel stamps GPIO edges with. */
export function monotonicNowMs(): number {
  return Number(process.hrtime.bigint()) / 1e6;
}

/** The last non-empty lines of a tool's stderr, for messages. */
export function stderrTail(stderr: string, maxChars = 400): string {
  const text = stderr.trim();
  return text.length <= maxChars ? text : `…${text.slice(-maxChars)}`;
}

/** A hint for the usual reasons a gpiod tool fails, from its stderr. */
export function failureHint(stderr: string, cfg: Pick<GpioSourceConfig, 'chip' | 'line'>): string | undefined {
  if (/cannot find line|out of range/i.test(stderr)) {
    return `line ${cfg.line} does not exist on chip "${cfg.chip}" (gpioinfo ${cfg.chip} lists its lines)`;
  }
  if (/No such file or directory|cannot find GPIO chip|No such device|not a GPIO chip/i.test(stderr)) {
    return `GPIO chip "${cfg.chip}" not found on this machine (gpiodetect lists the chips)`;
  }
  if (/Permission denied|Operation not permitted/i.test(stderr)) {
    return `no permission to open the GPIO chip (add the agent's user to the "gpio" group, or a udev rule for /dev/gpiochip*)`;
  }
  if (/Device or resource busy/i.test(stderr)) {
    return `line ${cfg.line} is held by another program (gpioinfo ${cfg.chip} shows its consumer)`;
  }
  if (/Invalid argument|invalid GPIO offset/i.test(stderr)) {
    return `line ${cfg.line} does not exist on chip "${cfg.chip}" (gpioinfo ${cfg.chip} lists its lines)`;
  }
  return undefined;
}

export interface ToolExit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

/** `gpioget exited with code 1: gpioget: error reading GPIO values: No such file or directory; <hint>`. */
export function describeToolExit(tool: string, exit: ToolExit, stderr: string, cfg: Pick<GpioSourceConfig, 'chip' | 'line'>): string {
  const how = exit.signal ? `was killed by ${exit.signal}` : `exited with code ${exit.code}`;
  const said = stderrTail(stderr);
  const hint = failureHint(stderr, cfg);
  return `${tool} ${how}${said ? `: ${said}` : ' without a message'}${hint ? `; ${hint}` : ''}`;
}
