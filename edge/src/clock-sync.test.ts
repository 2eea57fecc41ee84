import { afterEach, describe, expect, it, vi } from 'vitest';
import { Clock } from './clock.js';

describe('clock synchronisation events', () => {
  afterEach(() => vi.restoreAllMocks());

  it('reports the wall clock step when the clock becomes synchronised, and lets now() follow it', async () => {
    let wall = 1_000_000_000_000; // a plausible-looking but wrong time
    vi.spyOn(Date, 'now').mockImplementation(() => wall);
    let ntp = false;
    const clock = new Clock({ syncCheck: 'auto', minPlausibleTime: 0, recheckMs: 1_000_000, probe: async () => ntp });
    const steps: number[] = [];
    clock.onSynced((s) => steps.push(s));
    await clock.start();
    expect(clock.synced).toBe(false);
    expect(clock.now()).toBe(wall);

    // NTP steps the clock back by an hour (e.g. the RTC-less image booted with a build time in the future).
    wall -= 3_600_000;
    ntp = true;
    await (clock as unknown as { check(): Promise<void> }).check();
    clock.stop();
    expect(clock.synced).toBe(true);
    expect(steps).toHaveLength(1);
    expect(Math.abs(steps[0]! + 3_600_000)).toBeLessThan(50); // minus the monotonic time that passed
    expect(clock.now()).toBe(wall);
  });
});
