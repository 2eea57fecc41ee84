import { describe, expect, it } from 'vitest';
import { backoffDelay } from './mqtt-uplink.js';

const MIN = 500;
const MAX = 30_000;
const JUST_BELOW_ONE = 1 - 2 ** -53;

describe('backoffDelay', () => {
  it.each([
    [0, MIN],
    [1, 2 * MIN],
    [3, 8 * MIN],
    [5, 32 * MIN],
  ])('attempt %i: full jitter below min(max, min * 2^attempt) = %i', (attempt, ceiling) => {
    expect(backoffDelay(attempt, MIN, MAX, () => JUST_BELOW_ONE)).toBe(ceiling - 1);
    expect(backoffDelay(attempt, MIN, MAX, () => 0.5)).toBe(Math.max(MIN / 2, ceiling / 2));
    // The low end is held at min/2, so a storm of reconnects never spins at 0 ms.
    expect(backoffDelay(attempt, MIN, MAX, () => 0)).toBe(MIN / 2);
  });

  it('never exceeds the cap, however many attempts failed', () => {
    for (const attempt of [6, 7, 10, 30, 31, 100, 1e6, Number.MAX_SAFE_INTEGER]) {
      const d = backoffDelay(attempt, MIN, MAX, () => JUST_BELOW_ONE);
      expect(d, `attempt ${attempt}`).toBe(MAX - 1);
      expect(backoffDelay(attempt, MIN, MAX, () => 0.25)).toBe(MAX / 4);
    }
  });

  it('with a real rng, stays within [min/2, ceiling) and spreads over the whole range', () => {
    for (const attempt of [0, 2, 4, 12]) {
      const ceiling = Math.min(MAX, MIN * 2 ** attempt);
      const samples = Array.from({ length: 2_000 }, () => backoffDelay(attempt, MIN, MAX));
      expect(samples.every(Number.isInteger)).toBe(true);
      expect(Math.min(...samples)).toBeGreaterThanOrEqual(MIN / 2);
      expect(Math.max(...samples)).toBeLessThan(ceiling);
      if (ceiling >= 4 * MIN) {
        // Full jitter: delays land across the range, not bunched near the ceiling (no thundering herd).
        expect(samples.filter((d) => d < ceiling / 4).length).toBeGreaterThan(300);
        expect(samples.filter((d) => d >= (3 * ceiling) / 4).length).toBeGreaterThan(300);
      }
    }
  });

  it('grows with the attempt until the cap', () => {
    const at = (attempt: number) => backoffDelay(attempt, MIN, MAX, () => JUST_BELOW_ONE);
    const ceilings = [0, 1, 2, 3, 4, 5, 6, 7].map(at);
    for (let i = 1; i < ceilings.length; i++) expect(ceilings[i]).toBeGreaterThanOrEqual(ceilings[i - 1]!);
    expect(ceilings).toEqual([499, 999, 1999, 3999, 7999, 15_999, 29_999, 29_999]);
  });
});
