// Starts a group of components that need one outside resource (PostgreSQL, NATS). If the resource cannot be
// reached at start, that is the same state as losing it later, not a reason to exit: the resource is
// reported failing (/readyz, resource_up, one log line), start() returns, and the group is started again
// with the reporter's backoff until it succeeds, which reports the resource recovered. Until then nothing
// in the group runs, so nothing that needs the resource is acked or committed (the components outside the
// group that use it must fail their calls meanwhile; each store does). Failures that waiting cannot fix
// (refused credentials, a lock held by another writer, a bad schema) still fail start() when they happen
// then; once the process is up, every failure is retried and shown on /readyz.
import { settleWithin, startAll, stopAll, type Component } from '@tidemark/shared';
import type { ResourceReporter } from './resource-health.js';
import { classifyStartFailure } from './start-failure.js';

/** stop() waits this long for a start attempt in flight (the whole shutdown has 10 s). */
const STOP_WAIT_MS = 2_000;

export interface StartWhenAvailableOptions {
  /** The components, started in order (with rollback) and stopped in reverse. */
  parts: readonly Component[];
  /** The resource they need; shared with the reporters their users hold (same name, same state). */
  health: ResourceReporter;
  /** A failure at the first start that retrying cannot fix, turned into the error start() throws (default: as is). */
  refused?: (err: unknown) => unknown;
}

export class StartWhenAvailable implements Component {
  readonly name: string;
  private started = false;
  private stopped = false;
  private timer: NodeJS.Timeout | undefined;
  private attempt: Promise<void> | undefined;

  constructor(private readonly opts: StartWhenAvailableOptions) {
    this.name = `${opts.health.resource} (when available)`;
  }

  /** True once every part has started. */
  get running(): boolean {
    return this.started;
  }

  async start(): Promise<void> {
    this.stopped = false;
    try {
      await startAll(this.opts.parts);
    } catch (err) {
      const kind = classifyStartFailure(err);
      if (kind === 'refused-credentials') throw this.opts.refused ? this.opts.refused(err) : err;
      if (kind !== 'unavailable') throw err;
      // The reporter logs the one line of this state change ("<resource> failing; retrying …").
      this.opts.health.fail(err);
      this.schedule();
      return;
    }
    this.started = true;
  }

  private schedule(): void {
    if (this.stopped) return;
    // guard-audit: tryAgain() ends in its own catch and never rejects
    this.timer = setTimeout(() => {
      this.attempt = this.tryAgain().finally(() => (this.attempt = undefined));
    }, this.opts.health.nextDelayMs());
  }

  private async tryAgain(): Promise<void> {
    try {
      await startAll(this.opts.parts);
    } catch (err) {
      // Whatever it is now (unreachable still, or refused once reachable), the process stays up and says why.
      this.opts.health.fail(err);
      this.schedule();
      return;
    }
    if (this.stopped) {
      // stop() gave up waiting for this attempt; undo it.
      await stopAll(this.opts.parts);
      return;
    }
    this.opts.health.ok();
    this.started = true;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    await settleWithin(this.attempt, STOP_WAIT_MS);
    if (!this.started) return;
    this.started = false;
    const errors = await stopAll(this.opts.parts);
    if (errors.length === 1) throw errors[0];
    if (errors.length > 1) throw new AggregateError(errors, `${errors.length} components of ${this.name} failed to stop`);
  }
}
