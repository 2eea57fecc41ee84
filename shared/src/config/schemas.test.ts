import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { ConfigError } from '../errors/index.js';
import { validateConfig } from './loader.js';
import {
  formatListen,
  parseTimestamp,
  zByteSize,
  zClientTls,
  zDuration,
  zInt,
  zListen,
  zName,
  zNumber,
  zResolution,
  zTimestamp,
  zUrl,
} from './schemas.js';

/** Validates `{ v: value }` and returns the parsed value, or the issue messages. */
function check<T>(schema: z.ZodType<T>, value: unknown): T | string[] {
  try {
    return validateConfig({ v: value }, z.strictObject({ v: schema })).v;
  } catch (err) {
    if (err instanceof ConfigError) return err.issues.map((i) => `${i.path}: ${i.message}`);
    throw err;
  }
}

describe('zByteSize', () => {
  it('turns sizes into bytes', () => {
    expect(check(zByteSize(), '256MB')).toBe(256_000_000);
    expect(check(zByteSize(), '1.5GiB')).toBe(1_610_612_736);
    expect(check(zByteSize(), '64KB')).toBe(64_000);
    expect(check(zByteSize(), '1024')).toBe(1024);
    expect(check(zByteSize(), 2048)).toBe(2048);
  });

  it('explains a bad size', () => {
    expect(check(zByteSize(), 'lots')).toEqual([
      'v: expected a size like 64KB, 256MB, 1.5GiB (KB/MB/GB = 1000^n, KiB/MiB/GiB = 1024^n) or a number of bytes, got "lots"',
    ]);
    expect(check(zByteSize(), true)).toEqual([expect.stringMatching(/^v: expected a size like .*, got true$/)]);
    expect(check(zByteSize(), undefined)).toEqual(['v: required']);
  });

  it('enforces bounds', () => {
    expect(check(zByteSize({ min: 1024 }), '1000')).toEqual(['v: must be at least 1KiB']);
    expect(check(zByteSize({ max: 1e6 }), '2MB')).toEqual(['v: must be at most 1MB']);
  });
});

describe('zDuration', () => {
  it('turns durations into ms', () => {
    expect(check(zDuration(), '100ms')).toBe(100);
    expect(check(zDuration(), '5s')).toBe(5000);
    expect(check(zDuration(), '5m')).toBe(300_000);
    expect(check(zDuration(), '1h')).toBe(3_600_000);
    expect(check(zDuration(), '7d')).toBe(604_800_000);
    expect(check(zDuration(), '2w')).toBe(1_209_600_000);
    expect(check(zDuration(), 250)).toBe(250);
  });

  it('explains a bad duration', () => {
    expect(check(zDuration(), '5 minutes')).toEqual([expect.stringMatching(/^v: expected a duration like 250ms, .*, got "5 minutes"$/)]);
    expect(check(zDuration({ min: 1000 }), '10ms')).toEqual(['v: must be at least 1s']);
  });
});

describe('zListen', () => {
  it.each([
    ['0.0.0.0:1883', { host: '0.0.0.0', port: 1883 }],
    ['127.0.0.1:9101', { host: '127.0.0.1', port: 9101 }],
    ['[::1]:80', { host: '::1', port: 80 }],
    [':8080', { host: '0.0.0.0', port: 8080 }],
    ['localhost:0', { host: 'localhost', port: 0 }],
    ['collector.example:65535', { host: 'collector.example', port: 65535 }],
    [8080, { host: '0.0.0.0', port: 8080 }],
    [{ host: '10.0.0.1', port: 1 }, { host: '10.0.0.1', port: 1 }],
  ])('%j → %j', (text, addr) => {
    expect(check(zListen(), text)).toEqual(addr);
  });

  it('uses the default port for a bare host', () => {
    expect(check(zListen(9101), 'localhost')).toEqual({ host: 'localhost', port: 9101 });
    expect(check(zListen(9101), '[::]')).toEqual({ host: '::', port: 9101 });
    expect(check(zListen(), 'localhost')).toEqual([expect.stringContaining('v: missing port in "localhost"')]);
  });

  it.each(['0.0.0.0:65536', ':99999', 'host:port', '::1:80', ':', 'a b:1', '1.2.3.4:-1'])('rejects %j', (text) => {
    const r = check(zListen(), text);
    expect(Array.isArray(r)).toBe(true);
    expect((r as string[])[0]).toMatch(/^v: /);
  });

  it('names the port range', () => {
    expect(check(zListen(), '0.0.0.0:70000')).toEqual(['v: invalid port "70000": expected 0 to 65535']);
    expect(check(zListen(), { host: 'x', port: -1 })).toEqual(['v: invalid port -1: expected 0 to 65535']);
  });

  it('formats back', () => {
    expect(formatListen({ host: '::1', port: 80 })).toBe('[::1]:80');
    expect(formatListen({ host: '0.0.0.0', port: 1883 })).toBe('0.0.0.0:1883');
  });
});

describe('zName', () => {
  it('accepts SPEC names', () => {
    expect(check(zName(), 'press-07')).toBe('press-07');
    expect(check(zName(), 'a.b_c-9')).toBe('a.b_c-9');
    expect(check(zName(), 'x'.repeat(64))).toBe('x'.repeat(64));
  });

  it.each(['', '-x', 'has space', 'x'.repeat(65), 'ünï'])('rejects %j and shows the pattern', (name) => {
    expect(check(zName('device id'), name)).toEqual([expect.stringContaining('must match ^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$')]);
  });

  it('says what it expected for a non-string', () => {
    expect(check(zName('device id'), 7)).toEqual([
      'v: expected a device id matching ^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$, got 7 (quote it to make it a string)',
    ]);
  });
});

describe('zResolution', () => {
  it('accepts durations that divide a day, with a canonical label', () => {
    expect(check(zResolution(), '1m')).toEqual({ label: '1m', ms: 60_000 });
    expect(check(zResolution(), '5m')).toEqual({ label: '5m', ms: 300_000 });
    expect(check(zResolution(), '60m')).toEqual({ label: '1h', ms: 3_600_000 });
    expect(check(zResolution(), '1d')).toEqual({ label: '1d', ms: 86_400_000 });
  });

  it.each(['7m', '2d', '500ms', '1w'])('rejects %s', (text) => {
    expect(check(zResolution(), text)).toEqual([expect.stringContaining('must be at least 1s and divide one day evenly')]);
  });
});

describe('zInt and zNumber', () => {
  it('word their ranges', () => {
    expect(check(zInt({ min: 1 }), -5)).toEqual(['v: expected a positive integer']);
    expect(check(zInt({ min: 1 }), 1.5)).toEqual(['v: expected a positive integer, got 1.5']);
    expect(check(zInt({ min: 0 }), -1)).toEqual(['v: expected a non-negative integer']);
    expect(check(zInt({ min: 1, max: 1000 }), 0)).toEqual(['v: expected an integer from 1 to 1000']);
    expect(check(zNumber({ gt: 0, max: 10 }), 0)).toEqual(['v: expected a number > 0 and <= 10']);
  });

  it('hints at quotes around a number', () => {
    expect(check(zInt({ min: 1 }), '9600')).toEqual(['v: expected a positive integer, got "9600" (a quoted string; remove the quotes)']);
  });
});

describe('zTimestamp', () => {
  it('accepts ISO 8601 (UTC when no zone) and ms', () => {
    expect(check(zTimestamp(), '2024-01-01T00:00:00Z')).toBe(Date.UTC(2024, 0, 1));
    expect(check(zTimestamp(), '2024-01-01')).toBe(Date.UTC(2024, 0, 1));
    expect(check(zTimestamp(), '2024-01-01T01:00:00+01:00')).toBe(Date.UTC(2024, 0, 1));
    expect(check(zTimestamp(), '2024-01-01T12:30:00')).toBe(Date.UTC(2024, 0, 1, 12, 30));
    expect(check(zTimestamp(), 1_700_000_000_000)).toBe(1_700_000_000_000);
  });

  it('rejects other text', () => {
    expect(check(zTimestamp(), 'yesterday')).toEqual([expect.stringContaining('expected a time as ISO 8601')]);
    expect(parseTimestamp('2024-13-45')).toBeUndefined();
  });
});

describe('zUrl', () => {
  it('checks the scheme', () => {
    expect(check(zUrl(['mqtt', 'mqtts']), 'mqtts://broker:8883')).toBe('mqtts://broker:8883');
    expect(check(zUrl(['mqtt', 'mqtts']), 'http://broker')).toEqual(['v: expected a mqtt:// or mqtts:// URL, got "http://broker"']);
    expect(check(zUrl(['mqtt']), 'not a url')).toEqual(['v: expected a mqtt:// URL, got "not a url"']);
  });
});

describe('zClientTls', () => {
  it('defaults reject_unauthorized and pairs cert with key', () => {
    expect(check(zClientTls(), {})).toEqual({ reject_unauthorized: true });
    expect(check(zClientTls(), { cert: 'c.pem' })).toEqual(['v.key: required when cert is set (client certificate and key go together)']);
  });
});
