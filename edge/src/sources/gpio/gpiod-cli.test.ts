import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import type { GpioSourceConfig } from './config.js';
import {
  describeToolExit,
  eventTimeMs,
  failureHint,
  findExecutable,
  GPIOMON_FORMAT,
  gpiogetArgs,
  gpiomonArgs,
  isGpiomonBanner,
  parseGpiogetOutput,
  parseGpiomonLine,
  parseToolApi,
  type GpiodApi,
} from './gpiod-cli.js';

// `--help` of the tools: 1.6.3 captured from Debian 12's gpiod package, 2.2 rendered from libgpiod's
// tools/*.c print_help(). Our command lines must only use what these advertise.
const fixture = (name: string) => fs.readFileSync(new URL(`./test-support/fixtures/${name}`, import.meta.url), 'utf8');
const HELP: Record<GpiodApi, { gpiomon: string; gpioget: string }> = {
  1: { gpiomon: fixture('gpiomon-1.6.3-help.txt'), gpioget: fixture('gpioget-1.6.3-help.txt') },
  2: { gpiomon: fixture('gpiomon-2.2-help.txt'), gpioget: fixture('gpioget-2.2-help.txt') },
};

const line = (over: Partial<GpioSourceConfig> = {}) => ({ chip: 'gpiochip0', line: 17, active_low: false, bias: 'as_is' as const, ...over });
const BIASES = ['as_is', 'pull_up', 'pull_down', 'disable'] as const;

function longOptions(args: string[]): string[] {
  return args.filter((a) => a.startsWith('--')).map((a) => a.split('=')[0]!);
}

describe('gpiod tool command lines', () => {
  it('1.6: flags before the chip and offset, line-buffered, separate seconds and nanoseconds', () => {
    expect(gpiomonArgs(1, line())).toEqual(['--line-buffered', '--format=%e %s %n', 'gpiochip0', '17']);
    expect(gpiogetArgs(1, line())).toEqual(['gpiochip0', '17']);
    expect(gpiomonArgs(1, line({ active_low: true, bias: 'pull_up' }))).toEqual([
      '--active-low',
      '--bias=pull-up',
      '--line-buffered',
      '--format=%e %s %n',
      'gpiochip0',
      '17',
    ]);
    expect(gpiogetArgs(1, line({ bias: 'disable' }))).toEqual(['--bias=disable', 'gpiochip0', '17']);
  });

  it('2.x: --chip, a banner to know it is ready, %E %S, and "disabled"', () => {
    expect(gpiomonArgs(2, line())).toEqual(['--banner', '--format=%E %S', '--chip', 'gpiochip0', '17']);
    expect(gpiogetArgs(2, line())).toEqual(['--numeric', '--chip', 'gpiochip0', '17']);
    expect(gpiomonArgs(2, line({ active_low: true, bias: 'disable' }))).toEqual([
      '--banner',
      '--active-low',
      '--bias=disabled',
      '--format=%E %S',
      '--chip',
      'gpiochip0',
      '17',
    ]);
  });

  for (const api of [1, 2] as const) {
    it(`${api}.x: every option and bias value we pass is one the tools' --help lists`, () => {
      for (const bias of BIASES) {
        for (const active_low of [false, true]) {
          for (const [tool, args] of [
            ['gpiomon', gpiomonArgs(api, line({ bias, active_low }))],
            ['gpioget', gpiogetArgs(api, line({ bias, active_low }))],
          ] as const) {
            const help = HELP[api][tool];
            for (const opt of longOptions(args)) expect(help, `${tool} ${api}.x ${opt}`).toContain(opt);
            const biasArg = args.find((a) => a.startsWith('--bias='));
            if (biasArg) expect(help).toMatch(new RegExp(`\\b${biasArg.slice('--bias='.length)}\\b`));
          }
        }
      }
      for (const spec of GPIOMON_FORMAT[api].match(/%./g)!) expect(HELP[api].gpiomon).toMatch(new RegExp(`^ +${spec}[: ]`, 'm'));
    });
  }

  it('tells 1.x from 2.x by --version', () => {
    expect(parseToolApi(fixture('gpiomon-1.6.3-version.txt'))).toBe(1);
    expect(parseToolApi('gpiomon (libgpiod) v2.1.3\nCopyright (C) 2017-2023 Bartosz Golaszewski\n')).toBe(2);
    expect(parseToolApi('gpiomon (libgpiod) v2.0-rc3\n')).toBe(2);
    expect(parseToolApi('gpiomon v1.4.1\n')).toBe(1);
    expect(parseToolApi('what is this')).toBeUndefined();
    expect(parseToolApi('')).toBeUndefined();
  });
});

describe('parsing tool output', () => {
  it('gpioget: bare 0/1 (1.x, 2.x --numeric) and 2.x "offset"=active', () => {
    expect(parseGpiogetOutput('1\n')).toBe(1);
    expect(parseGpiogetOutput('0\n')).toBe(0);
    expect(parseGpiogetOutput('"17"=active\n')).toBe(1);
    expect(parseGpiogetOutput('"GPIO17"=inactive\n')).toBe(0);
    expect(parseGpiogetOutput('17=active')).toBe(1);
    for (const odd of ['', '2', '1 0', 'error', '"17"=maybe', '\u0000']) expect(parseGpiogetOutput(odd)).toBeUndefined();
  });

  // Lines as the tools print them (formats from their --help and tools/gpiomon.c).
  const cases: [string, string, ReturnType<typeof parseGpiomonLine>][] = [
    ['1.6 custom %e %s %n, rising', '1 5321 123456789', { edge: 'rising', sec: 5321, nsec: 123456789 }],
    ['1.6 custom, %n is not zero-padded', '0 5321 4567', { edge: 'falling', sec: 5321, nsec: 4567 }],
    ['1.6 custom, realtime stamp (kernel < 5.7)', '1 1700000000 5', { edge: 'rising', sec: 1700000000, nsec: 5 }],
    ['1.6 default', 'event:  RISING EDGE offset: 17 timestamp: [    5321.000123456]', { edge: 'rising', sec: 5321, nsec: 123456 }],
    ['1.6 default, falling', 'event: FALLING EDGE offset: 4 timestamp: [1700000000.999999999]', { edge: 'falling', sec: 1700000000, nsec: 999999999 }],
    ['2.x custom %E %S', 'rising 5321.000123456', { edge: 'rising', sec: 5321, nsec: 123456 }],
    ['2.x custom, falling', 'falling 0.000000001', { edge: 'falling', sec: 0, nsec: 1 }],
    ['2.x default, unnamed line', '5321.000123456\tfalling\tgpiochip0 17', { edge: 'falling', sec: 5321, nsec: 123456 }],
    ['2.x default, named line', '5321.5\trising\tgpiochip0 17 "GPIO17"', { edge: 'rising', sec: 5321, nsec: 500000000 }],
    ['trailing CR and spaces', '1 5321 7\r', { edge: 'rising', sec: 5321, nsec: 7 }],
  ];
  it.each(cases)('gpiomon: %s', (_name, text, expected) => {
    expect(parseGpiomonLine(text)).toEqual(expected);
  });

  it('gpiomon: odd output is undefined, never an exception', () => {
    for (const odd of [
      '',
      'Monitoring line \'17\'...',
      '2 5321 1', // 2.x numeric %e is not a format we ask for
      '1 5321 1234567890', // nanoseconds out of range
      '1 5321',
      'rising',
      'rising 5321',
      'event: SIDEWAYS EDGE offset: 17 timestamp: [1.0]',
      '2023-01-01T00:00:00.000000001Z\trising\tgpiochip0 17',
      'gpiomon: error waiting for events: No such device',
      '1 99999999999999999999 1',
    ]) {
      expect(parseGpiomonLine(odd), odd).toBeUndefined();
    }
    fc.assert(
      fc.property(fc.string({ maxLength: 200 }), (s) => {
        const ev = parseGpiomonLine(s);
        if (ev) {
          expect(['rising', 'falling']).toContain(ev.edge);
          expect(Number.isSafeInteger(ev.sec) && ev.nsec >= 0 && ev.nsec <= 999_999_999).toBe(true);
        }
      }),
      { numRuns: 2000 },
    );
  });

  it('recognises the 2.x banner', () => {
    expect(isGpiomonBanner("Monitoring line '17'...")).toBe(true);
    expect(isGpiomonBanner("Monitoring lines '17', and '18'...")).toBe(true);
    expect(isGpiomonBanner('1 5 5')).toBe(false);
  });
});

describe('event times', () => {
  it('maps CLOCK_MONOTONIC stamps through the current offset to the runner clock', () => {
    // The event happened 2.5 ms before "now" on the monotonic clock.
    expect(eventTimeMs({ sec: 5321, nsec: 500_000_000 }, 1_700_000_000_000, 5_321_502.5)).toBe(1_699_999_999_997);
  });

  it('takes CLOCK_REALTIME stamps (old kernels) as they are', () => {
    expect(eventTimeMs({ sec: 1_700_000_000, nsec: 123_456_789 }, 1_700_000_001_000, 42)).toBe(1_700_000_000_123);
  });

  it('is never later than now, and always an integer', () => {
    fc.assert(
      fc.property(fc.nat({ max: 4_000_000_000 }), fc.nat({ max: 999_999_999 }), fc.double({ min: 0, max: 4e12, noNaN: true }), (sec, nsec, mono) => {
        const wall = 1_700_000_000_000;
        const t = eventTimeMs({ sec, nsec }, wall, mono);
        expect(Number.isSafeInteger(t)).toBe(true);
        expect(t).toBeLessThanOrEqual(wall);
      }),
    );
  });
});

describe('failure messages', () => {
  const cfg = { chip: 'gpiochip0', line: 17 };
  it('names the tool, how it ended, what it said, and a hint', () => {
    expect(describeToolExit('gpioget', { code: 1, signal: null }, 'gpioget: error reading GPIO values: No such file or directory\n', cfg)).toBe(
      'gpioget exited with code 1: gpioget: error reading GPIO values: No such file or directory; GPIO chip "gpiochip0" not found on this machine (gpiodetect lists the chips)',
    );
    expect(describeToolExit('gpiomon', { code: null, signal: 'SIGKILL' }, '', cfg)).toBe('gpiomon was killed by SIGKILL without a message');
  });

  it('hints at permissions, a busy line and a missing offset', () => {
    expect(failureHint('gpiomon: error waiting for events: Permission denied', cfg)).toMatch(/"gpio" group/);
    expect(failureHint('gpioget: error reading GPIO values: Device or resource busy', cfg)).toMatch(/held by another program/);
    expect(failureHint('gpioget: error reading GPIO values: Invalid argument', cfg)).toMatch(/line 17 does not exist/);
    expect(failureHint("gpioget: cannot find line '17'", cfg)).toMatch(/line 17 does not exist/);
    expect(failureHint("gpiomon: offset 17 is out of range on chip '/dev/gpiochip0'", cfg)).toMatch(/line 17 does not exist/);
    expect(failureHint("gpiomon: cannot find GPIO chip character device 'gpiochip0'", cfg)).toMatch(/GPIO chip "gpiochip0" not found/);
    expect(failureHint('something else', cfg)).toBeUndefined();
  });
});

describe('findExecutable', () => {
  const dirs: string[] = [];
  afterAll(() => {
    for (const d of dirs) fs.rmSync(d, { recursive: true, force: true });
  });

  it('finds the first executable file of that name in a PATH string, skipping non-executables', () => {
    const a = fs.mkdtempSync(path.join(os.tmpdir(), 'gpio-path-a-'));
    const b = fs.mkdtempSync(path.join(os.tmpdir(), 'gpio-path-b-'));
    dirs.push(a, b);
    fs.writeFileSync(path.join(a, 'gpiomon'), 'not executable', { mode: 0o644 });
    fs.mkdirSync(path.join(a, 'gpioget'));
    fs.writeFileSync(path.join(b, 'gpiomon'), '#!/bin/sh\n', { mode: 0o755 });
    expect(findExecutable('gpiomon', ['', a, b].join(path.delimiter))).toBe(path.join(b, 'gpiomon'));
    expect(findExecutable('gpioget', [a, b].join(path.delimiter))).toBeUndefined();
    expect(findExecutable('gpiomon', '')).toBeUndefined();
  });
});
