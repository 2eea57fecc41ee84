// The one reconnect policy of the edge: every component that re-opens something it lost (the MQTT uplink,
// serial ports, gpiomon, Modbus links) waits by this rule, so a fleet behaves alike and is tuned in one place.
// Exponential with full jitter and a cap: attempt 0 waits exactly `minMs`; attempt n a uniform random delay
// in [minMs, min(maxMs, minMs·2ⁿ)]. Never below minMs (no reconnect storm at 0 ms), never above maxMs; the
// jitter keeps gateways whose broker or USB hub came back together from retrying in lockstep.

/** The delay before attempt `attempt` (0-based count of failures so far). */
export function backoffDelay(attempt: number, minMs: number, maxMs: number, random: () => number = Math.random): number {
  const ceiling = Math.min(maxMs, minMs * 2 ** Math.min(Math.max(attempt, 0), 30));
  return Math.round(minMs + random() * Math.max(0, ceiling - minMs));
}

export interface BackoffPolicy {
  minMs: number;
  maxMs: number;
  random?: () => number;
}

/** The policy's state for one connection: how many attempts failed since the last success. */
export class Backoff {
  private failures = 0;

  constructor(private readonly policy: BackoffPolicy) {}

  /** Failed attempts since the last reset. */
  get attempts(): number {
    return this.failures;
  }

  /** The delay before the next attempt; counts one more failure. */
  next(): number {
    return backoffDelay(this.failures++, this.policy.minMs, this.policy.maxMs, this.policy.random);
  }

  /** The connection is up (or was healthy long enough): the next failure starts from minMs again. */
  reset(): void {
    this.failures = 0;
  }
}
