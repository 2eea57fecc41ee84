// The alert store (SQLite, WAL, `alerts.db` in data_dir): every alert series' state, the transitions they
// produced, the notification outbox, operator acks, and the evaluator's stream checkpoints. commit() writes a
// chunk's series, transitions, outbox rows and the partition's next offset in ONE transaction, fenced on the
// offset the chunk was read from: kill -9 anywhere resumes to the same states. publishTransitions() may store
// transitions ahead of that commit; a transition is stored once by its id, so the re-evaluation after a crash
// stores and enqueues nothing twice, and a transition is in the outbox if and only if it is stored. Acks and delivery outcomes are operator/notifier state, kept apart
// from what the stream determines, so a replay can rebuild the latter and carry the former over.
import Database from 'better-sqlite3';
import { StorageError, type Component } from '@tidemark/shared';
import {
  MIGRATIONS,
  READABLE_SCHEMA_VERSIONS,
  SCHEMA,
  SCHEMA_VERSION,
  decodeMachine,
  encodeMachine,
  type AckResult,
  type AlertCommit,
  type AlertItem,
  type AlertQuery,
  type CommittedTransition,
  type HistoryItem,
  type SeriesItem,
  type StoredSeries,
  type TransitionQuery,
} from './alert-store-model.js';
import type { AlertTransition } from './alert-types.js';
import type { Outbox, OutboxItem } from './notify/notifier.js';
import { OutboxTable } from './sqlite-outbox-table.js';

export type { AckResult, AlertCommit, AlertItem, AlertQuery, CommittedTransition, HistoryItem, SeriesItem, StoredSeries, TransitionQuery } from './alert-store-model.js';

export class SqliteAlertStore implements Component, Outbox {
  readonly name = 'alert-store';
  private db: Database.Database | undefined;
  private stmts: ReturnType<SqliteAlertStore['prepare']> | undefined;
  private outbox: OutboxTable | undefined;

  constructor(
    readonly path: string,
    /** mustExist: another process (the aggregator role) creates the file; this one only opens it. */
    private readonly opts: { mustExist?: boolean } = {},
  ) {}

  async start(): Promise<void> {
    this.open();
  }

  /** Opens now (synchronous; replay and tests). */
  open(): void {
    if (this.db) return;
    try {
      const db = new Database(this.path, this.opts.mustExist ? { fileMustExist: true } : {});
      db.pragma('busy_timeout = 5000');
      const version = db.pragma('user_version', { simple: true }) as number;
      if (!this.opts.mustExist) {
        db.pragma('journal_mode = WAL');
        db.pragma('synchronous = FULL');
      }
      const readable = this.opts.mustExist ? READABLE_SCHEMA_VERSIONS.includes(version) : version === 0 || MIGRATIONS.has(version) || version === SCHEMA_VERSION;
      if (!readable) {
        throw new StorageError(`${this.path}: alert store schema version ${version} is not supported (expected ${SCHEMA_VERSION})`);
      }
      if (!this.opts.mustExist && version !== SCHEMA_VERSION) {
        // A new file is schema 1 plus every migration: one path for new and upgraded stores.
        db.transaction(() => {
          if (version === 0) db.exec(SCHEMA);
          for (let v = Math.max(version, 1); v < SCHEMA_VERSION; v++) db.exec(MIGRATIONS.get(v)!);
          db.pragma(`user_version = ${SCHEMA_VERSION}`);
        })();
      }
      this.db = db;
      this.stmts = this.prepare(db);
      if (!this.opts.mustExist || version >= 2) this.outbox = new OutboxTable(db);
    } catch (err) {
      if (err instanceof StorageError) throw err;
      throw new StorageError(`cannot open alert store ${this.path}: ${(err as Error).message}`, { cause: err });
    }
  }

  async stop(): Promise<void> {
    this.db?.close();
    this.db = undefined;
    this.stmts = undefined;
    this.outbox = undefined;
  }

  private get s() {
    if (!this.stmts) throw new StorageError(`alert store ${this.path} is not open`);
    return this.stmts;
  }

  /** The statements that need schema 2: a reader of a schema-1 file (mustExist) never writes or picks due rows. */
  private get o(): OutboxTable {
    if (!this.outbox) throw new StorageError(`alert store ${this.path} is not open, or is schema 1 opened read-only (the aggregator role migrates it)`);
    return this.outbox;
  }

  private prepare(db: Database.Database) {
    return {
      checkpoint: db.prepare<[number], { offset: number; origin: number }>('SELECT offset, origin FROM checkpoints WHERE partition = ?'),
      initCheckpoint: db.prepare<[number, number, number]>('INSERT OR IGNORE INTO checkpoints(partition, offset, origin) VALUES (?, ?, ?)'),
      setCheckpoint: db.prepare<[number, number]>('UPDATE checkpoints SET offset = ? WHERE partition = ?'),
      allSeries: db.prepare<[], { item: string; machine: string }>('SELECT item, machine FROM series'),
      putSeries: db.prepare<[string, string, string, string, string, string]>(
        `INSERT INTO series(alert_id, item, state, rule, device, machine) VALUES (?, ?, ?, ?, ?, ?)
         ON CONFLICT(alert_id) DO UPDATE SET item = excluded.item, state = excluded.state, machine = excluded.machine`,
      ),
      putMachine: db.prepare<[string, string]>('UPDATE series SET machine = ? WHERE alert_id = ?'),
      putItem: db.prepare<[string, string, string]>('UPDATE series SET item = ?, state = ? WHERE alert_id = ?'),
      putTransition: db.prepare<[string, string, number, string, number, string | null]>(
        'INSERT INTO transitions(id, alert_id, event_time, body, notified, suppressed) VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT(id) DO NOTHING',
      ),
      kvGet: db.prepare<[], { key: string; value: string }>('SELECT key, value FROM kv'),
      kvPut: db.prepare<[string, string]>('INSERT INTO kv(key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value'),
      ackGet: db.prepare<[string], { since: number; acked_by: string; acked_at: number }>('SELECT since, acked_by, acked_at FROM acks WHERE alert_id = ?'),
      ackPut: db.prepare<[string, number, string, number]>(
        'INSERT INTO acks(alert_id, since, acked_by, acked_at) VALUES (?, ?, ?, ?) ON CONFLICT(alert_id) DO UPDATE SET since = excluded.since, acked_by = excluded.acked_by, acked_at = excluded.acked_at',
      ),
      seriesItem: db.prepare<[string], { item: string }>('SELECT item FROM series WHERE alert_id = ?'),
      transitionsAfter: db.prepare<[number, number], { seq: number; body: string }>('SELECT seq, body FROM transitions WHERE seq > ? ORDER BY seq LIMIT ?'),
      maxSeq: db.prepare<[], { seq: number | null }>('SELECT max(seq) AS seq FROM transitions'),
    };
  }

  // --- the evaluator's side

  /** The partition's checkpoint; a partition never seen starts at `initial` (recorded as its origin). */
  checkpointOr(partition: number, initial: () => number): number {
    const row = this.s.checkpoint.get(partition);
    if (row) return row.offset;
    const start = initial();
    this.s.initCheckpoint.run(partition, start, start);
    return this.s.checkpoint.get(partition)!.offset;
  }

  checkpoint(partition: number): number | undefined {
    return this.s.checkpoint.get(partition)?.offset;
  }

  /** Where the evaluator began reading `partition` when this store was created (replay starts there). */
  origin(partition: number): number | undefined {
    return this.s.checkpoint.get(partition)?.origin;
  }

  loadSeries(): StoredSeries[] {
    return this.s.allSeries.all().map((r) => ({ item: JSON.parse(r.item) as SeriesItem, machine: decodeMachine(r.machine) }));
  }

  loadKv(): Map<string, string> {
    return new Map(this.s.kvGet.all().map((r) => [r.key, r.value]));
  }

  /** Returns the transitions it stored: a transition already stored (published ahead, below) is not again. */
  commit(c: AlertCommit): CommittedTransition[] {
    return this.write(c, c);
  }

  /**
   * Series driven by device status (offline, backlog) rather than the stream: the same tables and outbox,
   * without a stream checkpoint.
   */
  commitStatus(c: Omit<AlertCommit, 'partition' | 'offset' | 'expectedOffset'>): CommittedTransition[] {
    return this.write(c, undefined);
  }

  /**
   * Transitions ahead of their stream checkpoint (alerts.checkpoint_interval): the transitions, their outbox
   * rows and the API items of their series, in one transaction, without the series' machines or an offset.
   * A series with no row yet gets `initial` as its machine — the machine it had at the checkpoint, since a
   * series never committed had not changed. A crash before the checkpoint re-evaluates these transitions
   * with the same ids, and commit() then stores and enqueues nothing for them. Returns those it stored.
   * Not fsynced (synchronous=NORMAL for this transaction): a process crash cannot lose it (WAL), and what a
   * power cut can lose is only what came after the last checkpoint commit — which fsyncs the WAL up to itself —
   * so it is evaluated again from that checkpoint and stored again with the same ids (a notification that
   * left before the cut goes again with its id: at least once, as always).
   */
  publishTransitions(c: { series: readonly { item: SeriesItem; initial: unknown }[]; transitions: readonly CommittedTransition[]; now: number }): CommittedTransition[] {
    const s = this.s;
    const db = this.database;
    // db.pragma, not a prepared statement: SQLite applies `synchronous` when the pragma is compiled.
    db.pragma('synchronous = NORMAL');
    try {
      return db.transaction(() => {
        for (const { item: i, initial } of c.series) {
          const item = JSON.stringify(i);
          if (s.putItem.run(item, i.state, i.id).changes === 1) continue;
          s.putSeries.run(i.id, item, i.state, i.rule, i.device, encodeMachine(initial));
        }
        return this.putTransitions(c.transitions, c.now);
      })();
    } finally {
      db.pragma('synchronous = FULL');
    }
  }

  private get database(): Database.Database {
    if (!this.db) throw new StorageError(`alert store ${this.path} is not open`);
    return this.db;
  }

  private write(c: Omit<AlertCommit, 'partition' | 'offset' | 'expectedOffset'>, at: Pick<AlertCommit, 'partition' | 'offset' | 'expectedOffset'> | undefined): CommittedTransition[] {
    const s = this.s;
    return this.database.transaction(() => {
      if (at) {
        const row = s.checkpoint.get(at.partition);
        if (!row || row.offset !== at.expectedOffset) {
          throw new StorageError(
            `alert store: partition ${at.partition} checkpoint is ${row?.offset ?? 'unset'}, not ${at.expectedOffset} (another evaluator or a replay moved it); re-reading`,
          );
        }
      }
      for (const x of c.series) {
        const i = x.item;
        const machine = encodeMachine(x.machine);
        if (x.itemChanged === false && s.putMachine.run(machine, i.id).changes === 1) continue;
        s.putSeries.run(i.id, JSON.stringify(i), i.state, i.rule, i.device, machine);
      }
      const stored = this.putTransitions(c.transitions, c.now);
      for (const [k, v] of c.kv) s.kvPut.run(k, v);
      if (at) s.setCheckpoint.run(at.offset, at.partition);
      return stored;
    })();
  }

  /** Inside a transaction: stores the transitions not stored yet, and enqueues those to notify. */
  private putTransitions(transitions: readonly CommittedTransition[], now: number): CommittedTransition[] {
    const stored: CommittedTransition[] = [];
    for (const t of transitions) {
      const tr = t.transition;
      if (this.s.putTransition.run(tr.id, tr.alert_id, Date.parse(tr.event_time), JSON.stringify(tr), t.notifiers.length > 0 ? 1 : 0, t.suppressed ?? null).changes === 0) continue;
      if (t.notifiers.length > 0) this.o.enqueue(tr, t.notifiers, now);
      stored.push(t);
    }
    return stored;
  }

  /** Copies the series and transitions of these rules from `old` (status-driven rules, which replay cannot rebuild). */
  copyRulesFrom(old: SqliteAlertStore, rules: readonly string[]): number {
    if (rules.length === 0) return 0;
    const oldDb = old.db!;
    const db = this.db!;
    const marks = rules.map(() => '?').join(', ');
    let n = 0;
    db.transaction(() => {
      for (const r of oldDb.prepare<string[], { alert_id: string; item: string; state: string; rule: string; device: string; machine: string }>(`SELECT * FROM series WHERE rule IN (${marks})`).all(...rules)) {
        this.s.putSeries.run(r.alert_id, r.item, r.state, r.rule, r.device, r.machine);
        const ts = oldDb.prepare<[string], { id: string; alert_id: string; event_time: number; body: string; notified: number; suppressed: string | null }>('SELECT * FROM transitions WHERE alert_id = ? ORDER BY seq').all(r.alert_id);
        for (const t of ts) this.s.putTransition.run(t.id, t.alert_id, t.event_time, t.body, t.notified, t.suppressed);
        n += ts.length;
      }
    })();
    return n;
  }

  // --- the outbox (delivery worker): sqlite-outbox-table.ts

  due(now: number, limit: number): OutboxItem[] {
    return this.o.due(now, limit);
  }

  /** Every pending row in commit order, due or not (for inspection; the delivery worker asks due()). */
  pendingNotifications(limit: number): OutboxItem[] {
    return this.o.pending(limit);
  }

  delivered(transitionId: string, notifier: string, now: number): void {
    this.o.delivered(transitionId, notifier, now);
  }

  retryAt(transitionId: string, notifier: string, attempts: number, nextAt: number, error: string): void {
    this.o.retryAt(transitionId, notifier, attempts, nextAt, error);
  }

  failed(transitionId: string, notifier: string, error: string, now: number): void {
    this.o.failed(transitionId, notifier, error, now);
  }

  depth(): { count: number; oldestCreatedAt: number | null } {
    return this.o.depth();
  }

  // --- the API's side

  private withAck(item: SeriesItem): AlertItem {
    const ack = this.s.ackGet.get(item.id);
    const current = ack !== undefined && item.state === 'firing' && ack.since === Date.parse(item.since);
    return { ...item, acked_by: current ? ack.acked_by : null, acked_at: current ? new Date(ack.acked_at).toISOString() : null };
  }

  listAlerts(q: AlertQuery): { items: AlertItem[]; next: string | null } {
    const where: string[] = [];
    const args: (string | number)[] = [];
    if (q.state) {
      where.push('state = ?');
      args.push(q.state);
    } else where.push("state != 'normal'");
    if (q.rule) {
      where.push('rule = ?');
      args.push(q.rule);
    }
    if (q.device) {
      where.push('device = ?');
      args.push(q.device);
    }
    if (q.after) {
      where.push('alert_id > ?');
      args.push(q.after);
    }
    const rows = this.db!
      .prepare<(string | number)[], { item: string }>(`SELECT item FROM series WHERE ${where.join(' AND ')} ORDER BY alert_id LIMIT ?`)
      .all(...args, q.limit + 1);
    const items = rows.slice(0, q.limit).map((r) => this.withAck(JSON.parse(r.item) as SeriesItem));
    return { items, next: rows.length > q.limit ? items[items.length - 1]!.id : null };
  }

  getAlert(id: string): AlertItem | undefined {
    const row = this.s.seriesItem.get(id);
    return row ? this.withAck(JSON.parse(row.item) as SeriesItem) : undefined;
  }

  /**
   * Transitions in event-time order, each with whether it was notified and, if not, why (pending, normal,
   * late, flapping, firing_not_notified, no_notifiers).
   */
  listTransitions(q: TransitionQuery): { items: HistoryItem[]; next: { eventTime: number; id: string } | null } {
    const where: string[] = ['1 = 1'];
    const args: (string | number)[] = [];
    if (q.alertId) {
      where.push('alert_id = ?');
      args.push(q.alertId);
    }
    if (q.rule || q.device) {
      where.push('alert_id IN (SELECT alert_id FROM series WHERE (? IS NULL OR rule = ?) AND (? IS NULL OR device = ?))');
      args.push(q.rule ?? null!, q.rule ?? null!, q.device ?? null!, q.device ?? null!);
    }
    if (q.after) {
      where.push('(event_time > ? OR (event_time = ? AND id > ?))');
      args.push(q.after.eventTime, q.after.eventTime, q.after.id);
    }
    const rows = this.db!
      .prepare<(string | number)[], { body: string; event_time: number; id: string; notified: number; suppressed: string | null }>(
        `SELECT body, event_time, id, notified, suppressed FROM transitions WHERE ${where.join(' AND ')} ORDER BY event_time, id LIMIT ?`,
      )
      .all(...args, q.limit + 1);
    const items = rows.slice(0, q.limit).map((r) => ({ ...(JSON.parse(r.body) as AlertTransition), notified: r.notified === 1, suppressed: r.suppressed }));
    const last = rows.length > q.limit ? rows[q.limit - 1]! : undefined;
    return { items, next: last ? { eventTime: last.event_time, id: last.id } : null };
  }

  /** Acks the current firing episode of an alert series. */
  ack(id: string, by: string, now: number): AckResult {
    const row = this.s.seriesItem.get(id);
    if (!row) return { ok: false, reason: 'not_found' };
    const item = JSON.parse(row.item) as SeriesItem;
    if (item.state !== 'firing') return { ok: false, reason: 'not_firing' };
    this.s.ackPut.run(id, Date.parse(item.since), by, now);
    return { ok: true, item: this.withAck(item) };
  }

  /** Committed transitions after `seq`, in commit order (the live feed for other processes). */
  transitionsAfter(seq: number, limit = 1000): { seq: number; transition: AlertTransition }[] {
    return this.s.transitionsAfter.all(seq, limit).map((r) => ({ seq: r.seq, transition: JSON.parse(r.body) as AlertTransition }));
  }

  lastSeq(): number {
    return this.s.maxSeq.get()?.seq ?? 0;
  }

  /** Every operator ack and delivery outcome, to carry over into a rebuilt store (replay). */
  carryOverFrom(old: SqliteAlertStore): { acks: number; outbox: number } {
    const oldDb = old.db!;
    const db = this.db!;
    let acks = 0;
    let outbox = 0;
    db.transaction(() => {
      for (const a of oldDb.prepare<[], { alert_id: string; since: number; acked_by: string; acked_at: number }>('SELECT * FROM acks').all()) {
        this.s.ackPut.run(a.alert_id, a.since, a.acked_by, a.acked_at);
        acks++;
      }
      outbox = this.o.carryOver(oldDb);
    })();
    return { acks, outbox };
  }

  /** Replay: rows the rebuild wrote for transitions never seen live are not sent (history, not news). */
  suppressOutboxExcept(keep: ReadonlySet<string>, now: number): number {
    return this.o.failPendingExcept(keep, 'not sent: found by replay', now);
  }

  /** Ids of every transition in this store. */
  transitionIds(): Set<string> {
    return new Set(this.db!.prepare<[], { id: string }>('SELECT id FROM transitions').all().map((r) => r.id));
  }

  setOrigins(origins: readonly number[]): void {
    const db = this.db!;
    db.transaction(() => {
      origins.forEach((o, p) => db.prepare('INSERT INTO checkpoints(partition, offset, origin) VALUES (?, ?, ?) ON CONFLICT(partition) DO UPDATE SET offset = excluded.offset, origin = excluded.origin').run(p, o, o));
    })();
  }
}
