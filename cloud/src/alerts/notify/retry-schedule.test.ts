import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { fullJitterDelay } from '@tidemark/shared';
import { DEFAULT_RETRY_SCHEDULE, nextAttemptAt, type RetrySchedule } from './retry-schedule.js';

const schedule = fc
  .record({ baseMs: fc.integer({ min: 1, max: 10_000 }), capMs: fc.integer({ min: 1, max: 600_000 }), horizonMs: fc.integer({ min: 1, max: 7 * 86_400_000 }) })
  .filter((s) => s.capMs >= s.baseMs);
const unit = fc.double({ min: 0, max: 1, noNaN: true });

describe('fullJitterDelay', () => {
  it('stays in [0, min(cap, base·2^attempt)] and reaches both ends', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 2_000 }), fc.integer({ min: 1, max: 10_000 }), fc.integer({ min: 1, max: 1_000_000 }), unit, (attempt, baseMs, capMs, r) => {
        const ceiling = Math.min(capMs, baseMs * 2 ** Math.min(attempt, 52));
        const d = fullJitterDelay(attempt, { baseMs, capMs }, () => r);
        expect(Number.isInteger(d)).toBe(true);
        expect(d).toBeGreaterThanOrEqual(0);
        expect(d).toBeLessThanOrEqual(ceiling);
        expect(fullJitterDelay(attempt, { baseMs, capMs }, () => 0)).toBe(0);
        expect(fullJitterDelay(attempt, { baseMs, capMs }, () => 1)).toBe(ceiling);
      }),
    );
  });

  it('doubles its ceiling per attempt until the cap', () => {
    const top = (attempt: number) => fullJitterDelay(attempt, { baseMs: 1_000, capMs: 300_000 }, () => 1);
    expect([0, 1, 2, 3, 8, 9, 40].map(top)).toEqual([1_000, 2_000, 4_000, 8_000, 256_000, 300_000, 300_000]);
  });
});

describe('nextAttemptAt', () => {
  it('never goes back in time, never waits more than the cap, never schedules past the horizon', () => {
    fc.assert(
      fc.property(
        schedule,
        fc.integer({ min: 1, max: 500 }),
        fc.integer({ min: 0, max: 2e12 }),
        fc.integer({ min: 0, max: 8 * 86_400_000 }),
        fc.option(fc.integer({ min: 0, max: 10 * 86_400_000 }), { nil: undefined }),
        unit,
        (s: RetrySchedule, attempts, createdAt, elapsed, retryAfterMs, r) => {
          const now = createdAt + elapsed;
          const next = nextAttemptAt({ attempts, createdAt, now, ...(retryAfterMs === undefined ? {} : { retryAfterMs }) }, s, () => r);
          if (now >= createdAt + s.horizonMs) {
            expect(next).toBeNull();
            return;
          }
          expect(next).not.toBeNull();
          expect(next!).toBeGreaterThanOrEqual(now);
          expect(next! - now).toBeLessThanOrEqual(s.capMs);
          expect(next!).toBeLessThanOrEqual(createdAt + s.horizonMs);
          // Retry-After is honoured (up to the cap) unless the horizon comes first.
          if (retryAfterMs !== undefined) expect(next!).toBeGreaterThanOrEqual(Math.min(now + Math.min(retryAfterMs, s.capMs), createdAt + s.horizonMs));
        },
      ),
    );
  });

  it('a row that keeps failing is tried a bounded number of times and then given up at the horizon', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 1_000 }), (seed) => {
        const s = { baseMs: 1_000, capMs: 60_000, horizonMs: 3_600_000 };
        let state = seed;
        const random = () => ((state = (state * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
        let now = 0;
        let attempts = 0;
        for (;;) {
          attempts += 1;
          const next = nextAttemptAt({ attempts, createdAt: 0, now }, s, random);
          if (next === null) break;
          expect(next).toBeGreaterThanOrEqual(now);
          // Full jitter can draw 0: the worker's poll interval is the real floor, modelled here.
          now = Math.max(next, now + 200);
          expect(attempts).toBeLessThan(20_000);
        }
        expect(now).toBeGreaterThanOrEqual(s.horizonMs);
        expect(now).toBeLessThan(s.horizonMs + 200 + 1);
      }),
      { numRuns: 20 },
    );
  });

  it('defaults: 1 s base, 5 min cap, 24 h horizon', () => {
    expect(DEFAULT_RETRY_SCHEDULE).toEqual({ baseMs: 1_000, capMs: 300_000, horizonMs: 86_400_000 });
    expect(nextAttemptAt({ attempts: 1, createdAt: 0, now: 10 }, undefined, () => 1)).toBe(1_010);
    expect(nextAttemptAt({ attempts: 30, createdAt: 0, now: 10 }, undefined, () => 1)).toBe(300_010);
    expect(nextAttemptAt({ attempts: 1, createdAt: 0, now: 86_400_000 })).toBeNull();
    expect(nextAttemptAt({ attempts: 1, createdAt: 0, now: 86_399_000 }, undefined, () => 1)).toBe(86_400_000);
    expect(nextAttemptAt({ attempts: 1, createdAt: 0, now: 0, retryAfterMs: 30_000 }, undefined, () => 0)).toBe(30_000);
    expect(nextAttemptAt({ attempts: 1, createdAt: 0, now: 0, retryAfterMs: 3_600_000 }, undefined, () => 0)).toBe(300_000);
  });
});
