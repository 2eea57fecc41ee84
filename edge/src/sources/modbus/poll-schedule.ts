// When each slave on a bus is polled next. One request is outstanding per bus, so the bus runs one poll at a
// time: the slave whose poll is most overdue goes first (ties: the order of the config), which shares a busy
// bus round-robin. Missed polls are skipped, never bunched. A slave that answered nothing in a poll backs
// off: its next polls come after 2, 4, 8 … intervals (capped) and are single attempts, so a dead slave costs
// at most one timeout per backoff period and never starves the others. Pure: time is passed in.

/** The longest a silent slave waits between probes, unless its own poll interval is longer. */
export const MAX_SILENT_BACKOFF_MS = 30_000;

export interface SlaveSchedule {
  /** When the next poll is due (ms, the runner's clock). */
  due: number;
  intervalMs: number;
  /** Consecutive polls in which the slave answered no request at all. */
  silentPolls: number;
}

export type PollOutcome = 'answered' | 'silent' | 'bus_down';

export function initialSchedule(intervalMs: number, now: number): SlaveSchedule {
  return { due: now, intervalMs, silentPolls: 0 };
}

/** Index of the slave to poll next: the earliest due, first in config order on a tie. */
export function nextSlave(schedules: readonly SlaveSchedule[]): number {
  let best = -1;
  for (let i = 0; i < schedules.length; i++) {
    if (best < 0 || schedules[i]!.due < schedules[best]!.due) best = i;
  }
  return best;
}

/** Whether the slave's next poll is a single probe (no retries) because it has been silent. */
export function isProbe(s: SlaveSchedule): boolean {
  return s.silentPolls > 0;
}

/**
 * The schedule after a poll that was due at `s.due` and ended at `now`. An answering slave keeps its
 * cadence (due + interval, or now if it fell behind); a silent one backs off from now.
 */
export function afterPoll(s: SlaveSchedule, outcome: PollOutcome, now: number): SlaveSchedule {
  if (outcome === 'silent') {
    const silentPolls = s.silentPolls + 1;
    const cap = Math.max(s.intervalMs, MAX_SILENT_BACKOFF_MS);
    const wait = Math.min(cap, s.intervalMs * 2 ** Math.min(silentPolls, 20));
    return { ...s, silentPolls, due: now + wait };
  }
  // The bus being down says nothing about the slave; its cadence resumes once the bus is back.
  const silentPolls = outcome === 'answered' ? 0 : s.silentPolls;
  const next = s.due + s.intervalMs;
  return { ...s, silentPolls, due: next < now ? now : next };
}
