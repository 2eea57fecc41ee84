// Timing helpers for the aggregation benchmark: a store wrapper that adds up the time spent inside each call
// (so a run of the real Aggregator can be split into read / bucket load / commit / CPU), and percentiles.

/** Milliseconds spent inside each wrapped method, and how often it was called. */
export interface CallTimes {
  ms: Record<string, number>;
  calls: Record<string, number>;
}

/**
 * Wraps a store so that every call of the named async methods adds its duration to `times`; everything else
 * passes through untouched (a Proxy, so the wrapper follows the store interface as it grows).
 */
export function timed<T extends object>(inner: T, methods: readonly (keyof T & string)[]): { store: T; times: CallTimes } {
  const times: CallTimes = { ms: {}, calls: {} };
  const watched = new Set<string>(methods);
  const store = new Proxy(inner, {
    get(target, prop, receiver) {
      const value = Reflect.get(target, prop, receiver) as unknown;
      if (typeof value !== 'function') return value;
      if (typeof prop !== 'string' || !watched.has(prop)) return (value as (...a: unknown[]) => unknown).bind(target);
      return async (...args: unknown[]) => {
        const t = performance.now();
        try {
          return await (value as (...a: unknown[]) => Promise<unknown>).apply(target, args);
        } finally {
          times.ms[prop] = (times.ms[prop] ?? 0) + performance.now() - t;
          times.calls[prop] = (times.calls[prop] ?? 0) + 1;
        }
      };
    },
  });
  return { store, times };
}

/** Nearest-rank percentile of an ascending-sorted array. */
export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!;
}

export function latencySummary(samplesMs: number[]): { n: number; p50_ms: number; p95_ms: number; p99_ms: number; max_ms: number } {
  const s = [...samplesMs].sort((a, b) => a - b);
  const r = (x: number) => Number(x.toFixed(2));
  return { n: s.length, p50_ms: r(percentile(s, 50)), p95_ms: r(percentile(s, 95)), p99_ms: r(percentile(s, 99)), max_ms: r(s[s.length - 1] ?? NaN) };
}
