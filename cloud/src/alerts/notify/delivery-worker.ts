// Drains the alert outbox: sends each due row through its notifier and records the outcome, so every
// transition reaches every notifier at least once with its stable id. Invariants: at most `concurrency` sends
// in flight overall and at most one per (notifier, transition), and with several notifiers none holds every
// slot (a hung endpoint cannot stall the others); rows are taken in the outbox's delivery order (severity,
// round robin over rules, commit order), and the outbox offers an alert series' next row to a notifier only
// once the one before is settled, so a series reaches each receiver in commit order; a row is only ever
// settled by the outcome of its own send (a crash between send and record resends the same id); a row leaves
// the outbox delivered or failed (rejected, past the retry horizon, or its notifier gone/unconfigured), never
// silently. The outbox itself is a resource (`alert-outbox`): while it cannot be read or written the worker
// backs off, keeps the outcomes it could not record and writes them first when it can, and sends nothing new
// but one probe. Timers never throw: every callback is guarded and an outbox error only delays the row.
import type { Component, Logger, MetricsRegistry } from '@tidemark/shared';
import { guard, logEvery } from '@tidemark/shared';
import type { Counter, Gauge } from 'prom-client';
import { ResourceHealth, type ResourceReporter } from '../../health/resource-health.js';
import type { DeliveryResult, Notifier, Outbox, OutboxItem } from './notifier.js';
import { DEFAULT_RETRY_SCHEDULE, nextAttemptAt, type RetrySchedule } from './retry-schedule.js';

export const DEFAULT_DELIVERY_CONCURRENCY = 8;
export const DEFAULT_POLL_INTERVAL_MS = 200;
export const DEFAULT_STOP_TIMEOUT_MS = 2_000;
/** The depth gauges cost a count over every pending row: refreshed at most this often. */
export const DEFAULT_GAUGE_INTERVAL_MS = 1_000;
/** Due rows looked at beyond the free slots, so a backlog of one notifier does not hide the others' rows. */
const SCAN_AHEAD = 64;

/** Why a row was failed, as the `reason` label of alert_notifications_failed_total. */
export type FailReason = 'rejected' | 'horizon' | 'gone' | 'unconfigured';

export interface DeliveryWorkerOptions {
  outbox: Outbox;
  /** Keyed by Notifier.name (the outbox rows' `notifier`); an array is keyed by each one's name. */
  notifiers: ReadonlyMap<string, Notifier> | readonly Notifier[];
  /** The worker makes its own child (`component: 'alert-delivery'`). */
  logger: Logger;
  metrics: MetricsRegistry;
  /** Sends in flight at most, over all notifiers. Default 8. */
  concurrency?: number;
  /** Default 200 ms; wake() polls at once. */
  pollIntervalMs?: number;
  /** Default 1 s base, 5 min cap, 24 h horizon. */
  retry?: Partial<RetrySchedule>;
  /** How long stop() waits for sends in flight. Default 2 s. */
  stopTimeoutMs?: number;
  /** The outbox as a resource (`alert-outbox`): reported failing while it cannot be read or written, with its backoff. Default: a reporter of its own. */
  health?: ResourceReporter;
  /** How often the depth gauges are refreshed, at most. Default 1 s. */
  gaugeIntervalMs?: number;
  now?: () => number;
  random?: () => number;
}

interface Metrics {
  sent: Counter<'notifier'>;
  failed: Counter<'notifier' | 'reason'>;
  retrying: Gauge;
  depth: Gauge;
  oldestAge: Gauge;
  disabled: Gauge<'notifier'>;
}

export class DeliveryWorker implements Component {
  readonly name = 'alert-delivery';
  private readonly outbox: Outbox;
  private readonly notifiers: ReadonlyMap<string, Notifier>;
  private readonly log: Logger;
  private readonly concurrency: number;
  private readonly pollIntervalMs: number;
  private readonly schedule: RetrySchedule;
  private readonly stopTimeoutMs: number;
  private readonly now: () => number;
  private readonly random: () => number;
  private readonly m: Metrics;
  private readonly inFlight = new Map<string, Promise<void>>();
  private readonly perNotifier = new Map<string, number>();
  private readonly perNotifierLimit: number;
  private readonly disabledNotifiers = new Set<string>();
  /** Rows that failed at least once and are not settled yet (what this process has seen). */
  private readonly retrying = new Set<string>();
  /** Notifiers whose last attempt failed: the warning is logged on the way in, an info on the way out. */
  private readonly failing = new Set<string>();
  private readonly warnedUnconfigured = new Set<string>();
  private readonly health: ResourceReporter;
  /** Outcomes of sends the outbox could not record (it was failing): written first once it works again. */
  private readonly unrecorded = new Map<string, { notifier: Notifier; item: OutboxItem; result: DeliveryResult }>();
  /** While the outbox fails, no tick before this (wake-ups and send completions do not cut the backoff short). */
  private backoffUntil = 0;
  private readonly gaugeIntervalMs: number;
  private gaugesAt = -Infinity;
  private timer: NodeJS.Timeout | undefined;
  private timerAt = Infinity;
  private running = false;
  /** After stop() gave up waiting: late outcomes are not recorded (the outbox may be closed; the rows stay due). */
  private closed = false;

  constructor(opts: DeliveryWorkerOptions) {
    this.outbox = opts.outbox;
    this.notifiers = Array.isArray(opts.notifiers)
      ? new Map((opts.notifiers as readonly Notifier[]).map((n) => [n.name, n]))
      : (opts.notifiers as ReadonlyMap<string, Notifier>);
    this.log = opts.logger.child({ component: this.name });
    this.concurrency = Math.max(1, Math.floor(opts.concurrency ?? DEFAULT_DELIVERY_CONCURRENCY));
    this.perNotifierLimit = this.notifiers.size > 1 ? Math.max(1, this.concurrency - 1) : this.concurrency;
    this.pollIntervalMs = opts.pollIntervalMs ?? DEFAULT_POLL_INTERVAL_MS;
    this.schedule = { ...DEFAULT_RETRY_SCHEDULE, ...opts.retry };
    this.stopTimeoutMs = Math.min(opts.stopTimeoutMs ?? DEFAULT_STOP_TIMEOUT_MS, DEFAULT_STOP_TIMEOUT_MS);
    this.now = opts.now ?? Date.now;
    this.random = opts.random ?? Math.random;
    this.gaugeIntervalMs = opts.gaugeIntervalMs ?? DEFAULT_GAUGE_INTERVAL_MS;
    const reg = opts.metrics;
    this.health = opts.health ?? new ResourceHealth(this.log, reg).reporter('alert-outbox');
    this.m = {
      sent: reg.counter('alert_notifications_sent_total', 'Alert notifications delivered, by notifier', ['notifier']),
      failed: reg.counter('alert_notifications_failed_total', 'Alert notifications given up (rejected, horizon, gone, unconfigured)', ['notifier', 'reason']),
      retrying: reg.gauge('alert_notifications_retrying', 'Outbox rows that failed at least once and await another attempt'),
      depth: reg.gauge('alert_outbox_depth', 'Outbox rows not yet delivered or failed'),
      oldestAge: reg.gauge('alert_outbox_oldest_age_seconds', 'Age of the oldest outbox row not yet delivered or failed (0 when empty)'),
      disabled: reg.gauge('alert_notifier_disabled', 'A notifier disabled because its endpoint answered HTTP 410 Gone', ['notifier']),
    };
    for (const name of this.notifiers.keys()) {
      this.m.disabled.set({ notifier: name }, 0);
      this.m.sent.inc({ notifier: name }, 0); // every notifier's series exists from the start
    }
  }

  async start(): Promise<void> {
    if (this.running) return;
    this.running = true;
    this.closed = false;
    this.scheduleTick(0);
  }

  /** Polls now (a transition was just committed) instead of at the next interval. */
  wake(): void {
    this.scheduleTick(0);
  }

  isDisabled(notifier: string): boolean {
    return this.disabledNotifiers.has(notifier);
  }

  /** Sends in flight now. */
  get inFlightCount(): number {
    return this.inFlight.size;
  }

  async stop(): Promise<void> {
    if (!this.running) return;
    this.running = false;
    clearTimeout(this.timer);
    this.timer = undefined;
    this.timerAt = Infinity;
    const pending = [...this.inFlight.values()];
    if (pending.length > 0) {
      let timer: NodeJS.Timeout | undefined;
      const gaveUp = new Promise<'timeout'>((resolve) => (timer = setTimeout(() => resolve('timeout'), this.stopTimeoutMs)));
      const outcome = await Promise.race([Promise.allSettled(pending).then(() => 'done' as const), gaveUp]);
      clearTimeout(timer);
      if (outcome === 'timeout') {
        this.log.warn({ in_flight: this.inFlight.size }, 'stopping with notifications still in flight; they stay in the outbox and are sent again');
      }
    }
    if (this.unrecorded.size > 0) {
      this.log.warn({ unrecorded: this.unrecorded.size }, 'stopping with notification outcomes the outbox could not record; those notifications are sent again');
    }
    this.closed = true;
  }

  private scheduleTick(delayMs: number): void {
    if (!this.running) return;
    const at = Math.max(Date.now() + delayMs, this.backoffUntil);
    if (this.timer && this.timerAt <= at) return;
    clearTimeout(this.timer);
    this.timerAt = at;
    this.timer = setTimeout(guard(this.log, 'alert outbox tick', () => {
      this.timer = undefined;
      this.timerAt = Infinity;
      this.tick();
    }), at - Date.now());
    this.timer.unref();
  }

  private tick(): void {
    try {
      this.recordHeldOutcomes();
      // While failing, one send at a time: it probes the outbox (its outcome must be recorded) without
      // resending a batch whose outcomes could not be recorded.
      const probing = this.health.failing;
      const started = this.poll(probing ? (this.inFlight.size === 0 ? 1 : 0) : this.concurrency);
      // Read and found nothing to send: the outbox works (a probe in flight decides for itself).
      if (!probing || (started === 0 && this.inFlight.size === 0)) this.outboxOk();
    } catch (err) {
      this.outboxFailed(err);
    }
    this.scheduleTick(this.pollIntervalMs);
  }

  private outboxOk(): void {
    this.backoffUntil = 0;
    this.health.ok();
  }

  private outboxFailed(err: unknown): void {
    this.health.fail(err);
    this.backoffUntil = Date.now() + this.health.nextDelayMs();
  }

  /** Writes the outcomes held while the outbox failed; throws (keeping the rest) if it still cannot. */
  private recordHeldOutcomes(): void {
    if (this.unrecorded.size === 0) return;
    for (const [key, { notifier, item, result }] of this.unrecorded) {
      this.record(notifier, item, key, result);
      this.unrecorded.delete(key);
    }
    this.outboxOk();
  }

  /**
   * Starts at most `maxNew` sends for due rows while slots are free; returns how many it started.
   * Synchronous: the outbox is. Rows come in the outbox's delivery order. Fair across notifiers: each
   * notifier with due rows gets a slot before any takes a second one, and with several notifiers none holds
   * more than concurrency − 1, so an endpoint that hangs until its timeout cannot stall the others.
   */
  private poll(maxNew: number): number {
    const now = this.now();
    let startedTotal = 0;
    for (;;) {
      const free = Math.min(this.concurrency - this.inFlight.size, maxNew - startedTotal);
      if (free <= 0) break;
      // Rows in flight are still due (not yet settled); look a little further so the fair pass sees rows of
      // other notifiers behind a backlog of one.
      const items = this.outbox.due(now, this.inFlight.size + free + SCAN_AHEAD);
      const sendable: [OutboxItem, Notifier][] = [];
      let settledHere = 0;
      for (const item of items) {
        if (this.inFlight.has(keyOf(item)) || this.unrecorded.has(keyOf(item))) continue;
        const notifier = this.notifiers.get(item.notifier);
        if (!notifier) {
          this.failUnconfigured(item, now);
          settledHere += 1;
        } else if (this.disabledNotifiers.has(item.notifier)) {
          this.fail(item, 'gone', `notifier ${item.notifier} disabled: HTTP 410 Gone`, now);
          settledHere += 1;
        } else {
          sendable.push([item, notifier]);
        }
      }
      let started = 0;
      for (const firstPass of [true, false]) {
        for (const [item, notifier] of sendable) {
          if (this.inFlight.size >= this.concurrency || started >= free) break;
          const key = keyOf(item);
          if (this.inFlight.has(key)) continue;
          const busy = this.inFlightOf(item.notifier);
          if (firstPass ? busy > 0 : busy >= this.perNotifierLimit) continue;
          if (item.attempts > 0) this.retrying.add(key);
          this.perNotifier.set(item.notifier, busy + 1);
          this.inFlight.set(key, this.send(notifier, item, key));
          started += 1;
        }
      }
      startedTotal += started;
      // Ask again only if this round settled rows without sending (they made room in the due window).
      if (started > 0 || settledHere === 0) break;
    }
    if (Date.now() - this.gaugesAt >= this.gaugeIntervalMs) this.updateGauges(now);
    return startedTotal;
  }

  private inFlightOf(notifier: string): number {
    return this.perNotifier.get(notifier) ?? 0;
  }

  private async send(notifier: Notifier, item: OutboxItem, key: string): Promise<void> {
    let result: DeliveryResult;
    try {
      result = await notifier.send(item.transition);
    } catch (err) {
      result = { kind: 'retry', error: describe(err) };
    }
    try {
      if (!this.closed) {
        this.record(notifier, item, key, result);
        this.outboxOk();
      }
    } catch (err) {
      // The outbox cannot record the outcome now: hold it and write it once the outbox works again. Until
      // then the row stays pending (a crash meanwhile sends it again, same id) and is not sent again.
      this.unrecorded.set(key, { notifier, item, result });
      this.outboxFailed(err);
    } finally {
      this.inFlight.delete(key);
      this.perNotifier.set(item.notifier, this.inFlightOf(item.notifier) - 1);
      if (this.running) this.scheduleTick(0);
    }
  }

  private record(notifier: Notifier, item: OutboxItem, key: string, result: DeliveryResult): void {
    const now = this.now();
    const attempts = item.attempts + 1;
    switch (result.kind) {
      case 'delivered':
        this.outbox.delivered(item.transitionId, item.notifier, now);
        this.retrying.delete(key);
        this.m.sent.inc({ notifier: item.notifier });
        if (this.failing.delete(item.notifier)) this.log.info({ notifier: item.notifier }, 'notifications are being delivered again');
        return;
      case 'rejected':
        this.fail(item, 'rejected', result.error, now);
        logEvery(this.log, `rejected:${item.notifier}`, 60_000).warn(
          { notifier: item.notifier, transition: item.transitionId, err: result.error },
          'notification rejected by the receiver; not retried',
        );
        return;
      case 'gone':
        this.disable(notifier, result.error);
        this.fail(item, 'gone', result.error, now);
        return;
      case 'retry': {
        if (this.disabledNotifiers.has(item.notifier)) {
          this.fail(item, 'gone', `notifier ${item.notifier} disabled: HTTP 410 Gone`, now);
          return;
        }
        const next = nextAttemptAt(
          { attempts, createdAt: item.createdAt, now, ...(result.retryAfterMs === undefined ? {} : { retryAfterMs: result.retryAfterMs }) },
          this.schedule,
          this.random,
        );
        if (next === null) {
          this.fail(item, 'horizon', `gave up after ${attempts} attempts: ${result.error}`, now);
          logEvery(this.log, `horizon:${item.notifier}`, 60_000).warn(
            { notifier: item.notifier, transition: item.transitionId, attempts, err: result.error },
            'notification not delivered within the retry horizon; failed',
          );
          return;
        }
        this.outbox.retryAt(item.transitionId, item.notifier, attempts, next, result.error);
        this.retrying.add(key);
        if (!this.failing.has(item.notifier)) {
          this.failing.add(item.notifier);
          this.log.warn({ notifier: item.notifier, err: result.error }, 'notification failed; retrying with backoff');
        }
        return;
      }
    }
  }

  private fail(item: OutboxItem, reason: FailReason, error: string, now: number): void {
    this.outbox.failed(item.transitionId, item.notifier, error, now);
    this.retrying.delete(keyOf(item));
    this.m.failed.inc({ notifier: item.notifier, reason });
  }

  private disable(notifier: Notifier, error: string): void {
    if (this.disabledNotifiers.has(notifier.name)) return;
    this.disabledNotifiers.add(notifier.name);
    this.m.disabled.set({ notifier: notifier.name }, 1);
    const url = targetOf(notifier);
    this.log.warn(
      { notifier: notifier.name, ...(url ? { url } : {}), err: error },
      `notifier ${notifier.name}${url ? ` (${url})` : ''}: HTTP 410 Gone: endpoint disabled; its notifications are failed until the collector restarts`,
    );
  }

  private failUnconfigured(item: OutboxItem, now: number): void {
    this.fail(item, 'unconfigured', `notifier ${item.notifier} is not configured`, now);
    if (!this.warnedUnconfigured.has(item.notifier)) {
      this.warnedUnconfigured.add(item.notifier);
      this.log.warn({ notifier: item.notifier }, 'outbox rows for a notifier that is no longer configured are failed');
    }
  }

  private updateGauges(now: number): void {
    this.gaugesAt = Date.now();
    const { count, oldestCreatedAt } = this.outbox.depth();
    this.m.depth.set(count);
    this.m.oldestAge.set(oldestCreatedAt === null ? 0 : Math.max(0, (now - oldestCreatedAt) / 1000));
    this.m.retrying.set(this.retrying.size);
  }
}

function keyOf(item: { notifier: string; transitionId: string }): string {
  return `${item.notifier}\u0000${item.transitionId}`;
}

/** A notifier's endpoint for log lines (credentials and query string removed), when it has a URL. */
function targetOf(notifier: Notifier): string | undefined {
  const url = (notifier as { url?: unknown }).url;
  if (typeof url !== 'string') return undefined;
  try {
    const u = new URL(url);
    u.username = '';
    u.password = '';
    u.search = '';
    return u.toString();
  } catch {
    return undefined;
  }
}

function describe(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
