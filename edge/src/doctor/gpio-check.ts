// GPIO sources: the libgpiod command-line tools the gpiod driver runs, and the chip device it opens.
import { execFile } from 'node:child_process';
import { constants, accessSync, statSync } from 'node:fs';
import { delimiter, join } from 'node:path';
import type { GpioSourceConfig } from '../config.js';
import { findExecutable, GPIOD_PACKAGE } from '../sources/gpio/gpiod-cli.js';
import { describeError, errorCode } from './error-text.js';
import { fail, pass, warn, type DoctorCheck } from './report.js';

const TOOLS = ['gpioget', 'gpiomon'] as const;

export interface GpioCheckOptions {
  /** Directory list to search for the tools (default PATH plus the sbin directories). */
  searchPath?: string;
  /** Where chips live (default /dev). */
  devDir?: string;
  timeoutMs?: number;
}

export async function gpioCheck(src: GpioSourceConfig, opts: GpioCheckOptions = {}): Promise<DoctorCheck> {
  const name = `gpio ${src.name}`;
  const what = `${src.chip} line ${src.line} → ${src.sensor}`;
  if (src.driver === 'fake') return warn(name, `${what}: fake driver, reads an in-memory line, not the hardware`, 'set driver: gpiod (the default) on a real gateway');
  const searchPath = opts.searchPath ?? `${process.env.PATH ?? ''}${delimiter}/usr/local/sbin${delimiter}/usr/sbin${delimiter}/sbin`;
  const missing = TOOLS.filter((t) => findExecutable(t, searchPath) === undefined);
  if (missing.length > 0) return fail(name, `${what}: ${missing.join(' and ')} not found`, `sudo apt install ${GPIOD_PACKAGE} (libgpiod command-line tools)`);
  const chipPath = src.chip.startsWith('/') ? src.chip : join(opts.devDir ?? '/dev', src.chip);
  try {
    if (!statSync(chipPath).isCharacterDevice()) return fail(name, `${what}: ${chipPath} is not a character device`, 'list chips with: gpiodetect');
  } catch (err) {
    if (errorCode(err) === 'ENOENT') return fail(name, `${what}: ${chipPath} does not exist`, 'list chips with: gpiodetect (or ls /dev/gpiochip*)');
    return fail(name, `${what}: ${chipPath}: ${describeError(err)}`);
  }
  try {
    accessSync(chipPath, constants.R_OK | constants.W_OK);
  } catch {
    return fail(name, `${what}: ${chipPath} is not readable and writable by this user`, 'sudo usermod -aG gpio tidemark (the systemd unit adds the gpio group)');
  }
  const lines = await chipLineCount(chipPath, searchPath, opts.timeoutMs ?? 2000);
  if (lines !== undefined && src.line >= lines) return fail(name, `${what}: ${src.chip} has only ${lines} lines (0..${lines - 1})`, `gpioinfo ${src.chip}`);
  return pass(name, `${what}: ${TOOLS.join('/')} found, ${chipPath} accessible${lines !== undefined ? ` (${lines} lines)` : ''}`);
}

/** Number of lines of a chip per `gpioinfo` (libgpiod 1.x and 2.x print "<chip> - N lines:"), if it says. */
function chipLineCount(chipPath: string, searchPath: string, timeoutMs: number): Promise<number | undefined> {
  const tool = findExecutable('gpioinfo', searchPath);
  if (!tool) return Promise.resolve(undefined);
  return new Promise((resolve) => {
    execFile(tool, [chipPath], { timeout: timeoutMs }, (err, stdout) => {
      const m = err ? null : /^\S+ - (\d+) lines:/m.exec(stdout);
      resolve(m ? Number(m[1]) : undefined);
    });
  });
}
