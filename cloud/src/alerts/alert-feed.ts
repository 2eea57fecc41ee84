// Alert transitions for `event: alert` in a process that does not evaluate alerts (`--role api` beside an
// aggregator on the same data_dir): follows the alert store's transitions table by its commit sequence. The
// evaluator commits before anyone can see a transition, so the feed never shows one that could be undone.
import { guard, type Component, type Logger } from '@tidemark/shared';
import type { AlertTransition } from './alert-types.js';
import { SqliteAlertStore } from './sqlite-alert-store.js';

export class AlertStoreFeed implements Component {
  readonly name = 'alert-feed';
  private store: SqliteAlertStore | undefined;
  private seq: number | undefined;
  private timer: NodeJS.Timeout | undefined;
  private readonly listeners: ((t: readonly AlertTransition[]) => void)[] = [];
  private warned = false;

  constructor(
    private readonly path: string,
    private readonly logger: Logger,
    private readonly pollMs = 250,
  ) {}

  /** The store, once the aggregator role has created it (undefined before). */
  current(): SqliteAlertStore | undefined {
    if (this.store) return this.store;
    const store = new SqliteAlertStore(this.path, { mustExist: true });
    try {
      store.open();
    } catch (err) {
      if (!this.warned) this.logger.info({ path: this.path, err: (err as Error).message }, 'no alert store yet; /api/v1/alerts answers 501 until the aggregator role creates it');
      this.warned = true;
      return undefined;
    }
    this.store = store;
    return store;
  }

  onTransitions(listener: (t: readonly AlertTransition[]) => void): void {
    this.listeners.push(listener);
  }

  async start(): Promise<void> {
    this.schedule();
  }

  private schedule(): void {
    this.timer = setTimeout(
      guard(this.logger, 'alert feed poll', () => {
        try {
          this.poll();
        } catch (err) {
          this.logger.warn({ err: (err as Error).message }, 'following the alert store failed; retrying');
        }
        this.schedule();
      }),
      this.pollMs,
    );
  }

  private poll(): void {
    const store = this.current();
    if (!store) return;
    // Live only: what was committed before this process started is in GET /api/v1/alerts.
    if (this.seq === undefined) {
      this.seq = store.lastSeq();
      return;
    }
    for (;;) {
      const rows = store.transitionsAfter(this.seq);
      if (rows.length === 0) return;
      this.seq = rows[rows.length - 1]!.seq;
      const list = rows.map((r) => r.transition);
      for (const l of this.listeners) l(list);
    }
  }

  async stop(): Promise<void> {
    clearTimeout(this.timer);
    this.timer = undefined;
    await this.store?.stop();
    this.store = undefined;
  }
}
