// When a notification that failed is tried next, and when it is given up: full-jitter exponential backoff
// (the shared policy) from `baseMs` up to `capMs`, at least as long as the receiver's Retry-After (itself
// capped), and never past `horizonMs` after the row was written. Pure: clock and randomness are arguments.
import { fullJitterDelay } from '@tidemark/shared';

export interface RetrySchedule {
  baseMs: number;
  capMs: number;
  /** A row still undelivered this long after it was written is failed. */
  horizonMs: number;
}

export const DEFAULT_RETRY_SCHEDULE: Readonly<RetrySchedule> = { baseMs: 1_000, capMs: 5 * 60_000, horizonMs: 24 * 3_600_000 };

export interface RetryInput {
  /** Attempts made so far, the failed one included (≥ 1). */
  attempts: number;
  /** ms since the epoch when the row was written. */
  createdAt: number;
  /** ms since the epoch when the attempt failed. */
  now: number;
  /** From a Retry-After header. */
  retryAfterMs?: number;
}

/**
 * The time of the next attempt, or null when the horizon has passed (the row is failed). The last attempt
 * before the horizon is pulled in to the horizon itself, so a row always gets a try at its deadline.
 */
export function nextAttemptAt(input: RetryInput, schedule: RetrySchedule = DEFAULT_RETRY_SCHEDULE, random: () => number = Math.random): number | null {
  const deadline = input.createdAt + schedule.horizonMs;
  if (input.now >= deadline) return null;
  let delay = fullJitterDelay(Math.max(input.attempts - 1, 0), { baseMs: schedule.baseMs, capMs: schedule.capMs }, random);
  if (input.retryAfterMs !== undefined && Number.isFinite(input.retryAfterMs)) {
    delay = Math.max(delay, Math.min(Math.max(input.retryAfterMs, 0), schedule.capMs));
  }
  return Math.min(input.now + delay, deadline);
}
