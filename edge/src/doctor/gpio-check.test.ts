import { chmodSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { GpioSourceConfig } from '../config.js';
import { tempDir, type TempDir } from '../buffer/test-support/buffer-fixtures.js';
import { gpioCheck } from './gpio-check.js';

let dir: TempDir;

beforeEach(() => {
  dir = tempDir('tidemark-doctor-gpio-');
});

afterEach(() => {
  dir.remove();
});

function src(overrides: Partial<GpioSourceConfig> = {}): GpioSourceConfig {
  return { type: 'gpio', name: 'door', chip: 'gpiochip0', line: 17, sensor: 'door_open', debounce_ms: 10, active_low: false, bias: 'as_is', driver: 'gpiod', ...overrides };
}

function tool(name: string, script = 'exit 0'): void {
  const path = join(dir.path, name);
  writeFileSync(path, `#!/bin/sh\n${script}\n`);
  chmodSync(path, 0o755);
}

describe('gpioCheck', () => {
  it('the fake driver is a warning', async () => {
    const c = await gpioCheck(src({ driver: 'fake' }));
    expect(c).toMatchObject({ name: 'gpio door', status: 'warn', detail: expect.stringContaining('fake driver') });
  });

  it('fails with the Debian package when gpioget/gpiomon are missing', async () => {
    tool('gpioget');
    const c = await gpioCheck(src(), { searchPath: dir.path });
    expect(c).toMatchObject({ status: 'fail', detail: expect.stringContaining('gpiomon not found'), hint: expect.stringContaining('apt install gpiod') });
  });

  it('fails when the chip does not exist', async () => {
    tool('gpioget');
    tool('gpiomon');
    const c = await gpioCheck(src({ chip: 'gpiochip9' }), { searchPath: dir.path, devDir: dir.path });
    expect(c).toMatchObject({ status: 'fail', detail: expect.stringContaining(`${dir.path}/gpiochip9 does not exist`), hint: expect.stringContaining('gpiodetect') });
  });

  it('fails when the chip path is not a character device', async () => {
    tool('gpioget');
    tool('gpiomon');
    writeFileSync(join(dir.path, 'gpiochip0'), '');
    const c = await gpioCheck(src(), { searchPath: dir.path, devDir: dir.path });
    expect(c).toMatchObject({ status: 'fail', detail: expect.stringContaining('not a character device') });
  });

  it('passes with the tools and an accessible chip, and checks the line against gpioinfo', async () => {
    tool('gpioget');
    tool('gpiomon');
    tool('gpioinfo', 'echo "gpiochip0 - 54 lines:"; echo "	line  17:   \\"GPIO17\\"   unused   input  active-high"');
    // /dev/null stands in for a chip: a character device everyone may read and write.
    const ok = await gpioCheck(src({ chip: '/dev/null' }), { searchPath: dir.path });
    expect(ok).toMatchObject({ status: 'pass', detail: '/dev/null line 17 → door_open: gpioget/gpiomon found, /dev/null accessible (54 lines)' });
    const tooHigh = await gpioCheck(src({ chip: '/dev/null', line: 60 }), { searchPath: dir.path });
    expect(tooHigh).toMatchObject({ status: 'fail', detail: expect.stringContaining('has only 54 lines (0..53)') });
  });

  it('passes without a line count when gpioinfo is absent or says nothing useful', async () => {
    tool('gpioget');
    tool('gpiomon');
    tool('gpioinfo', 'echo "usage: gpioinfo -c CHIP" >&2; exit 1');
    const c = await gpioCheck(src({ chip: '/dev/null' }), { searchPath: dir.path });
    expect(c).toMatchObject({ status: 'pass', detail: '/dev/null line 17 → door_open: gpioget/gpiomon found, /dev/null accessible' });
  });
});
