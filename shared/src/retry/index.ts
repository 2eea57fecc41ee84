// Backoff for whoever owns a retry (a runner, a delivery worker): one pure policy, so components do not each
// grow their own. Exponential with full jitter (AWS architecture blog): a fleet that failed together does not
// retry in lockstep. Pure: the randomness is injected.

export interface BackoffPolicy {
  /** The ceiling of attempt 0's delay, doubled each attempt. */
  baseMs: number;
  /** No delay exceeds this. */
  capMs: number;
}

/** Full jitter: a uniform delay in [0, min(capMs, baseMs·2^attempt)] ms, an integer. `attempt` counts from 0. */
export function fullJitterDelay(attempt: number, policy: BackoffPolicy, random: () => number = Math.random): number {
  const exp = Math.min(Math.max(Math.floor(attempt), 0), 52);
  const ceiling = Math.min(policy.capMs, policy.baseMs * 2 ** exp);
  const r = Math.min(Math.max(random(), 0), 1);
  return Math.min(Math.floor(r * (ceiling + 1)), ceiling);
}
