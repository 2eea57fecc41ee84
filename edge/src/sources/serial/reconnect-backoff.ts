// Delay before the next attempt to open a lost port: exponential with full jitter, so a fleet of gateways
// whose USB hub reset together does not retry in lockstep. Always within [minMs, maxMs].

/** Attempt 0 waits `minMs`; attempt n a uniform random delay in [minMs, min(maxMs, minMs·2ⁿ)]. */
export function reconnectDelay(attempt: number, minMs: number, maxMs: number, random: () => number = Math.random): number {
  const ceiling = Math.min(maxMs, minMs * 2 ** Math.min(Math.max(attempt, 0), 30));
  return Math.round(minMs + random() * Math.max(0, ceiling - minMs));
}
