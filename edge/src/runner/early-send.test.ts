import { describe, expect, it } from 'vitest';
import { earlySendLead, MIN_GRACE_MS } from './early-send.js';

describe('earlySendLead', () => {
  it('leaves three ack round trips (at least MIN_GRACE_MS) before the commit deadline', () => {
    expect(earlySendLead(100, 10)).toBe(70);
    expect(earlySendLead(100, 1)).toBe(100 - MIN_GRACE_MS);
    expect(earlySendLead(1000, 100)).toBe(700);
  });

  it('splits the interval in half before the first ack', () => {
    expect(earlySendLead(100, undefined)).toBe(50);
  });

  it('gives up when an ack would rarely beat the deadline (grace over half the interval)', () => {
    expect(earlySendLead(100, 16.6)).toBeCloseTo(50.2, 9);
    expect(earlySendLead(100, 17)).toBeUndefined();
    expect(earlySendLead(30, 2)).toBeUndefined(); // MIN_GRACE_MS alone is more than half of 30 ms
  });
});
