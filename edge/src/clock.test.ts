import { afterEach, describe, expect, it, vi } from 'vitest';
import { Clock, type ClockOptions } from './clock.js';

const NOW = Date.UTC(2025, 5, 1);
const PAST = Date.UTC(2020, 0, 1);
const FUTURE = Date.UTC(2100, 0, 1);

const clocks: Clock[] = [];
function clock(opts: ClockOptions): Clock {
  const c = new Clock(opts);
  clocks.push(c);
  return c;
}

afterEach(() => {
  for (const c of clocks.splice(0)) c.stop();
  vi.useRealTimers();
  vi.restoreAllMocks();
});

describe('sync check modes', () => {
  it('assume_synced is synced even with an implausible time, and never probes', async () => {
    const probe = vi.fn(async () => false);
    const c = clock({ syncCheck: 'assume_synced', minPlausibleTime: FUTURE, probe });
    expect(c.synced).toBe(true);
    await c.start();
    expect(c.synced).toBe(true);
    expect(probe).not.toHaveBeenCalled();
  });

  it('never_synced is never synced, and never probes', async () => {
    const probe = vi.fn(async () => true);
    const c = clock({ syncCheck: 'never_synced', minPlausibleTime: PAST, probe });
    expect(c.synced).toBe(false);
    await c.start();
    expect(c.synced).toBe(false);
    expect(probe).not.toHaveBeenCalled();
  });
});

describe('auto', () => {
  it.each([
    [true, true],
    [false, false],
    [undefined, true], // no timedatectl: a plausible time is the best evidence
  ] as const)('with a plausible time and the probe saying %s, synced is %s', async (answer, expected) => {
    const probe = vi.fn(async () => answer);
    const c = clock({ syncCheck: 'auto', minPlausibleTime: PAST, probe });
    await c.start();
    expect(probe).toHaveBeenCalledTimes(1);
    expect(c.synced).toBe(expected);
  });

  it.each([true, undefined])('is not synced before min_plausible_time, even when the probe says %s', async (answer) => {
    const c = clock({ syncCheck: 'auto', minPlausibleTime: FUTURE, probe: async () => answer });
    expect(c.synced).toBe(false);
    await c.start();
    expect(c.synced).toBe(false);
  });

  it('judges by plausibility alone until the first check', () => {
    expect(clock({ syncCheck: 'auto', minPlausibleTime: PAST, probe: async () => false }).synced).toBe(true);
    expect(clock({ syncCheck: 'auto', minPlausibleTime: FUTURE, probe: async () => true }).synced).toBe(false);
  });

  it('re-checks every recheckMs and moves the anchor when the state changes', async () => {
    vi.useFakeTimers({ now: NOW });
    let answer: boolean | undefined = false;
    const probe = vi.fn(async () => answer);
    const c = clock({ syncCheck: 'auto', minPlausibleTime: PAST, recheckMs: 1_000, probe });
    await c.start();
    expect(c.synced).toBe(false);
    const unsyncedAnchor = c.anchor;

    answer = true;
    await vi.advanceTimersByTimeAsync(999);
    expect(c.synced).toBe(false);
    await vi.advanceTimersByTimeAsync(1);
    expect(probe).toHaveBeenCalledTimes(2);
    expect(c.synced).toBe(true);
    expect(c.anchor).not.toBe(unsyncedAnchor);
    expect(c.anchor.wallMs).toBe(NOW + 1_000);

    // No change: the anchor stays.
    const syncedAnchor = c.anchor;
    await vi.advanceTimersByTimeAsync(1_000);
    expect(c.synced).toBe(true);
    expect(c.anchor).toBe(syncedAnchor);

    // The wall clock jumps back before min_plausible_time (a lost RTC): no longer synced.
    vi.setSystemTime(PAST - 60_000);
    await vi.advanceTimersByTimeAsync(1_000);
    expect(c.synced).toBe(false);

    c.stop();
    const calls = probe.mock.calls.length;
    await vi.advanceTimersByTimeAsync(5_000);
    expect(probe).toHaveBeenCalledTimes(calls);
  });
});

describe('now', () => {
  it('follows the wall clock', () => {
    vi.useFakeTimers({ now: NOW });
    const c = clock({ syncCheck: 'assume_synced', minPlausibleTime: PAST });
    expect(c.now()).toBe(NOW);
    vi.setSystemTime(NOW + 1234);
    expect(c.now()).toBe(NOW + 1234);
  });

  it('never goes backwards when the wall clock steps back', () => {
    const c = clock({ syncCheck: 'assume_synced', minPlausibleTime: PAST });
    const wall = [NOW, NOW + 500, NOW - 60_000, NOW + 400, NOW + 500, NOW + 501, NOW - 1];
    const spy = vi.spyOn(Date, 'now');
    for (const t of wall) spy.mockReturnValueOnce(t);
    const seen = wall.map(() => c.now());
    expect(seen).toEqual([NOW, NOW + 500, NOW + 500, NOW + 500, NOW + 500, NOW + 501, NOW + 501]);
  });
});
