// read(fromOffset, limit) for a reader that goes through the stream in order (the aggregator, replay): one
// cursor stays positioned at the next offset across calls, so each chunk is one pull round trip. A read from
// anywhere else, or a cursor the server dropped (idle, restarted, its node died), makes a new cursor.
import type { JetStreamManager, NatsConnection } from 'nats';
import type { StreamRecord } from '../stream-store.js';
import { CursorError, PullCursor } from './pull-cursor.js';
import { parseIdentity, toStreamRecord } from './record-headers.js';

export class StreamReader {
  private cursor: PullCursor | undefined;
  /** The offset the cursor delivers next (it has delivered everything below). */
  private next = 0;

  constructor(
    private readonly nc: NatsConnection,
    private readonly jsm: JetStreamManager,
    private readonly stream: string,
    private readonly timeoutMs: number,
    /** A message without Tidemark identity headers (published by something else): skipped, reported here. */
    private readonly onForeign: (offset: number) => void = () => {},
  ) {}

  async read(fromOffset: number, limit: number): Promise<StreamRecord[]> {
    const from = Math.max(1, Math.floor(fromOffset));
    if (limit <= 0) return [];
    let got;
    try {
      got = await (await this.cursorAt(from)).pull(limit, this.timeoutMs);
    } catch (err) {
      if (!(err instanceof CursorError)) throw err;
      // The consumer is gone: once more on a fresh one.
      this.drop();
      got = await (await this.cursorAt(from)).pull(limit, this.timeoutMs);
    }
    const out: StreamRecord[] = [];
    for (;;) {
      // The cursor has moved past everything pulled: `next` must follow it whatever happens to the messages.
      if (got.length > 0) this.next = got.at(-1)!.seq + 1;
      for (const m of got) {
        if (!parseIdentity(m.headers)) {
          // Not a batch this store appended: it is no reading and no dedup record; say so and go on.
          this.onForeign(m.seq);
          continue;
        }
        out.push(toStreamRecord(this.stream, m.seq, m.headers, m.data));
      }
      // Only foreign messages: pull on, so a reader never mistakes them for the end of the stream.
      if (out.length > 0 || got.length === 0) return out;
      got = await this.cursor!.pull(limit, this.timeoutMs);
    }
  }

  private async cursorAt(from: number): Promise<PullCursor> {
    if (this.cursor && this.next === from) return this.cursor;
    this.drop();
    this.cursor = await PullCursor.open(this.nc, this.jsm, { stream: this.stream, startSeq: from });
    this.next = from;
    return this.cursor;
  }

  /** Forgets the cursor; its consumer is deleted in the background (it would expire by itself anyway). */
  drop(): Promise<void> {
    const c = this.cursor;
    this.cursor = undefined;
    return c ? c.close() : Promise.resolve();
  }
}
