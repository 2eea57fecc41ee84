// The aggregator's writes to a PostgreSQL aggregate store go through ONE session: the one holding the
// schema's writer lock (postgres-aggregator-lock.ts). That fences them by construction: the lock lives
// exactly as long as its session, so a write either runs on a session that holds the lock or fails with the
// session. When the session is lost (PostgreSQL restarted, the connection broke, the backend was
// terminated) the lock is gone with it, and before the next write the lock is taken again on a new session;
// if another writer (a replay, a second aggregator) took it meanwhile, nothing is written and the write fails
// naming the holder, until the lock is free again. Writes run one at a time (a transaction's statements
// must not interleave with another write's on the shared session).
import type pg from 'pg';
import { NotConnectedError, settleWithin, StorageError, type Component, type Logger } from '@tidemark/shared';
import { claimWriterLock, type WriterLock, type WriterRole } from './postgres-aggregator-lock.js';
import { isConnectionError, redactUrl } from './postgres-connection.js';

export interface PostgresWriterSessionOptions {
  url: string;
  schema: string;
  role: WriterRole;
  logger?: Logger;
}

/** stop() waits this long for a write in flight (the whole shutdown has 10 s); an abandoned one commits or not, atomically. */
const STOP_WAIT_MS = 2_000;

export class PostgresWriterSession implements Component {
  readonly name = 'aggregator-lock';
  private lock: WriterLock | undefined;
  private wanted = false;
  private queue: Promise<unknown> = Promise.resolve();
  /** The lock was lost and not yet taken again (one log line per loss, one per re-take). */
  private lostSince: number | undefined;

  constructor(private readonly opts: PostgresWriterSessionOptions) {}

  /** Takes the lock or throws PermanentError naming the holder (a replay or another aggregator runs). */
  async start(): Promise<void> {
    this.lock = await this.claim();
    this.wanted = true;
  }

  /** Whether this process holds the lock now, as far as it knows (a lost session is noticed on its next use). */
  get held(): boolean {
    return this.lock !== undefined && !this.lock.lost;
  }

  /** Runs `write` on the session that holds the writer lock, after the writes queued before it. */
  run<T>(write: (client: pg.ClientBase) => Promise<T>): Promise<T> {
    const next = this.queue.then(() => this.runNow(write));
    this.queue = next.catch(() => undefined);
    return next;
  }

  private async runNow<T>(write: (client: pg.ClientBase) => Promise<T>): Promise<T> {
    if (!this.wanted) throw new StorageError(`the writer lock of ${this.where} is not held: the aggregator is not started`);
    const lock = await this.current();
    try {
      return await write(lock.client);
    } catch (err) {
      // The statement may have died with the session: then so did the lock; take it again before the next write.
      if (isConnectionError(err) || lock.lost) this.drop(lock, err);
      throw err;
    }
  }

  /** The live lock; after a loss, claims it again on a new session (never writes without it). */
  private async current(): Promise<WriterLock> {
    const held = this.lock;
    if (held && !held.lost) return held;
    if (held) this.drop(held, undefined);
    let lock: WriterLock;
    try {
      lock = await this.claim();
    } catch (err) {
      if (err instanceof NotConnectedError) throw err;
      // Taken by another writer while this process had no session: it must not write until the lock is free.
      throw new StorageError(`writer lock of ${this.where} lost with its PostgreSQL session and not taken again: ${(err as Error).message}`, { cause: err });
    }
    if (!this.wanted) {
      await lock.release();
      throw new StorageError(`the writer lock of ${this.where} is not held: the aggregator is stopping`);
    }
    this.lock = lock;
    this.opts.logger?.info({ schema: this.opts.schema, lost_for_ms: Date.now() - (this.lostSince ?? Date.now()) }, 'aggregate store writer lock taken again; writing again');
    this.lostSince = undefined;
    return lock;
  }

  private drop(lock: WriterLock, err: unknown): void {
    if (this.lock !== lock) return;
    this.lock = undefined;
    void lock.release();
    if (this.lostSince === undefined) {
      this.lostSince = Date.now();
      this.opts.logger?.warn(
        { schema: this.opts.schema, ...(err ? { err: (err as Error).message } : {}) },
        'aggregate store writer lock lost with its PostgreSQL session; no aggregate writes until it is taken again',
      );
    }
  }

  private claim(): Promise<WriterLock> {
    return claimWriterLock(this.opts.url, this.opts.schema, this.opts.role, this.opts.logger);
  }

  private get where(): string {
    return `${redactUrl(this.opts.url)} schema "${this.opts.schema}"`;
  }

  async stop(): Promise<void> {
    this.wanted = false;
    await settleWithin(this.queue, STOP_WAIT_MS);
    const lock = this.lock;
    this.lock = undefined;
    await lock?.release();
  }
}
