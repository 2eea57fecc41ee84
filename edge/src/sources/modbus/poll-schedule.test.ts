import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { afterPoll, initialSchedule, isProbe, MAX_SILENT_BACKOFF_MS, nextSlave, type SlaveSchedule } from './poll-schedule.js';

/**
 * Simulates one bus for `durationMs`: each poll of an answering slave takes `pollMs`, a silent slave's poll
 * takes its timeout × attempts. Returns the polls per slave.
 */
function simulate(opts: { slaves: number; intervalMs: number; pollMs: number; dead: Set<number>; timeoutMs: number; retries: number; durationMs: number }) {
  let now = 0;
  const s: SlaveSchedule[] = Array.from({ length: opts.slaves }, () => initialSchedule(opts.intervalMs, 0));
  const polls = new Array<number>(opts.slaves).fill(0);
  while (now < opts.durationMs) {
    const i = nextSlave(s);
    now = Math.max(now, s[i]!.due);
    const dead = opts.dead.has(i);
    now += dead ? opts.timeoutMs * (isProbe(s[i]!) ? 1 : opts.retries + 1) : opts.pollMs;
    if (!dead) polls[i]!++;
    s[i] = afterPoll(s[i]!, dead ? 'silent' : 'answered', now);
  }
  return polls;
}

describe('poll schedule', () => {
  it('polls the most overdue slave first, config order on ties', () => {
    expect(nextSlave([{ due: 5, intervalMs: 1, silentPolls: 0 }, { due: 3, intervalMs: 1, silentPolls: 0 }])).toBe(1);
    expect(nextSlave([{ due: 3, intervalMs: 1, silentPolls: 0 }, { due: 3, intervalMs: 1, silentPolls: 0 }])).toBe(0);
  });

  it('keeps cadence, and skips missed polls instead of bunching them', () => {
    const s = initialSchedule(1000, 0);
    expect(afterPoll(s, 'answered', 20).due).toBe(1000);
    expect(afterPoll({ ...s, due: 1000 }, 'answered', 3500).due).toBe(3500);
  });

  it('backs a silent slave off exponentially up to the cap, and resets when it answers', () => {
    let s = initialSchedule(1000, 0);
    const waits: number[] = [];
    for (let k = 0; k < 8; k++) {
      s = afterPoll(s, 'silent', 100);
      waits.push(s.due - 100);
    }
    expect(waits).toEqual([2000, 4000, 8000, 16_000, MAX_SILENT_BACKOFF_MS, MAX_SILENT_BACKOFF_MS, MAX_SILENT_BACKOFF_MS, MAX_SILENT_BACKOFF_MS]);
    expect(isProbe(s)).toBe(true);
    s = afterPoll(s, 'answered', 200);
    expect(isProbe(s)).toBe(false);
    // A bus outage is not the slave's silence.
    expect(afterPoll(initialSchedule(1000, 0), 'bus_down', 50).silentPolls).toBe(0);
  });

  it('a dead slave never costs the others their rate (10 slaves at 1 Hz, one dead, 300 ms timeout, 1 retry)', () => {
    const polls = simulate({ slaves: 10, intervalMs: 1000, pollMs: 60, dead: new Set([4]), timeoutMs: 300, retries: 1, durationMs: 120_000 });
    for (let i = 0; i < 10; i++) {
      if (i === 4) expect(polls[i]).toBe(0);
      else expect(polls[i]).toBeGreaterThanOrEqual(118);
    }
  });

  it('shares an overloaded bus evenly', () => {
    fc.assert(
      fc.property(fc.integer({ min: 2, max: 12 }), fc.integer({ min: 50, max: 400 }), (slaves, pollMs) => {
        const polls = simulate({ slaves, intervalMs: 100, pollMs, dead: new Set(), timeoutMs: 1, retries: 0, durationMs: 60_000 });
        expect(Math.max(...polls) - Math.min(...polls)).toBeLessThanOrEqual(1);
      }),
    );
  });
});
