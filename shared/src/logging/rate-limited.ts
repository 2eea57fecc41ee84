// Logs a repeating condition at most once per key per interval ("malformed payload" once per device per
// minute). Repeats inside the interval are counted, and the next line that does get out carries
// `suppressed: n`, so nothing disappears without a trace. Memory is bounded by `maxKeys`.

import type { Logger } from 'pino';
import type { LogLevel } from './levels.js';

export interface RateLimitOptions {
  /** Clock in ms; injectable for tests. Default Date.now. */
  now?: () => number;
  /** Keys remembered at most (oldest forgotten first). Default 10000. */
  maxKeys?: number;
}

interface KeyState {
  windowStart: number;
  suppressed: number;
  level: LogLevel;
  obj: object;
  msg: string | undefined;
}

export class RateLimitedLogger {
  private readonly state = new Map<string, KeyState>();
  private readonly now: () => number;
  private readonly maxKeys: number;

  constructor(
    readonly logger: Logger,
    readonly intervalMs: number,
    opts: RateLimitOptions = {},
  ) {
    this.now = opts.now ?? Date.now;
    this.maxKeys = opts.maxKeys ?? 10_000;
  }

  /** Logs unless `key` was logged less than intervalMs ago. Returns true when a line was written. */
  log(level: LogLevel, key: string, obj: object, msg?: string): boolean {
    const t = this.now();
    const s = this.state.get(key);
    if (s && t - s.windowStart < this.intervalMs) {
      s.suppressed++;
      s.level = level;
      s.obj = obj;
      s.msg = msg;
      return false;
    }
    const suppressed = s?.suppressed ?? 0;
    this.state.delete(key); // re-insert so Map order stays oldest-window-first
    this.state.set(key, { windowStart: t, suppressed: 0, level, obj, msg });
    this.evict();
    this.logger[level](suppressed > 0 ? { ...obj, suppressed } : obj, msg);
    return true;
  }

  fatal(key: string, obj: object, msg?: string): boolean {
    return this.log('fatal', key, obj, msg);
  }
  error(key: string, obj: object, msg?: string): boolean {
    return this.log('error', key, obj, msg);
  }
  warn(key: string, obj: object, msg?: string): boolean {
    return this.log('warn', key, obj, msg);
  }
  info(key: string, obj: object, msg?: string): boolean {
    return this.log('info', key, obj, msg);
  }
  debug(key: string, obj: object, msg?: string): boolean {
    return this.log('debug', key, obj, msg);
  }
  trace(key: string, obj: object, msg?: string): boolean {
    return this.log('trace', key, obj, msg);
  }

  /** Repeats of `key` swallowed since its last line. */
  suppressedCount(key: string): number {
    return this.state.get(key)?.suppressed ?? 0;
  }

  /** Writes one line per key with pending repeats (the last repeat, with `suppressed: n`); call at shutdown. */
  flush(): void {
    for (const s of this.state.values()) {
      if (s.suppressed === 0) continue;
      this.logger[s.level]({ ...s.obj, suppressed: s.suppressed }, s.msg);
      s.suppressed = 0;
    }
  }

  /** Map order is oldest window first (log() re-inserts), so the keys dropped are the stalest. */
  private evict(): void {
    for (const key of this.state.keys()) {
      if (this.state.size <= this.maxKeys) return;
      this.state.delete(key);
    }
  }
}

export type KeyedLog = { [L in LogLevel]: (obj: object, msg?: string) => boolean };

const limiters = new WeakMap<Logger, Map<number, RateLimitedLogger>>();

/**
 * `logEvery(log, \`malformed:${device}\`, 60_000).warn({ device }, 'malformed payload')` — the same as a
 * RateLimitedLogger shared by every caller with this logger and interval.
 */
export function logEvery(logger: Logger, key: string, intervalMs: number): KeyedLog {
  let byInterval = limiters.get(logger);
  if (!byInterval) limiters.set(logger, (byInterval = new Map()));
  let limiter = byInterval.get(intervalMs);
  if (!limiter) byInterval.set(intervalMs, (limiter = new RateLimitedLogger(logger, intervalMs)));
  const l = limiter;
  return {
    fatal: (obj, msg) => l.log('fatal', key, obj, msg),
    error: (obj, msg) => l.log('error', key, obj, msg),
    warn: (obj, msg) => l.log('warn', key, obj, msg),
    info: (obj, msg) => l.log('info', key, obj, msg),
    debug: (obj, msg) => l.log('debug', key, obj, msg),
    trace: (obj, msg) => l.log('trace', key, obj, msg),
  };
}
