// SQLite stream store: one WAL database holding the log, the dedup state and the dead letters, so that
// dedup check + append + dedup record commit in one transaction (synchronous=FULL: durable before ack).
import Database from 'better-sqlite3';
import { streamIdToHex } from '@tidemark/proto';
import { StorageError } from '@tidemark/shared';
import { advanceTo, isDuplicate, recordSeq, type DedupState } from './dedup.js';
import type { AppendItem, AppendOutcome, DeadLetter, StreamRecord, StreamStore } from './stream-store.js';

const SCHEMA_VERSION = 1;
const SCHEMA = `
CREATE TABLE stream (
  offset      INTEGER PRIMARY KEY AUTOINCREMENT,
  device      TEXT    NOT NULL,
  stream_id   BLOB    NOT NULL,
  seq         INTEGER NOT NULL,
  received_ms INTEGER NOT NULL,
  readings    INTEGER NOT NULL,
  payload     BLOB    NOT NULL
) STRICT;
CREATE INDEX stream_received ON stream(received_ms);

CREATE TABLE dedup (
  device    TEXT    NOT NULL,
  stream_id BLOB    NOT NULL,
  hwm       INTEGER NOT NULL,
  above     TEXT    NOT NULL,   -- JSON array of seqs received above hwm
  PRIMARY KEY (device, stream_id)
) STRICT, WITHOUT ROWID;

CREATE TABLE dead_letters (
  id          INTEGER PRIMARY KEY AUTOINCREMENT,
  device      TEXT,
  reason      TEXT    NOT NULL,
  received_ms INTEGER NOT NULL,
  payload     BLOB    NOT NULL
) STRICT;
`;

export interface SqliteStreamStoreOptions {
  path: string;
  /** Dead letters kept at most (oldest deleted first). */
  maxDeadLetters?: number;
  readonly?: boolean;
}

export class SqliteStreamStore implements StreamStore {
  readonly name = 'stream-store';
  private db: Database.Database | undefined;
  private stmts: ReturnType<SqliteStreamStore['prepare']> | undefined;

  constructor(private readonly opts: SqliteStreamStoreOptions) {}

  async start(): Promise<void> {
    try {
      const db = new Database(this.opts.path, { readonly: this.opts.readonly ?? false, fileMustExist: this.opts.readonly ?? false });
      if (!this.opts.readonly) {
        db.pragma('journal_mode = WAL');
        db.pragma('synchronous = FULL');
      }
      db.pragma('busy_timeout = 5000');
      let version = db.pragma('user_version', { simple: true }) as number;
      if (version === 0 && !this.opts.readonly) {
        // Roles in separate processes may start at the same instant on a fresh data_dir: take the write lock
        // first, look again, and create the schema once, atomically.
        version = db
          .transaction(() => {
            const now = db.pragma('user_version', { simple: true }) as number;
            if (now !== 0) return now;
            db.exec(SCHEMA);
            db.pragma(`user_version = ${SCHEMA_VERSION}`);
            return SCHEMA_VERSION;
          })
          .immediate();
      }
      if (version !== SCHEMA_VERSION) {
        throw new StorageError(`${this.opts.path}: stream schema version ${version} is not supported (expected ${SCHEMA_VERSION})`);
      }
      this.db = db;
      this.stmts = this.prepare(db);
    } catch (err) {
      if (err instanceof StorageError) throw err;
      throw new StorageError(`cannot open stream store ${this.opts.path}: ${(err as Error).message}`, { cause: err });
    }
  }

  private prepare(db: Database.Database) {
    return {
      getDedup: db.prepare<[string, Buffer], { hwm: number; above: string }>('SELECT hwm, above FROM dedup WHERE device = ? AND stream_id = ?'),
      putDedup: db.prepare(
        'INSERT INTO dedup(device, stream_id, hwm, above) VALUES (?, ?, ?, ?) ON CONFLICT(device, stream_id) DO UPDATE SET hwm = excluded.hwm, above = excluded.above',
      ),
      insert: db.prepare('INSERT INTO stream(device, stream_id, seq, received_ms, readings, payload) VALUES (?, ?, ?, ?, ?, ?)'),
      read: db.prepare<[number, number], { offset: number; device: string; stream_id: Buffer; seq: number; received_ms: number; payload: Buffer }>(
        'SELECT offset, device, stream_id, seq, received_ms, payload FROM stream WHERE offset >= ? ORDER BY offset LIMIT ?',
      ),
      maxOffset: db.prepare<[], { o: number | null }>('SELECT max(offset) AS o FROM stream'),
      seqOffset: db.prepare<[], { seq: number } | undefined>("SELECT seq FROM sqlite_sequence WHERE name = 'stream'"),
      deadLetter: db.prepare('INSERT INTO dead_letters(device, reason, received_ms, payload) VALUES (?, ?, ?, ?)'),
      trimDeadLetters: db.prepare('DELETE FROM dead_letters WHERE id <= (SELECT max(id) FROM dead_letters) - ?'),
    };
  }

  private get s() {
    if (!this.stmts) throw new StorageError('stream store is not started');
    return this.stmts;
  }

  async append(items: readonly AppendItem[]): Promise<AppendOutcome[]> {
    const db = this.db;
    if (!db) throw new StorageError('stream store is not started');
    const s = this.s;
    const run = db.transaction((batch: readonly AppendItem[]) => {
      const states = new Map<string, { device: string; streamId: Buffer; state: DedupState; dirty: boolean }>();
      const outcomes: AppendOutcome[] = [];
      for (const item of batch) {
        const streamId = Buffer.from(item.streamId);
        const key = `${item.deviceId}\u0000${streamIdToHex(item.streamId)}`;
        let entry = states.get(key);
        if (!entry) {
          const row = s.getDedup.get(item.deviceId, streamId);
          const state: DedupState = row ? { hwm: row.hwm, above: JSON.parse(row.above) as number[] } : { hwm: 0, above: [] };
          entry = { device: item.deviceId, streamId, state, dirty: false };
          states.set(key, entry);
        }
        if (item.lowWaterSeq !== undefined && item.lowWaterSeq - 1 > entry.state.hwm && item.lowWaterSeq <= item.seq) {
          entry.state = advanceTo(entry.state, item.lowWaterSeq);
          entry.dirty = true;
        }
        if (isDuplicate(entry.state, item.seq)) {
          outcomes.push('duplicate');
          continue;
        }
        s.insert.run(item.deviceId, streamId, item.seq, item.receivedMs, item.readings, Buffer.from(item.payload));
        entry.state = recordSeq(entry.state, item.seq);
        entry.dirty = true;
        outcomes.push('ok');
      }
      for (const e of states.values()) {
        if (e.dirty) s.putDedup.run(e.device, e.streamId, e.state.hwm, JSON.stringify(e.state.above));
      }
      return outcomes;
    });
    try {
      return run(items);
    } catch (err) {
      throw new StorageError(`stream append failed: ${(err as Error).message}`, { cause: err });
    }
  }

  async read(fromOffset: number, limit: number): Promise<StreamRecord[]> {
    return this.s.read.all(fromOffset, limit).map((r) => ({
      offset: r.offset,
      deviceId: r.device,
      streamId: new Uint8Array(r.stream_id),
      seq: r.seq,
      receivedMs: r.received_ms,
      payload: new Uint8Array(r.payload),
    }));
  }

  async endOffset(): Promise<number> {
    // AUTOINCREMENT never reuses offsets, even after trimming: the next one is sqlite_sequence + 1.
    const seq = this.s.seqOffset.get();
    return (seq?.seq ?? this.s.maxOffset.get()?.o ?? 0) + 1;
  }

  async deadLetter(entry: DeadLetter): Promise<void> {
    this.s.deadLetter.run(entry.deviceId, entry.reason, entry.receivedMs, Buffer.from(entry.payload));
    this.s.trimDeadLetters.run(this.opts.maxDeadLetters ?? 10_000);
  }

  async trim(opts: { beforeReceivedMs: number; belowOffset: number; maxBytes?: number }): Promise<number> {
    const db = this.db;
    if (!db) throw new StorageError('stream store is not started');
    // In bounded steps, so a large first trim never holds the write lock for long.
    const STEP = 5000;
    let deleted = 0;
    const byAge = db.prepare(
      'DELETE FROM stream WHERE offset IN (SELECT offset FROM stream WHERE offset < ? AND received_ms < ? ORDER BY offset LIMIT ?)',
    );
    for (let n = STEP; n === STEP; deleted += n) n = byAge.run(opts.belowOffset, opts.beforeReceivedMs, STEP).changes;
    if (opts.maxBytes !== undefined) {
      const used = () => {
        const pages = db.pragma('page_count', { simple: true }) as number;
        const free = db.pragma('freelist_count', { simple: true }) as number;
        return (pages - free) * (db.pragma('page_size', { simple: true }) as number);
      };
      const oldest = db.prepare('DELETE FROM stream WHERE offset IN (SELECT offset FROM stream WHERE offset < ? ORDER BY offset LIMIT ?)');
      while (used() > opts.maxBytes) {
        const n = oldest.run(opts.belowOffset, 50).changes;
        if (n === 0) break;
        deleted += n;
      }
    }
    return deleted;
  }

  async stop(): Promise<void> {
    this.db?.close();
    this.db = undefined;
    this.stmts = undefined;
  }
}
