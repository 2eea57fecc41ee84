// read(fromOffset, limit) for a reader that goes through the stream in order (the aggregator, replay): one
// cursor stays positioned at the next offset across calls, so each chunk is one pull round trip. A read from
// anywhere else, or a cursor the server dropped (idle, restarted, its node died), makes a new cursor.
import type { JetStreamManager, NatsConnection } from 'nats';
import type { StreamRecord } from '../stream-store.js';
import { CursorError, PullCursor } from './pull-cursor.js';
import { toStreamRecord } from './record-headers.js';

export class StreamReader {
  private cursor: PullCursor | undefined;
  /** The offset the cursor delivers next (it has delivered everything below). */
  private next = 0;

  constructor(
    private readonly nc: NatsConnection,
    private readonly jsm: JetStreamManager,
    private readonly stream: string,
    private readonly timeoutMs: number,
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
    const out = got.map((m) => toStreamRecord(this.stream, m.seq, m.headers, m.data));
    if (out.length > 0) this.next = out.at(-1)!.offset + 1;
    return out;
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
