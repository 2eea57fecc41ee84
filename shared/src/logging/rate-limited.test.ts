import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { createLogger } from './logger.js';
import { logEvery, RateLimitedLogger } from './rate-limited.js';

function setup(opts: { maxKeys?: number } = {}) {
  const chunks: string[] = [];
  const stream = new Writable({
    write(chunk, _enc, cb) {
      chunks.push(String(chunk));
      cb();
    },
  });
  const logger = createLogger({ name: 't', level: 'trace', destination: stream });
  let now = 1_000_000;
  const limited = new RateLimitedLogger(logger, 60_000, { now: () => now, ...opts });
  return {
    logger,
    limited,
    advance: (ms: number) => (now += ms),
    lines: () => chunks.join('').trim().split('\n').filter(Boolean).map((l) => JSON.parse(l) as Record<string, unknown>),
  };
}

describe('RateLimitedLogger', () => {
  it('logs once per key per interval and reports what it suppressed', () => {
    const t = setup();
    expect(t.limited.warn('dev-1', { device: 'dev-1' }, 'malformed payload')).toBe(true);
    t.advance(10_000);
    expect(t.limited.warn('dev-1', { device: 'dev-1' }, 'malformed payload')).toBe(false);
    t.advance(10_000);
    expect(t.limited.warn('dev-1', { device: 'dev-1' }, 'malformed payload')).toBe(false);
    expect(t.limited.suppressedCount('dev-1')).toBe(2);
    t.advance(40_000); // 60 s after the first line
    expect(t.limited.warn('dev-1', { device: 'dev-1' }, 'malformed payload')).toBe(true);
    expect(t.lines().map(({ device, suppressed, msg, level }) => ({ device, suppressed, msg, level }))).toEqual([
      { device: 'dev-1', suppressed: undefined, msg: 'malformed payload', level: 'warn' },
      { device: 'dev-1', suppressed: 2, msg: 'malformed payload', level: 'warn' },
    ]);
    expect(t.limited.suppressedCount('dev-1')).toBe(0);
  });

  it('keeps keys apart', () => {
    const t = setup();
    t.limited.warn('a', { device: 'a' }, 'x');
    t.limited.warn('b', { device: 'b' }, 'x');
    t.limited.warn('a', { device: 'a' }, 'x');
    expect(t.lines().map((l) => l.device)).toEqual(['a', 'b']);
  });

  it('flushes pending counts', () => {
    const t = setup();
    t.limited.error('a', { device: 'a' }, 'x');
    t.limited.error('a', { device: 'a', n: 2 }, 'x');
    t.limited.flush();
    t.limited.flush();
    expect(t.lines()).toMatchObject([{ device: 'a' }, { device: 'a', n: 2, suppressed: 1, level: 'error' }]);
  });

  it('bounds the keys it remembers, forgetting the oldest', () => {
    const t = setup({ maxKeys: 2 });
    t.limited.info('a', {}, 'x');
    t.limited.info('b', {}, 'x');
    t.limited.info('c', {}, 'x');
    // "a" was forgotten, so it logs again at once.
    expect(t.limited.info('a', {}, 'x')).toBe(true);
    expect(t.limited.info('c', {}, 'x')).toBe(false);
  });
});

describe('logEvery', () => {
  it('shares one limiter per logger and interval', () => {
    const t = setup();
    expect(logEvery(t.logger, 'k', 60_000).warn({}, 'x')).toBe(true);
    expect(logEvery(t.logger, 'k', 60_000).warn({}, 'x')).toBe(false);
    expect(logEvery(t.logger, 'other', 60_000).warn({}, 'x')).toBe(true);
    expect(t.lines()).toHaveLength(2);
  });
});
