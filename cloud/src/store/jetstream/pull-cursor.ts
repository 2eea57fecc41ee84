// A cursor over a JetStream stream: an ephemeral pull consumer (no acks, memory, one replica) and "no_wait"
// pulls, so one round trip returns up to `max` messages in stream order and ends as soon as no more are
// available now (the server closes the pull with 404/408). Used for reads, header scans and snapshot loads.
import { AckPolicy, DeliverPolicy, createInbox, nanos, type JetStreamManager, type Msg, type MsgHdrs, type NatsConnection } from 'nats';
import { StorageError } from '@tidemark/shared';

export interface CursorOptions {
  stream: string;
  /** Deliver from this stream sequence (default 1). Ignored with `lastPerSubject`. */
  startSeq?: number;
  /** Only the last message of each subject matching this filter (a KV bucket's current values). */
  lastPerSubject?: string;
  /** Headers only (`Nats-Msg-Size` replaces the payload): for scans that need identities, not bytes. */
  headersOnly?: boolean;
  /** An idle consumer is deleted by the server after this long (default 5 min); the cursor then recreates it. */
  inactiveMs?: number;
}

export interface PulledMessage {
  seq: number;
  /** Messages still to deliver after this one, when it was sent. */
  pending: number;
  subject: string;
  headers: MsgHdrs | undefined;
  data: Uint8Array;
}

/** The consumer is gone (inactivity, server restart, its node died) or the pull could not complete. */
export class CursorError extends StorageError {}

export class PullCursor {
  private constructor(
    private readonly nc: NatsConnection,
    private readonly jsm: JetStreamManager,
    private readonly stream: string,
    readonly consumer: string,
    /** Messages the consumer had to deliver when it was created. */
    readonly initialPending: number,
  ) {}

  static async open(nc: NatsConnection, jsm: JetStreamManager, opts: CursorOptions): Promise<PullCursor> {
    const base = {
      ack_policy: AckPolicy.None,
      mem_storage: true,
      num_replicas: 1,
      inactive_threshold: nanos(opts.inactiveMs ?? 5 * 60_000),
      ...(opts.headersOnly ? { headers_only: true } : {}),
    };
    const config = opts.lastPerSubject
      ? { ...base, deliver_policy: DeliverPolicy.LastPerSubject, filter_subject: opts.lastPerSubject }
      : { ...base, deliver_policy: DeliverPolicy.StartSequence, opt_start_seq: Math.max(1, opts.startSeq ?? 1) };
    const info = await jsm.consumers.add(opts.stream, config);
    return new PullCursor(nc, jsm, opts.stream, info.name, info.num_pending);
  }

  /** Up to `max` messages in stream order; fewer (maybe none) when no more are available right now. */
  pull(max: number, timeoutMs: number): Promise<PulledMessage[]> {
    const out: PulledMessage[] = [];
    if (max <= 0) return Promise.resolve(out);
    return new Promise((resolve, reject) => {
      const inbox = createInbox();
      let timer: NodeJS.Timeout | undefined;
      const finish = (err?: Error): void => {
        clearTimeout(timer);
        try {
          sub.unsubscribe();
        } catch {
          // A closed connection has no subscription left to end; the read still settles below.
        }
        if (err) reject(err);
        else resolve(out);
      };
      const arm = (): void => {
        clearTimeout(timer);
        timer = setTimeout(
          () => finish(new CursorError(`stream ${this.stream}: no answer from consumer ${this.consumer} within ${timeoutMs} ms`)),
          timeoutMs,
        );
      };
      const sub = this.nc.subscribe(inbox, {
        callback: (err, m) => {
          if (err) return finish(new CursorError(`stream ${this.stream}: pull failed: ${err.message}`, { cause: err }));
          arm();
          const status = statusOf(m);
          if (status === 100) return; // idle heartbeat
          if (status === 404 || status === 408) return finish(); // nothing more now / the no_wait pull ended
          if (status !== 0) {
            return finish(new CursorError(`stream ${this.stream}: consumer ${this.consumer} answered ${status} ${m.headers?.description ?? ''}`.trim()));
          }
          const at = ackPosition(m);
          if (!at) return finish(new CursorError(`stream ${this.stream}: unexpected message on a pull inbox (${m.subject})`));
          out.push({ seq: at.seq, pending: at.pending, subject: m.subject, headers: m.headers, data: m.data });
          if (out.length >= max) finish();
        },
      });
      arm();
      const request = JSON.stringify({ batch: max, no_wait: true });
      this.nc.publish(`$JS.API.CONSUMER.MSG.NEXT.${this.stream}.${this.consumer}`, new TextEncoder().encode(request), { reply: inbox });
    });
  }

  /** Best effort: an ephemeral consumer also goes away by itself once idle. */
  async close(): Promise<void> {
    if (this.nc.isClosed()) return;
    await this.jsm.consumers.delete(this.stream, this.consumer).catch(() => false);
  }
}

/** 0 for a message; the status code of a status message (no payload, a code in the header line). */
function statusOf(m: Msg): number {
  const h = m.headers;
  if (!h || m.data.length > 0) return 0;
  return h.code ?? 0;
}

/**
 * Stream sequence and pending count from the reply (ack) subject. v1: `$JS.ACK.<stream>.<consumer>.<delivered>.
 * <sseq>.<cseq>.<ts>.<pending>`; v2 inserts domain and account hash after ACK and appends a token.
 */
function ackPosition(m: Msg): { seq: number; pending: number } | undefined {
  const t = (m.reply ?? '').split('.');
  if (t[0] !== '$JS' || t[1] !== 'ACK') return undefined;
  if (t.length === 9) t.splice(2, 0, '_', '');
  if (t.length < 11) return undefined;
  const seq = Number(t[7]);
  const pending = Number(t[10]);
  return Number.isSafeInteger(seq) && Number.isSafeInteger(pending) ? { seq, pending } : undefined;
}
