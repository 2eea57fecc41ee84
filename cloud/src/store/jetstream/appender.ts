// Dedup + append of one call, one JetStream message per new batch. Decisions are made against the
// partition's dedup state, which reflects the stream exactly up to lastSeq; each publish then carries the
// stream position it was decided against (Nats-Expected-Last-Sequence, and for pipelined messages the
// previous message's id as Nats-Expected-Last-Msg-Id), so the server stores it only if nothing else landed
// in between. When anything else happened (a second writer, a lost PubAck whose message landed, a timeout),
// the state catches up from the stream's own headers and the undecided items are decided again:
//   - stored by this call (its writer tag is on the message) -> 'ok', whether or not its PubAck arrived;
//   - stored by anyone else -> 'duplicate';  - not stored -> published again.
// The call resolves only after every message it reports was acknowledged by JetStream (durable), and never
// stores an identity twice: a message can only land on the stream state it was checked against (exactly, for
// one writer; the chain names messages by batch identity, so against a second writer that stored copies of
// both neighbours inside one pipeline, the server's msg-id window is what catches the copy).
import type { JetStreamClient, PubAck } from 'nats';
import { streamIdToHex } from '@tidemark/proto';
import { NotConnectedError, StorageError } from '@tidemark/shared';
import type { AppendItem, AppendOutcome } from '../stream-store.js';
import { dedupKey } from './dedup-index.js';
import type { PartitionDedup } from './partition-dedup.js';
import { msgIdOf, recordHeaders, recordSubject } from './record-headers.js';

/** Rounds of (decide, publish, catch up) before giving up: each extra round means someone else wrote. */
const MAX_ROUNDS = 6;

interface Planned {
  index: number;
  key: string;
  seq: number;
  msgId: string;
}

export interface AppenderOptions {
  stream: string;
  writerId: string;
  publishTimeoutMs: number;
  /** True while the connection is up (for a NotConnectedError instead of a StorageError). */
  connected: () => boolean;
}

export class Appender {
  private calls = 0;
  /** The last call failed midway: the stream may hold messages the state has not folded. */
  private unsure = false;
  /** Rounds that had to catch up (a lost PubAck, a second writer): tests and metrics read it. */
  catchUps = 0;

  constructor(
    private readonly js: JetStreamClient,
    private readonly dedup: PartitionDedup,
    private readonly opts: AppenderOptions,
  ) {}

  /** Callers serialise calls (one writer per partition inside the process too). */
  async append(items: readonly AppendItem[]): Promise<AppendOutcome[]> {
    const outcomes: Array<AppendOutcome | undefined> = new Array(items.length);
    if (items.length === 0) return [];
    const writerTag = `${this.opts.writerId}.${++this.calls}`;
    const hexes = items.map((it) => streamIdToHex(it.streamId));
    try {
      if (this.unsure) {
        await this.dedup.catchUp({ warnForeign: true });
        this.unsure = false;
      }
      let undecided = items.map((_, i) => i);
      for (let round = 1; undecided.length > 0; round++) {
        if (round > MAX_ROUNDS) {
          throw new StorageError(
            `stream ${this.opts.stream}: the stream kept moving under this writer for ${MAX_ROUNDS} rounds; is another collector writing this partition?`,
          );
        }
        const planned = this.decide(items, hexes, undecided, outcomes);
        if (planned.length === 0) break;
        const base = this.dedup.lastSeq;
        const acks = await Promise.allSettled(planned.map((p, k) => this.publish(items[p.index]!, hexes[p.index]!, p, k, planned, base, writerTag)));
        if (acks.every((a, k) => a.status === 'fulfilled' && !a.value.duplicate && a.value.seq === base + k + 1)) {
          for (const p of planned) {
            this.dedup.index.record(p.key, p.seq);
            outcomes[p.index] = 'ok';
          }
          this.dedup.lastSeq = base + planned.length;
          break;
        }
        // Something else happened: learn the stream as it is, then decide what is left again.
        this.unsure = true;
        if (!this.opts.connected()) throw firstFailure(acks) ?? new Error('connection lost');
        this.catchUps++;
        const mine = new Map(planned.map((p) => [p.msgId, p.index]));
        await this.dedup.catchUp({
          warnForeign: true,
          observe: (id) => {
            const i = id.writer === writerTag ? mine.get(id.msgId) : undefined;
            if (i !== undefined) outcomes[i] = 'ok';
          },
        });
        this.unsure = false;
        // The server's own msg-id dedup answered "duplicate": a message with this identity is in the stream
        // (within the duplicate window) even if our state does not know it (records purged by hand beyond
        // the snapshot): it is stored, so it is a duplicate, and from now on remembered.
        acks.forEach((a, k) => {
          const p = planned[k]!;
          if (a.status === 'fulfilled' && a.value.duplicate && outcomes[p.index] === undefined) {
            outcomes[p.index] = 'duplicate';
            this.dedup.index.record(p.key, p.seq);
          }
        });
        const hard = acks.find((a): a is PromiseRejectedResult => a.status === 'rejected' && !isExpectationFailure(a.reason));
        if (hard && undecidedOf(planned, outcomes).length > 0) {
          // The server did not answer (timeout, connection): retrying at once would most likely fail the same way.
          throw hard.reason;
        }
        undecided = undecided.filter((i) => outcomes[i] === undefined);
      }
      return outcomes.map((o, i) => {
        if (o === undefined) throw new StorageError(`stream ${this.opts.stream}: item ${i} left undecided`);
        return o;
      });
    } catch (err) {
      this.unsure = true;
      if (err instanceof StorageError) throw err;
      const message = `stream ${this.opts.stream}: append of ${items.length} batches failed: ${(err as Error).message}`;
      throw this.opts.connected() ? new StorageError(message, { cause: err }) : new NotConnectedError(message, { cause: err });
    }
  }

  /** Outcomes for duplicates; the list of items to publish, each identity once, in item order. */
  private decide(items: readonly AppendItem[], hexes: string[], undecided: number[], outcomes: Array<AppendOutcome | undefined>): Planned[] {
    const index = this.dedup.index;
    const planned: Planned[] = [];
    const inCall = new Set<string>();
    for (const i of undecided) {
      const it = items[i]!;
      const key = dedupKey(it.deviceId, hexes[i]!);
      index.advance(key, it.lowWaterSeq, it.seq);
      const msgId = msgIdOf(it.deviceId, hexes[i]!, it.seq);
      if (index.isDuplicate(key, it.seq)) {
        outcomes[i] = 'duplicate';
      } else if (inCall.has(msgId)) {
        // A second copy in this call: the first copy's fate decides it (stored -> this one is a duplicate;
        // the call fails otherwise and reports nothing).
        outcomes[i] = 'duplicate';
      } else {
        inCall.add(msgId);
        planned.push({ index: i, key, seq: it.seq, msgId });
      }
    }
    return planned;
  }

  private publish(item: AppendItem, hex: string, p: Planned, k: number, planned: Planned[], base: number, writerTag: string): Promise<PubAck> {
    return this.js.publish(recordSubject(this.opts.stream, item.deviceId), item.payload, {
      msgID: p.msgId,
      headers: recordHeaders(item, hex, writerTag),
      timeout: this.opts.publishTimeoutMs,
      // k > 0: also the previous message of this pipeline, so if anything slipped in between, every later
      // message of the pipeline fails too (the sequence alone could match again after a failure).
      expect: k === 0 ? { lastSequence: base } : { lastSequence: base + k, lastMsgID: planned[k - 1]!.msgId },
    });
  }
}

function firstFailure(acks: PromiseSettledResult<PubAck>[]): unknown {
  return acks.find((a): a is PromiseRejectedResult => a.status === 'rejected')?.reason;
}

function undecidedOf(planned: Planned[], outcomes: Array<AppendOutcome | undefined>): Planned[] {
  return planned.filter((p) => outcomes[p.index] === undefined);
}

/** The server refused a message because the stream was not where we thought (10071 last seq, 10070 last msg id). */
function isExpectationFailure(err: unknown): boolean {
  const code = (err as { api_error?: { err_code?: number } }).api_error?.err_code;
  return code === 10071 || code === 10070 || /wrong last (sequence|msg id)/i.test((err as Error).message ?? '');
}
