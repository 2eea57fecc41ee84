// The stream store on NATS JetStream, ONE partition = ONE JetStream stream (a router above maps devices to
// partitions). Offsets are the stream's sequence numbers; each accepted batch is one message whose headers are
// its dedup record, so dedup and append are one atomic step per batch and the dedup state can always be
// rebuilt from the stream (after a KV snapshot). One writer per partition is enforced by expected-sequence
// publishes; a second one is detected and can never make a batch be stored twice.
// Durability: append resolves after every PubAck. nats-server acknowledges file-store writes before they are
// fsynced (it syncs periodically; `sync_interval` from 2.10): a server process crash loses nothing, a power
// loss of a single server can; durability against losing a machine comes from replicas >= 3 (a PubAck then
// means a quorum stored it). See docs/jetstream-store.md.
import { randomBytes } from 'node:crypto';
import { Events, headers, type JetStreamClient, type JetStreamManager, type NatsConnection, type Status } from 'nats';
import { settleWithin, StorageError, ValidationError } from '@tidemark/shared';
import { LastStartFailure } from '../../health/start-failure.js';
import type { AppendItem, AppendOutcome, DeadLetter, StreamRecord, StreamStore } from '../stream-store.js';
import { Appender } from './appender.js';
import type { JetStreamStreamStoreOptions } from './store-options.js';
import { DedupSnapshot, snapshotBucket } from './dedup-snapshot.js';
import { PartitionDedup } from './partition-dedup.js';
import { DLQ_H, STREAM_NAME, deviceToken, headerValue } from './record-headers.js';
import { connectNats, ensureDeadLetterStream, ensureRecordStream, jetStreamManager, whileElecting } from './stream-setup.js';
import { StreamReader } from './stream-reader.js';
import { trimStream, type TrimRequest } from './stream-trim.js';

/** Room kept for a record's headers within the server's max_payload (they take ~250 bytes). */
const HEADER_ALLOWANCE = 1024;
/** stop() gives the final snapshot this long. */
const STOP_SNAPSHOT_MS = 3_000;
/** stop() waits this long for appends and reads in flight. */
const STOP_WAIT_MS = 2_000;

export { connectNats } from './stream-setup.js';
export type { JetStreamStreamStoreOptions } from './store-options.js';

interface Connected {
  nc: NatsConnection;
  js: JetStreamClient;
  jsm: JetStreamManager;
  snapshot: DedupSnapshot;
  dedup: PartitionDedup;
  appender: Appender;
  reader: StreamReader;
}

export class JetStreamStreamStore implements StreamStore {
  readonly name = 'stream-store';
  private c: Connected | undefined;
  /** Why the last start() failed (NATS unreachable): what appends and reads made meanwhile report. */
  private readonly lastStart = new LastStartFailure();
  private connected = false;
  /** Appends run one after another (one writer per partition, inside the process too); so do reads (one cursor). */
  private appends: Promise<unknown> = Promise.resolve();
  private reads: Promise<unknown> = Promise.resolve();
  private snapshotting: Promise<number> | undefined;
  private snapshotSeq = 0;
  private sinceSnapshot = 0;
  private timer: NodeJS.Timeout | undefined;
  private statusEvents: { stop(): void } | undefined;
  private readonly writerId = randomBytes(6).toString('hex');
  private readonly timeoutMs: number;

  constructor(private readonly opts: JetStreamStreamStoreOptions) {
    if (!STREAM_NAME.test(opts.stream)) throw new ValidationError(`"${opts.stream}" is not a valid stream name (letters, digits, _ and -)`, 'stream');
    if (!Number.isInteger(opts.replicas) || opts.replicas < 1 || opts.replicas > 5) throw new ValidationError('expected 1 to 5', 'replicas');
    if (opts.servers.length === 0) throw new ValidationError('expected at least one NATS URL', 'servers');
    this.timeoutMs = opts.requestTimeoutMs ?? 5_000;
  }

  /** The largest batch append() takes: the server's max_payload less room for the record headers (unknown until started). */
  get maxPayloadBytes(): number | undefined {
    return this.c ? (this.c.nc.info?.max_payload ?? 1_048_576) - HEADER_ALLOWANCE : undefined;
  }

  /** Dedup state size and the last snapshot's S (tests, diagnostics). */
  get stats(): { identities: number; lastSeq: number; snapshotSeq: number; catchUps: number } {
    const c = this.conn;
    return { identities: c.dedup.index.size, lastSeq: c.dedup.lastSeq, snapshotSeq: this.snapshotSeq, catchUps: c.appender.catchUps };
  }

  async start(): Promise<void> {
    if (this.c) return;
    await this.lastStart.track(() => this.open());
  }

  private async open(): Promise<void> {
    const o = this.opts;
    const deadline = Date.now() + (o.startTimeoutMs ?? 30_000);
    const shared = typeof o.connection === 'function' ? await o.connection() : o.connection;
    const nc = shared ?? (await connectNats(o.servers, { connectTimeoutMs: o.connectTimeoutMs ?? 5_000, name: `tidemark-stream-store ${o.stream}` }));
    this.connected = !nc.isClosed();
    this.watchStatus(nc);
    try {
      const jsm = await jetStreamManager(nc, o.servers, this.timeoutMs);
      const js = nc.jetstream({ timeout: this.timeoutMs });
      await ensureRecordStream(jsm, { stream: o.stream, replicas: o.replicas, duplicateWindowMs: o.duplicateWindowMs ?? 120_000 }, deadline);
      await ensureDeadLetterStream(
        jsm,
        { stream: `${o.stream}_DLQ`, replicas: o.replicas, maxMessages: o.maxDeadLetters ?? 10_000, maxAgeMs: o.deadLetterMaxAgeMs ?? 30 * 86_400_000 },
        deadline,
      );
      const snapshot = new DedupSnapshot(nc, js, jsm, snapshotBucket(o.stream), o.replicas, this.timeoutMs);
      await whileElecting(`dedup snapshot ${snapshot.bucket}`, deadline, () => snapshot.open());
      if (o.partition) await whileElecting(`partition layout of ${o.stream}`, deadline, () => snapshot.claimPartition(o.stream, o.partition!));
      const dedup = new PartitionDedup(nc, jsm, o.stream, snapshot, this.writerId, this.timeoutMs, o.logger);
      const appender = new Appender(js, dedup, { stream: o.stream, writerId: this.writerId, publishTimeoutMs: this.timeoutMs, connected: () => this.connected });
      const reader = new StreamReader(nc, jsm, o.stream, this.timeoutMs, (offset) =>
        o.logger?.error({ stream: o.stream, offset }, 'stream message without Tidemark identity headers (published by something else?): skipped'),
      );
      if (o.readOnly) {
        this.c = { nc, js, jsm, snapshot, dedup, appender, reader };
        o.logger?.info({ stream: o.stream }, 'jetstream stream store ready (read-only)');
        return;
      }
      const rebuilt = await whileElecting(`dedup rebuild of ${o.stream}`, deadline, () => dedup.rebuild());
      this.c = { nc, js, jsm, snapshot, dedup, appender, reader };
      this.snapshotSeq = rebuilt.snapshotSeq;
      o.logger?.info(
        { stream: o.stream, snapshotSeq: rebuilt.snapshotSeq, scanned: rebuilt.folded, identities: dedup.index.size, lastSeq: dedup.lastSeq },
        'jetstream stream store ready',
      );
      if (rebuilt.folded > 0) await this.snapshot();
      this.timer = setInterval(() => void this.snapshot().catch((err) => this.logSnapshotFailure(err)), o.snapshotIntervalMs ?? 30_000);
      this.timer.unref();
    } catch (err) {
      this.c = undefined;
      this.statusEvents?.stop();
      if (!o.connection) await nc.close().catch(() => {});
      if (err instanceof StorageError || err instanceof ValidationError) throw err;
      throw new StorageError(`stream store ${o.stream} on ${o.servers.join(', ')}: ${(err as Error).message}`, { cause: err });
    }
  }

  async append(items: readonly AppendItem[]): Promise<AppendOutcome[]> {
    const c = this.writable;
    const max = (c.nc.info?.max_payload ?? 1_048_576) - HEADER_ALLOWANCE;
    const big = items.find((it) => it.payload.byteLength > max);
    if (big) {
      // Refused before anything is published; the ingestor must keep batches below this (maxPayloadBytes).
      throw new ValidationError(`a ${big.payload.byteLength}-byte batch exceeds what one NATS message can carry here (${max} bytes)`, 'payload');
    }
    const run = this.appends.then(async () => {
      const out = await c.appender.append(items);
      this.sinceSnapshot += out.length;
      if (this.sinceSnapshot >= (this.opts.snapshotEveryRecords ?? 50_000)) void this.snapshot().catch((err) => this.logSnapshotFailure(err));
      return out;
    });
    this.appends = run.catch(() => {});
    return run;
  }

  async read(fromOffset: number, limit: number): Promise<StreamRecord[]> {
    const c = this.conn;
    const run = this.reads.then(() => this.wrap('read', () => c.reader.read(fromOffset, limit)));
    this.reads = run.catch(() => {});
    return run;
  }

  async endOffset(): Promise<number> {
    const c = this.conn;
    return this.wrap('endOffset', async () => (await c.jsm.streams.info(this.opts.stream)).state.last_seq + 1);
  }

  async deadLetter(entry: DeadLetter): Promise<void> {
    const c = this.writable;
    const h = headers();
    h.set(DLQ_H.reason, headerValue(entry.reason) || '(none)');
    if (entry.deviceId !== null) h.set(DLQ_H.device, entry.deviceId);
    h.set(DLQ_H.received, String(entry.receivedMs));
    const subject = `${this.opts.stream}_DLQ.d.${entry.deviceId !== null ? deviceToken(entry.deviceId) : '_'}`;
    await this.wrap('deadLetter', () => c.js.publish(subject, entry.payload, { headers: h }));
  }

  async trim(req: TrimRequest): Promise<number> {
    const c = this.conn;
    // Purging stops at the snapshot's S. A writer brings S up to what may go first, so retention is not held
    // back by it; a read-only instance (beside the aggregator) goes by the S its collector wrote last.
    let s: number;
    if (this.opts.readOnly) s = await this.wrap('trim', () => c.snapshot.readSeq());
    else {
      if (this.snapshotSeq < Math.min(req.belowOffset - 1, c.dedup.lastSeq)) await this.snapshot();
      s = this.snapshotSeq;
    }
    return this.wrap('trim', () => trimStream(c.jsm, this.opts.stream, req, s));
  }

  /** Writes the dedup entries changed since the last snapshot, then S; returns S. Concurrent calls share one. */
  async snapshot(): Promise<number> {
    const c = this.writable;
    this.snapshotting ??= (async () => {
      const seq = c.dedup.lastSeq;
      const entries = c.dedup.index.takeDirty();
      if (entries.length === 0 && seq <= this.snapshotSeq) return this.snapshotSeq;
      try {
        await c.snapshot.save(entries, seq, (key, theirs) => c.dedup.index.merge(key, theirs));
      } catch (err) {
        c.dedup.index.markDirty(entries.map(([k]) => k));
        throw err instanceof StorageError ? err : new StorageError(`dedup snapshot of ${this.opts.stream} failed: ${(err as Error).message}`, { cause: err });
      }
      this.snapshotSeq = Math.max(this.snapshotSeq, seq);
      this.sinceSnapshot = 0;
      return this.snapshotSeq;
    })().finally(() => (this.snapshotting = undefined));
    return this.snapshotting;
  }

  /** Clean shutdown: finish appends, write a snapshot (so the next start scans little), drain, close. */
  async stop(): Promise<void> {
    const c = this.c;
    if (!c) return;
    clearInterval(this.timer);
    // Bounded too: with NATS unreachable these wait out request timeouts. An append left behind resolves to
    // no ack (the devices resend); a read left behind is only a read.
    await settleWithin(this.appends, STOP_WAIT_MS);
    await settleWithin(this.reads, STOP_WAIT_MS);
    // Bounded: SIGTERM must finish within seconds even when NATS is unreachable (a restart then scans more).
    if (this.connected && !this.opts.readOnly) {
      let timer: NodeJS.Timeout | undefined;
      const late = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error('timed out')), STOP_SNAPSHOT_MS)));
      try {
        const final = (async () => {
          await this.snapshotting?.catch(() => {});
          return this.snapshot();
        })();
        await Promise.race([final, late]);
      } catch (err) {
        this.logSnapshotFailure(err);
      } finally {
        clearTimeout(timer);
      }
    }
    if (this.connected) await c.reader.drop().catch(() => {});
    this.c = undefined;
    this.statusEvents?.stop();
    if (!this.opts.connection) await (this.connected ? c.nc.drain() : c.nc.close()).catch(() => {});
  }

  /** Closes the connection at once, without a snapshot: what a crash of the collector leaves behind (tests). */
  async abandon(): Promise<void> {
    const c = this.c;
    if (!c) return;
    clearInterval(this.timer);
    this.c = undefined;
    this.statusEvents?.stop();
    if (!this.opts.connection) await c.nc.close().catch(() => {});
  }

  private get writable(): Connected {
    if (this.opts.readOnly) throw new StorageError(`stream store ${this.opts.stream} was opened read-only`);
    return this.conn;
  }

  private get conn(): Connected {
    if (this.c) return this.c;
    throw this.lastStart.notOpen(`stream store ${this.opts.stream}`) ?? new StorageError(`stream store ${this.opts.stream} is not started`);
  }

  private async wrap<T>(what: string, fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (err) {
      if (err instanceof StorageError) throw err;
      throw new StorageError(`stream ${this.opts.stream}: ${what} failed: ${(err as Error).message}`, { cause: err });
    }
  }

  private logSnapshotFailure(err: unknown): void {
    this.opts.logger?.warn({ stream: this.opts.stream, err: (err as Error).message }, 'dedup snapshot failed; will retry');
  }

  private watchStatus(nc: NatsConnection): void {
    const events = nc.status();
    // A QueuedIterator at run time: stop() unregisters it (matters on a shared connection that stays open).
    this.statusEvents = events as unknown as { stop(): void };
    void (async () => {
      for await (const s of events) this.onStatus(s);
    })();
  }

  private onStatus(s: Status): void {
    if (s.type === Events.Disconnect) {
      this.connected = false;
      this.opts.logger?.warn({ stream: this.opts.stream, server: s.data }, 'NATS connection lost; reconnecting');
    } else if (s.type === Events.Reconnect) {
      this.connected = true;
      this.opts.logger?.info({ stream: this.opts.stream, server: s.data }, 'NATS connection restored');
    }
  }
}
