// Resource health: every resource the cloud roles depend on (stream store, aggregate store, device registry,
// dead letters, alert outbox …) is either ok or failing(reason, since). A failure is a state, not a crash:
// the component that hit it reports it here and carries on (retrying with backoff, acking nothing it could
// not store). This module turns the reports into what operators see:
//   - /readyz answers 503 {"status":"degraded","failing":[{resource,reason,since}]} while any resource fails;
//   - tidemark_cloud_resource_up{resource} is 1/0, tidemark_cloud_resource_failures_total{resource} counts
//     every failed attempt;
//   - one log line per state change (failing, recovered), never one per failed attempt.
import type { Logger, MetricsRegistry } from '@tidemark/shared';

export interface FailingResource {
  resource: string;
  reason: string;
  /** ISO 8601: when it started failing (this spell). */
  since: string;
}

/** What a component holds to report on one resource. */
export interface ResourceReporter {
  readonly resource: string;
  /** The operation succeeded: the resource is back (logs once if it was failing). */
  ok(): void;
  /** An operation failed; logs once when the resource goes from ok to failing. */
  fail(err: unknown): void;
  /** True while failing. */
  readonly failing: boolean;
  /** Wait this long before the next attempt (grows while failing, reset by ok()). */
  nextDelayMs(): number;
}

interface State {
  reason: string;
  sinceMs: number;
  attempts: number;
}

/** Exponential backoff while failing: 100 ms, 200 ms … capped (default 5 s), with ±20 % jitter. */
export interface BackoffOptions {
  initialMs?: number;
  maxMs?: number;
}

export class ResourceHealth {
  private readonly failingNow = new Map<string, State>();
  private readonly known = new Set<string>();
  private readonly up;
  private readonly failures;

  constructor(
    private readonly logger: Logger,
    metrics: MetricsRegistry,
    private readonly backoff: BackoffOptions = {},
    private readonly now: () => number = Date.now,
  ) {
    this.up = metrics.gauge('resource_up', 'Whether a resource the process depends on works (1) or is failing (0), by resource', ['resource']);
    this.failures = metrics.counter('resource_failures_total', 'Failed operations on a resource (disk full, database unreachable …), by resource', ['resource']);
  }

  /**
   * A reporter for `resource` (e.g. "stream-store", "aggregate-store", "device-registry", "dead-letters",
   * "alert-outbox"). Asking twice for the same name gives reporters sharing one state.
   */
  reporter(resource: string): ResourceReporter {
    if (!this.known.has(resource)) {
      this.known.add(resource);
      this.up.set({ resource }, 1);
      this.failures.inc({ resource }, 0);
    }
    const health = this;
    return {
      resource,
      ok: () => health.ok(resource),
      fail: (err: unknown) => health.fail(resource, err),
      get failing() {
        return health.failingNow.has(resource);
      },
      nextDelayMs: () => health.nextDelayMs(resource),
    };
  }

  ok(resource: string): void {
    const s = this.failingNow.get(resource);
    if (!s) return;
    this.failingNow.delete(resource);
    this.up.set({ resource }, 1);
    this.logger.info({ resource, failed_for_ms: this.now() - s.sinceMs, failed_attempts: s.attempts }, `${resource} recovered`);
  }

  fail(resource: string, err: unknown): void {
    if (!this.known.has(resource)) this.reporter(resource);
    const reason = describe(err);
    this.failures.inc({ resource });
    const s = this.failingNow.get(resource);
    if (s) {
      s.attempts += 1;
      s.reason = reason; // the latest reason is what /readyz shows; not worth a log line
      return;
    }
    this.failingNow.set(resource, { reason, sinceMs: this.now(), attempts: 1 });
    this.up.set({ resource }, 0);
    this.logger.error({ resource, reason }, `${resource} failing; retrying with backoff until it recovers`);
  }

  nextDelayMs(resource: string): number {
    const attempts = this.failingNow.get(resource)?.attempts ?? 0;
    if (attempts === 0) return 0;
    const initial = this.backoff.initialMs ?? 100;
    const max = this.backoff.maxMs ?? 5_000;
    const base = Math.min(max, initial * 2 ** Math.min(attempts - 1, 20));
    return Math.round(base * (0.8 + Math.random() * 0.4));
  }

  /** Every resource failing now, oldest failure first. */
  failing(): FailingResource[] {
    return [...this.failingNow.entries()]
      .sort((a, b) => a[1].sinceMs - b[1].sinceMs)
      .map(([resource, s]) => ({ resource, reason: s.reason, since: new Date(s.sinceMs).toISOString() }));
  }
}

/** A short, operator-readable reason: the error's code when it has one, and its message. */
export function describe(err: unknown): string {
  if (err instanceof Error) {
    const code = (err as { code?: unknown }).code;
    const cause = (err as { cause?: unknown }).cause;
    const causeCode = cause instanceof Error ? (cause as { code?: unknown }).code : undefined;
    const c = typeof causeCode === 'string' && causeCode !== code ? causeCode : typeof code === 'string' ? code : undefined;
    const msg = err.message.length > 300 ? `${err.message.slice(0, 300)}…` : err.message;
    return c && !msg.includes(c) ? `${c}: ${msg}` : msg;
  }
  return String(err);
}
