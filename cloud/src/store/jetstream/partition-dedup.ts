// The partition's dedup state kept in step with its stream: `index` holds every identity stored at or below
// `lastSeq` (plus low-water marks batches announced). catchUp() folds the headers of every message after
// lastSeq — at start after the snapshot, and whenever the stream moved without us (a lost PubAck that still
// landed, or a second writer). Messages are the dedup records, so nothing can be stored without being seen.
import type { JetStreamManager, NatsConnection } from 'nats';
import { StorageError, type Logger } from '@tidemark/shared';
import { DedupIndex, dedupKey } from './dedup-index.js';
import type { DedupSnapshot } from './dedup-snapshot.js';
import { PullCursor } from './pull-cursor.js';
import { parseIdentity, type StoredIdentity } from './record-headers.js';

const SCAN_BATCH = 5_000;
/** A scan that ends short of the stream's last sequence is read again for this long, then fails. */
const SCAN_RETRY_MS = 15_000;
const SCAN_RETRY_PAUSE_MS = 200;

export interface CatchUpOptions {
  /** Called for each identity found (our own lost-PubAck messages among them). */
  observe?: (id: StoredIdentity, seq: number) => void;
  /** Warn about messages written by another store instance (there must be one writer per partition). */
  warnForeign?: boolean;
}

export class PartitionDedup {
  readonly index = new DedupIndex();
  /** Every message at or below this stream sequence is folded into `index`. */
  lastSeq = 0;
  private readonly foreign = new Set<string>();

  constructor(
    private readonly nc: NatsConnection,
    private readonly jsm: JetStreamManager,
    private readonly stream: string,
    private readonly snapshot: DedupSnapshot,
    private readonly writerId: string,
    private readonly timeoutMs: number,
    private readonly logger: Logger | undefined,
  ) {}

  /** Rebuild at start: the snapshot's entries, then every message after its S. Returns messages folded. */
  async rebuild(): Promise<{ snapshotSeq: number; folded: number }> {
    const snapshotSeq = await this.snapshot.load(this.index);
    this.lastSeq = snapshotSeq;
    const folded = await this.catchUp();
    return { snapshotSeq, folded };
  }

  /** Folds every message after lastSeq; afterwards lastSeq is the stream's last sequence. */
  async catchUp(opts: CatchUpOptions = {}): Promise<number> {
    const { state } = await this.jsm.streams.info(this.stream);
    if (this.lastSeq > state.last_seq) {
      // The snapshot describes a longer stream: this stream was deleted and recreated. Its identities stay
      // remembered (they were stored once); offsets follow the stream as it is now.
      this.logger?.warn({ stream: this.stream, snapshotSeq: this.lastSeq, lastSeq: state.last_seq }, 'dedup snapshot is ahead of the stream (stream recreated?)');
      this.lastSeq = state.last_seq;
    }
    if (state.first_seq > this.lastSeq + 1) await this.coverPurgedGap(state.first_seq);
    let folded = 0;
    const deadline = Date.now() + SCAN_RETRY_MS;
    for (;;) {
      const from = Math.max(this.lastSeq + 1, state.first_seq);
      if (from > state.last_seq) {
        // Nothing left to read: every sequence up to last_seq is folded, or was purged under a snapshot.
        this.lastSeq = Math.max(this.lastSeq, state.last_seq);
        return folded;
      }
      const cursor = await PullCursor.open(this.nc, this.jsm, { stream: this.stream, startSeq: from, headersOnly: true });
      try {
        for (;;) {
          const got = await cursor.pull(SCAN_BATCH, this.timeoutMs);
          for (const m of got) {
            this.foldMessage(m.seq, parseIdentity(m.headers), opts);
            folded++;
          }
          if (got.length < SCAN_BATCH || got.at(-1)!.pending === 0) break;
        }
      } finally {
        await cursor.close();
      }
      if (this.lastSeq >= state.last_seq) return folded;
      // lastSeq only ever moves by folding a message: never past one not read. A one-replica consumer may be
      // placed on a follower still catching up (nats-server 2.9), which ends the scan short: read again.
      if (Date.now() > deadline) {
        throw new StorageError(
          `stream ${this.stream}: the dedup scan reached sequence ${this.lastSeq} of ${state.last_seq} (a replica behind its leader?); nothing is appended until it completes`,
        );
      }
      this.logger?.warn({ stream: this.stream, reached: this.lastSeq, lastSeq: state.last_seq }, 'dedup scan ended short of the stream end; reading again');
      await new Promise((resolve) => setTimeout(resolve, SCAN_RETRY_PAUSE_MS));
    }
  }

  private foldMessage(seq: number, id: StoredIdentity | undefined, opts: CatchUpOptions): void {
    if (seq <= this.lastSeq) return;
    this.lastSeq = seq;
    if (!id) {
      this.logger?.error({ stream: this.stream, seq }, 'stream message without Tidemark identity headers: ignored by dedup');
      return;
    }
    this.index.fold(dedupKey(id.deviceId, id.streamHex), id.seq, id.lowWaterSeq);
    opts.observe?.(id, seq);
    if (opts.warnForeign && id.writer && !id.writer.startsWith(`${this.writerId}.`)) {
      const other = id.writer.slice(0, id.writer.lastIndexOf('.'));
      if (!this.foreign.has(other)) {
        this.foreign.add(other);
        this.logger?.warn(
          { stream: this.stream, writer: other, seq },
          'another stream store instance appended to this partition: a partition must have ONE collector (dedup stays exact, throughput suffers)',
        );
      }
    }
  }

  /**
   * Records below first_seq were purged before we folded them. Trim only purges at or below a snapshot's S,
   * so the snapshot covers them (another instance's trim, after its own snapshot): merge it in.
   */
  private async coverPurgedGap(firstSeq: number): Promise<void> {
    const s = await this.snapshot.load(this.index);
    if (s < firstSeq - 1) {
      this.logger?.error(
        { stream: this.stream, purgedBelow: firstSeq, snapshotSeq: s },
        'records were purged beyond the dedup snapshot (by hand?): the identities of those batches are forgotten',
      );
    }
  }
}
