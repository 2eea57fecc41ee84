import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Backoff, backoffDelay } from './backoff.js';

const MIN = 500;
const MAX = 30_000;

describe('backoffDelay (the edge reconnect policy)', () => {
  it('attempt 0 waits the minimum; the ceiling doubles per attempt up to the cap', () => {
    expect(backoffDelay(0, MIN, MAX, () => 0.99)).toBe(MIN);
    const top = (attempt: number) => backoffDelay(attempt, MIN, MAX, () => 1);
    expect([0, 1, 2, 3, 4, 5, 6, 7, 100].map(top)).toEqual([500, 1000, 2000, 4000, 8000, 16_000, 30_000, 30_000, 30_000]);
    expect(backoffDelay(1e9, MIN, MAX, () => 0)).toBe(MIN);
  });

  it('stays within [min, max] for any attempt and random draw', () => {
    fc.assert(
      fc.property(fc.integer({ min: -5, max: Number.MAX_SAFE_INTEGER }), fc.integer({ min: 1, max: 60_000 }), fc.integer({ min: 0, max: 60_000 }), fc.double({ min: 0, max: 1, noNaN: true }), (attempt, min, extra, r) => {
        const d = backoffDelay(attempt, min, min + extra, () => r);
        expect(Number.isInteger(d)).toBe(true);
        expect(d).toBeGreaterThanOrEqual(min);
        expect(d).toBeLessThanOrEqual(min + extra);
      }),
    );
  });

  it('full jitter: with a real random source, delays spread over the whole range (no thundering herd)', () => {
    const attempt = 6; // ceiling 30 s
    const samples = Array.from({ length: 2_000 }, () => backoffDelay(attempt, MIN, MAX));
    const quarter = MIN + (MAX - MIN) / 4;
    expect(samples.filter((d) => d < quarter).length).toBeGreaterThan(300);
    expect(samples.filter((d) => d >= MAX - (MAX - MIN) / 4).length).toBeGreaterThan(300);
  });
});

describe('Backoff', () => {
  it('counts failures until reset, then starts from the minimum again', () => {
    const b = new Backoff({ minMs: 100, maxMs: 1000, random: () => 1 });
    expect([b.next(), b.next(), b.next(), b.next(), b.next()]).toEqual([100, 200, 400, 800, 1000]);
    expect(b.attempts).toBe(5);
    b.reset();
    expect(b.attempts).toBe(0);
    expect(b.next()).toBe(100);
  });
});
