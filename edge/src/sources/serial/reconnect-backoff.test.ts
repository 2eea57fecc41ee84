import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { reconnectDelay } from './reconnect-backoff.js';

describe('reconnectDelay', () => {
  it('starts at the minimum and doubles its ceiling per attempt up to the maximum', () => {
    expect(reconnectDelay(0, 500, 10_000, () => 0.99)).toBe(500);
    expect(reconnectDelay(1, 500, 10_000, () => 1)).toBe(1000);
    expect(reconnectDelay(3, 500, 10_000, () => 1)).toBe(4000);
    expect(reconnectDelay(10, 500, 10_000, () => 1)).toBe(10_000);
    expect(reconnectDelay(10, 500, 10_000, () => 0)).toBe(500);
  });

  it('stays within [min, max] for any attempt and random draw (full jitter)', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 10_000 }), fc.integer({ min: 1, max: 60_000 }), fc.integer({ min: 0, max: 60_000 }), fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true }), (attempt, min, extra, r) => {
        const d = reconnectDelay(attempt, min, min + extra, () => r);
        expect(d).toBeGreaterThanOrEqual(min);
        expect(d).toBeLessThanOrEqual(min + extra);
      }),
    );
  });
});
