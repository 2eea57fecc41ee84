// SQLite aggregate store (WAL). Bucket rows, watermarks, sensors, the unaggregated tally and the stream
// checkpoint live in one database so commit() is a single transaction.
import { statSync } from 'node:fs';
import Database from 'better-sqlite3';
import { StorageError } from '@tidemark/shared';
import { bucketKey, checkpointMoved, type AggregateCommit, type AggregateStore, type BucketKey, type BucketQuery, type BucketRecord, type SensorRow } from './aggregate-store.js';

const SCHEMA_VERSION = 2;
const SCHEMA = `
CREATE TABLE buckets (
  device     TEXT    NOT NULL,
  sensor     TEXT    NOT NULL,
  resolution TEXT    NOT NULL,
  start      INTEGER NOT NULL,
  count      INTEGER NOT NULL,
  sum        REAL    NOT NULL,
  min        REAL    NOT NULL,
  max        REAL    NOT NULL,
  mean       REAL    NOT NULL,
  m2         REAL    NOT NULL,
  first_ts   INTEGER NOT NULL,
  first      REAL    NOT NULL,
  last_ts    INTEGER NOT NULL,
  last       REAL    NOT NULL,
  revision   INTEGER NOT NULL,
  PRIMARY KEY (device, sensor, resolution, start)
) STRICT, WITHOUT ROWID;

CREATE TABLE watermarks (
  device    TEXT PRIMARY KEY,
  watermark INTEGER NOT NULL
) STRICT;

CREATE TABLE sensors (
  device   TEXT    NOT NULL,
  sensor   TEXT    NOT NULL,
  first_ts INTEGER NOT NULL,
  last_ts  INTEGER NOT NULL,
  readings INTEGER NOT NULL,
  PRIMARY KEY (device, sensor)
) STRICT, WITHOUT ROWID;

CREATE TABLE unaggregated (
  reason   TEXT PRIMARY KEY,
  readings INTEGER NOT NULL
) STRICT;

CREATE TABLE checkpoints (
  partition INTEGER PRIMARY KEY,
  offset    INTEGER NOT NULL
) STRICT;
`;

/** Version 1 had a single checkpoint (one stream partition): it becomes partition 0's. */
const MIGRATE_1_TO_2 = `
CREATE TABLE checkpoints (
  partition INTEGER PRIMARY KEY,
  offset    INTEGER NOT NULL
) STRICT;
INSERT INTO checkpoints(partition, offset) SELECT 0, offset FROM checkpoint WHERE id = 1;
DROP TABLE checkpoint;
`;

const KEYS_PER_LOAD = 10_000;

/** getBuckets' columns: the table's, in order. */
type BucketTuple = [device: string, sensor: string, resolution: string, ...rest: QueryRow];

/** queryBuckets' columns: start, count, sum, min, max, mean, m2, first_ts, first, last_ts, last, revision. */
type QueryRow = [number, number, number, number, number, number, number, number, number, number, number, number];

export class SqliteAggregateStore implements AggregateStore {
  readonly name = 'aggregate-store';
  private db: Database.Database | undefined;
  private stmts: ReturnType<SqliteAggregateStore['prepare']> | undefined;
  private inode: number | undefined;
  private inodeCheckedAt = 0;

  constructor(private readonly path: string) {}

  async start(): Promise<void> {
    this.openFile();
  }

  private openFile(): void {
    try {
      const db = new Database(this.path);
      db.pragma('journal_mode = WAL');
      db.pragma('synchronous = FULL');
      db.pragma('busy_timeout = 5000');
      const version = db.pragma('user_version', { simple: true }) as number;
      if (version === 0) {
        db.transaction(() => {
          db.exec(SCHEMA);
          db.pragma(`user_version = ${SCHEMA_VERSION}`);
        })();
      } else if (version === 1) {
        db.transaction(() => {
          db.exec(MIGRATE_1_TO_2);
          db.pragma(`user_version = ${SCHEMA_VERSION}`);
        })();
      } else if (version !== SCHEMA_VERSION) {
        throw new StorageError(`${this.path}: aggregate schema version ${version} is not supported (expected ${SCHEMA_VERSION})`);
      }
      this.db = db;
      this.stmts = this.prepare(db);
      this.inode = statSync(this.path).ino;
    } catch (err) {
      if (err instanceof StorageError) throw err;
      throw new StorageError(`cannot open aggregate store ${this.path}: ${(err as Error).message}`, { cause: err });
    }
  }

  private prepare(db: Database.Database) {
    return {
      checkpoint: db.prepare<[number], { offset: number }>('SELECT offset FROM checkpoints WHERE partition = ?'),
      checkpoints: db.prepare<[], { partition: number; offset: number }>('SELECT partition, offset FROM checkpoints ORDER BY partition'),
      setCheckpoint: db.prepare<[number, number]>(
        'INSERT INTO checkpoints(partition, offset) VALUES (?, ?) ON CONFLICT(partition) DO UPDATE SET offset = excluded.offset',
      ),
      // Every key of a chunk in one statement (a JSON array of [device, sensor, resolution, start]; strings and
      // integers only, so nothing is lost on the way), each a primary-key lookup: one call instead of one per
      // key, which was most of the cost of loading (mostly absent) buckets.
      getBuckets: db
        .prepare<[string], BucketTuple>(
          `SELECT b.device, b.sensor, b.resolution, b.start, b.count, b.sum, b.min, b.max, b.mean, b.m2, b.first_ts, b.first, b.last_ts, b.last, b.revision
           FROM json_each(?) AS k CROSS JOIN buckets AS b
           WHERE b.device = k.value ->> 0 AND b.sensor = k.value ->> 1 AND b.resolution = k.value ->> 2 AND b.start = k.value ->> 3`,
        )
        .raw(true),
      putBucket: db.prepare(
        `INSERT INTO buckets(device, sensor, resolution, start, count, sum, min, max, mean, m2, first_ts, first, last_ts, last, revision)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
         ON CONFLICT(device, sensor, resolution, start) DO UPDATE SET count = excluded.count, sum = excluded.sum, min = excluded.min,
           max = excluded.max, mean = excluded.mean, m2 = excluded.m2, first_ts = excluded.first_ts, first = excluded.first,
           last_ts = excluded.last_ts, last = excluded.last, revision = excluded.revision`,
      ),
      getWatermark: db.prepare<[string], { watermark: number }>('SELECT watermark FROM watermarks WHERE device = ?'),
      putWatermark: db.prepare(
        'INSERT INTO watermarks(device, watermark) VALUES (?, ?) ON CONFLICT(device) DO UPDATE SET watermark = max(watermark, excluded.watermark)',
      ),
      putSensor: db.prepare(
        `INSERT INTO sensors(device, sensor, first_ts, last_ts, readings) VALUES (?, ?, ?, ?, ?)
         ON CONFLICT(device, sensor) DO UPDATE SET first_ts = min(first_ts, excluded.first_ts), last_ts = max(last_ts, excluded.last_ts),
           readings = readings + excluded.readings`,
      ),
      addUnaggregated: db.prepare(
        'INSERT INTO unaggregated(reason, readings) VALUES (?, ?) ON CONFLICT(reason) DO UPDATE SET readings = readings + excluded.readings',
      ),
      // Rows as arrays, without the key columns (the query's own parameters): better-sqlite3 builds a row
      // object by creating every column name again, which cost more than the index scan itself for a day of
      // 1-minute buckets (scripts/bench/aggregate.bench.ts).
      query: db
        .prepare<[string, string, string, number, number, number], QueryRow>(
          `SELECT start, count, sum, min, max, mean, m2, first_ts, first, last_ts, last, revision FROM buckets
           WHERE device = ? AND sensor = ? AND resolution = ? AND start >= ? AND start < ? ORDER BY start LIMIT ?`,
        )
        .raw(true),
      sensors: db.prepare<[string], { sensor: string; first_ts: number; last_ts: number; readings: number }>(
        'SELECT sensor, first_ts, last_ts, readings FROM sensors WHERE device = ? ORDER BY sensor',
      ),
      unaggregated: db.prepare<[], { reason: string; readings: number }>('SELECT reason, readings FROM unaggregated ORDER BY reason'),
      // The primary key leads with (device, sensor): going through the sensor catalogue makes this one range
      // search per sensor (CROSS JOIN fixes the join order), not a scan of every bucket (1.6 ms vs 44 ms per
      // resolution for 1M buckets with nothing to delete).
      deleteBefore: db.prepare<[string, number, number]>(
        `DELETE FROM buckets WHERE (device, sensor, resolution, start) IN (
           SELECT b.device, b.sensor, b.resolution, b.start FROM sensors AS s CROSS JOIN buckets AS b
           WHERE b.device = s.device AND b.sensor = s.sensor AND b.resolution = ? AND b.start < ? LIMIT ?)`,
      ),
    };
  }

  private get s() {
    if (!this.stmts) throw new StorageError('aggregate store is not started');
    return this.stmts;
  }

  /**
   * `replay` renames a rebuilt file into place. A process that only reads (the api role) would go on reading
   * the old file through its open handle: the read paths check, at most once a second, whether the path now
   * names another file, and reopen it. (The aggregator role holds the pid file, so replay never swaps its file.)
   */
  private followReplacement(): void {
    const now = Date.now();
    if (!this.db || now - this.inodeCheckedAt < 1000) return;
    this.inodeCheckedAt = now;
    let inode: number;
    try {
      inode = statSync(this.path).ino;
    } catch {
      return; // mid-rename: next time
    }
    if (inode === this.inode) return;
    this.db.close();
    this.db = undefined;
    this.stmts = undefined;
    this.openFile();
  }

  async checkpoint(partition = 0): Promise<number> {
    this.followReplacement();
    return this.s.checkpoint.get(partition)?.offset ?? 1;
  }

  async checkpoints(): Promise<Map<number, number>> {
    return new Map(this.s.checkpoints.all().map((r) => [r.partition, r.offset]));
  }

  async getBuckets(keys: readonly BucketKey[]): Promise<Map<string, BucketRecord>> {
    const out = new Map<string, BucketRecord>();
    // In slices, so a chunk of sparse readings (a key per reading) never builds one huge JSON text.
    for (let i = 0; i < keys.length; i += KEYS_PER_LOAD) {
      const slice = keys.slice(i, i + KEYS_PER_LOAD).map((k) => [k.device, k.sensor, k.resolution, k.start]);
      for (const x of this.s.getBuckets.all(JSON.stringify(slice))) {
        const r: BucketRecord = {
          device: x[0],
          sensor: x[1],
          resolution: x[2],
          start: x[3],
          revision: x[14],
          stats: { count: x[4], sum: x[5], min: x[6], max: x[7], mean: x[8], m2: x[9], firstTs: x[10], first: x[11], lastTs: x[12], last: x[13] },
        };
        out.set(bucketKey(r), r);
      }
    }
    return out;
  }

  async getWatermarks(devices: readonly string[]): Promise<Map<string, number>> {
    const out = new Map<string, number>();
    for (const d of devices) {
      const row = this.s.getWatermark.get(d);
      if (row) out.set(d, row.watermark);
    }
    return out;
  }

  async commit(c: AggregateCommit): Promise<void> {
    const db = this.db;
    if (!db) throw new StorageError('aggregate store is not started');
    const s = this.s;
    db.transaction(() => {
      if (c.expectedOffset !== undefined) {
        const at = s.checkpoint.get(c.partition ?? 0)?.offset ?? 1;
        if (at !== c.expectedOffset) throw checkpointMoved(this.path, c.partition ?? 0, c.expectedOffset, at);
      }
      for (const b of c.buckets) {
        const x = b.stats;
        s.putBucket.run(b.device, b.sensor, b.resolution, b.start, x.count, x.sum, x.min, x.max, x.mean, x.m2, x.firstTs, x.first, x.lastTs, x.last, b.revision);
      }
      for (const [device, wm] of c.watermarks) s.putWatermark.run(device, wm);
      for (const x of c.sensors) s.putSensor.run(x.device, x.sensor, x.firstTs, x.lastTs, x.readings);
      for (const [reason, n] of c.unaggregated) s.addUnaggregated.run(reason, n);
      s.setCheckpoint.run(c.partition ?? 0, c.offset);
    })();
  }

  async queryBuckets(q: BucketQuery): Promise<BucketRecord[]> {
    this.followReplacement();
    const from = q.after !== undefined ? Math.max(q.from, q.after + 1) : q.from;
    const rows = this.s.query.all(q.device, q.sensor, q.resolution, from, q.to, q.limit);
    const out = new Array<BucketRecord>(rows.length);
    for (let i = 0; i < rows.length; i++) {
      const r = rows[i]!;
      out[i] = {
        device: q.device,
        sensor: q.sensor,
        resolution: q.resolution,
        start: r[0],
        revision: r[11],
        stats: { count: r[1], sum: r[2], min: r[3], max: r[4], mean: r[5], m2: r[6], firstTs: r[7], first: r[8], lastTs: r[9], last: r[10] },
      };
    }
    return out;
  }

  async watermark(device: string): Promise<number | undefined> {
    this.followReplacement();
    return this.s.getWatermark.get(device)?.watermark;
  }

  async sensors(device: string): Promise<SensorRow[]> {
    this.followReplacement();
    return this.s.sensors.all(device).map((r) => ({
      name: r.sensor,
      first_seen: new Date(r.first_ts).toISOString(),
      last_seen: new Date(r.last_ts).toISOString(),
      readings: r.readings,
    }));
  }

  async unaggregated(): Promise<Record<string, number>> {
    return Object.fromEntries(this.s.unaggregated.all().map((r) => [r.reason, r.readings]));
  }

  async deleteBucketsBefore(resolution: string, startBefore: number, limit: number): Promise<number> {
    return this.s.deleteBefore.run(resolution, startBefore, limit).changes;
  }

  /** Replay --from: copies another store's buckets that start before `boundary` into this one. */
  copyBucketsBefore(fromPath: string, boundary: number): number {
    return this.withAttached(fromPath, (db) => db.prepare('INSERT INTO buckets SELECT * FROM previous.buckets WHERE start < ?').run(boundary).changes);
  }

  /** Replay --from: another store's checkpoints (per partition, the next stream offset it would read). */
  checkpointsOf(fromPath: string): Map<number, number> {
    return this.withAttached(fromPath, (db) => {
      // The live store may still be at schema version 1 (one checkpoint) if no collector opened it since.
      const v2 = db.prepare("SELECT 1 FROM previous.sqlite_schema WHERE name = 'checkpoints'").get() !== undefined;
      const rows = db
        .prepare<[], { partition: number; offset: number }>(
          v2 ? 'SELECT partition, offset FROM previous.checkpoints' : 'SELECT 0 AS partition, offset FROM previous.checkpoint WHERE id = 1',
        )
        .all();
      return new Map(rows.map((r) => [r.partition, r.offset]));
    });
  }

  /** Replay --from: replaces this store's watermarks, sensor catalogue and unaggregated tally with another store's, atomically. */
  adoptStateOf(fromPath: string): void {
    this.withAttached(fromPath, (db) =>
      db.transaction(() => {
        for (const t of ['watermarks', 'sensors', 'unaggregated']) db.exec(`DELETE FROM main.${t}; INSERT INTO main.${t} SELECT * FROM previous.${t}`);
      })(),
    );
  }

  private withAttached<T>(fromPath: string, fn: (db: Database.Database) => T): T {
    const db = this.db;
    if (!db) throw new StorageError('aggregate store is not started');
    db.prepare('ATTACH DATABASE ? AS previous').run(fromPath);
    try {
      return fn(db);
    } finally {
      db.prepare('DETACH DATABASE previous').run();
    }
  }

  async stop(): Promise<void> {
    this.db?.close();
    this.db = undefined;
    this.stmts = undefined;
  }
}
