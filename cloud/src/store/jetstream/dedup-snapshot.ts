// The dedup snapshot of one partition: a KV bucket `<stream>_DEDUP` with one key per (device, stream id)
// holding its DedupState, and the key `seq` holding S: every message at or below S is folded into the
// entries. Entries are written before S; a reader reads S before the entries. Writes are compare-and-set and
// UNION with what is there, so two writers on one partition (a misconfiguration the store detects) can never
// make an entry forget a seq: S stays a true statement after any interleaving.
import { StorageType, type JetStreamClient, type JetStreamManager, type KV, type NatsConnection } from 'nats';
import { StorageError } from '@tidemark/shared';
import type { DedupState } from '../dedup.js';
import { sameState, unionStates, type DedupIndex } from './dedup-index.js';
import { PullCursor } from './pull-cursor.js';

const SEQ_KEY = 'seq';
const PARTITION_KEY = 'partition';
const WRITE_CONCURRENCY = 256;
const CAS_ATTEMPTS = 8;

export function snapshotBucket(stream: string): string {
  return `${stream}_DEDUP`;
}

export class DedupSnapshot {
  private kv: KV | undefined;
  /** Last known revision per key, for compare-and-set. */
  private readonly revisions = new Map<string, number>();
  private seqRevision: number | undefined;

  constructor(
    private readonly nc: NatsConnection,
    private readonly js: JetStreamClient,
    private readonly jsm: JetStreamManager,
    readonly bucket: string,
    private readonly replicas: number,
    private readonly timeoutMs: number,
  ) {}

  async open(): Promise<void> {
    this.kv = await this.js.views.kv(this.bucket, { history: 1, replicas: this.replicas, storage: StorageType.File, timeout: this.timeoutMs });
  }

  private get store(): KV {
    if (!this.kv) throw new StorageError(`dedup snapshot ${this.bucket} is not open`);
    return this.kv;
  }

  /** Unions every stored entry into `index` (onto what it has) and returns S (0 when there is none yet). */
  async load(index: DedupIndex, opts: { markDirty?: boolean } = {}): Promise<number> {
    // S first: entries read afterwards are at least as new as the snapshot that wrote S.
    const seq = await this.readSeq();
    const prefix = `$KV.${this.bucket}.`;
    const cursor = await PullCursor.open(this.nc, this.jsm, { stream: `KV_${this.bucket}`, lastPerSubject: `${prefix}d.>` });
    try {
      for (let left = cursor.initialPending; left > 0; ) {
        const got = await cursor.pull(Math.min(left, 10_000), this.timeoutMs);
        if (got.length === 0) break;
        left -= got.length;
        for (const m of got) {
          const op = m.headers?.get('KV-Operation');
          if (op === 'DEL' || op === 'PURGE') continue;
          const key = m.subject.slice(prefix.length);
          index.merge(key, decodeState(m.data, key, this.bucket), opts.markDirty ?? false);
          this.revisions.set(key, m.seq);
        }
        if (got.at(-1)!.pending === 0) break;
      }
    } finally {
      await cursor.close();
    }
    return seq;
  }

  /** Records `index/count` under the key `partition` once; refuses when another layout is recorded. */
  async claimPartition(stream: string, p: { index: number; count: number }): Promise<void> {
    const want = `${p.index}/${p.count}`;
    for (let attempt = 0; attempt < CAS_ATTEMPTS; attempt++) {
      const e = await this.store.get(PARTITION_KEY);
      if (e && e.operation === 'PUT') {
        if (e.string() === want) return;
        throw new StorageError(
          `stream ${stream} was created as partition ${e.string()} (index/count); configured: ${want}. Changing the number of ` +
            'partitions would move devices to other partitions, where their dedup state is not: keep store.partitions, or start on new streams',
        );
      }
      try {
        await this.store.create(PARTITION_KEY, encode(want));
        return;
      } catch (err) {
        if (!isCasConflict(err)) throw err;
      }
    }
  }

  /** S as stored now. */
  async readSeq(): Promise<number> {
    const e = await this.store.get(SEQ_KEY);
    if (!e || e.operation !== 'PUT') {
      this.seqRevision = undefined;
      return 0;
    }
    this.seqRevision = e.revision;
    return Number(e.string()) || 0;
  }

  /**
   * Writes `entries` (merged with whatever is stored), then raises S to `seq`. `onMerged` receives an entry
   * whose stored value knew more than ours (another writer), so the caller can learn it too.
   */
  async save(entries: ReadonlyArray<[string, DedupState]>, seq: number, onMerged?: (key: string, state: DedupState) => void): Promise<void> {
    for (let i = 0; i < entries.length; i += WRITE_CONCURRENCY) {
      await Promise.all(entries.slice(i, i + WRITE_CONCURRENCY).map(([key, state]) => this.putMerged(key, state, onMerged)));
    }
    await this.raiseSeq(seq);
  }

  private async putMerged(key: string, state: DedupState, onMerged?: (key: string, state: DedupState) => void): Promise<void> {
    const kv = this.store;
    let value = state;
    for (let attempt = 0; attempt < CAS_ATTEMPTS; attempt++) {
      const rev = this.revisions.get(key);
      try {
        const next = rev === undefined ? await kv.create(key, encodeState(value)) : await kv.update(key, encodeState(value), rev);
        this.revisions.set(key, next);
        return;
      } catch (err) {
        if (!isCasConflict(err)) throw err;
      }
      const current = await kv.get(key);
      if (current && current.operation === 'PUT') {
        const theirs = decodeState(current.value, key, this.bucket);
        const merged = unionStates(value, theirs);
        if (!sameState(merged, value)) onMerged?.(key, theirs);
        value = merged;
        this.revisions.set(key, current.revision);
      } else {
        this.revisions.delete(key);
      }
    }
    throw new StorageError(`dedup snapshot ${this.bucket}: key ${key} kept changing under another writer`);
  }

  /** S only grows: compare-and-set to max(stored, seq). */
  private async raiseSeq(seq: number): Promise<void> {
    const kv = this.store;
    for (let attempt = 0; attempt < CAS_ATTEMPTS; attempt++) {
      try {
        this.seqRevision =
          this.seqRevision === undefined ? await kv.create(SEQ_KEY, encode(String(seq))) : await kv.update(SEQ_KEY, encode(String(seq)), this.seqRevision);
        return;
      } catch (err) {
        if (!isCasConflict(err)) throw err;
      }
      if ((await this.readSeq()) >= seq) return;
    }
    throw new StorageError(`dedup snapshot ${this.bucket}: S kept changing under another writer`);
  }
}

function isCasConflict(err: unknown): boolean {
  const e = err as { api_error?: { err_code?: number }; message?: string };
  return e.api_error?.err_code === 10071 || /wrong last sequence/i.test(e.message ?? '');
}

const encoder = new TextEncoder();
function encode(s: string): Uint8Array {
  return encoder.encode(s);
}

function encodeState(s: DedupState): Uint8Array {
  return encode(JSON.stringify({ h: s.hwm, a: s.above }));
}

function decodeState(data: Uint8Array, key: string, bucket: string): DedupState {
  try {
    const v = JSON.parse(new TextDecoder().decode(data)) as { h: unknown; a: unknown };
    if (Number.isSafeInteger(v.h) && Array.isArray(v.a) && v.a.every((s) => Number.isSafeInteger(s))) {
      return { hwm: v.h as number, above: [...(v.a as number[])].sort((x, y) => x - y) };
    }
  } catch {
    // reported below
  }
  throw new StorageError(`dedup snapshot ${bucket}: entry ${key} is not a dedup state`);
}
