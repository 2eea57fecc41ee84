// PostgreSQL aggregate store (`aggregates: { type: postgres, url }`): the SQLite store's tables in a schema
// of their own (default "tidemark"). commit() writes buckets, watermarks (monotonic max), sensor catalogue
// deltas, the unaggregated tally and the checkpoint in ONE transaction: usually a single statement of
// data-modifying CTEs over unnest()ed arrays (one round trip), or, for a commit larger than one statement
// should carry, several multi-row statements inside BEGIN … COMMIT.
// Exactness: doubles travel as shortest round-trip text (-0 and ±Infinity included) into double precision
// columns; bigints come back as numbers only when exact (postgres-connection.ts).
import type pg from 'pg';
import { StorageError, type Logger } from '@tidemark/shared';
import { LastStartFailure } from '../health/start-failure.js';
import { bucketKey, checkpointMoved, type AggregateCommit, type AggregateStore, type BucketKey, type BucketQuery, type BucketRecord, type SensorDelta, type SensorRow } from './aggregate-store.js';
import { createPool, float8Array, isConnectionError, notConnected, quoteIdent, redactUrl } from './postgres-connection.js';
import type { PostgresWriterSession } from './postgres-writer-session.js';
import { checkSchemaName, DEFAULT_POSTGRES_SCHEMA } from './postgres-schema-name.js';
import { BUCKET_COLUMNS, ensureSchema, POSTGRES_SCHEMA_VERSION, renameIntoPlace, schemaExists, schemaVersion } from './postgres-schema.js';

export interface PostgresAggregateStoreOptions {
  /** postgres://user:password@host:port/database */
  url: string;
  /** Schema holding the tables; created if absent. Default "tidemark". */
  schema?: string;
  /** Pool size. Default 4: one writer (the aggregator) and a few API readers. */
  maxConnections?: number;
  /** Bucket rows per statement; a larger commit runs several statements in one transaction. Default 20,000. */
  rowsPerStatement?: number;
  /** Refuse to start unless the schema is new (replay builds into a name that must not exist yet). */
  createOnly?: boolean;
  applicationName?: string;
  logger?: Logger;
  /**
   * The aggregator's store: every write (commit, bucket retention) goes through this session, which holds
   * the schema's writer lock (postgres-writer-session.ts). Without it writes use the pool (replay, tests).
   */
  writer?: PostgresWriterSession;
}

const KEYS_PER_LOAD = 10_000;
const BUCKET_ARRAY_TYPES = ['text', 'text', 'text', 'int8', 'int8', 'float8', 'float8', 'float8', 'float8', 'float8', 'int8', 'float8', 'int8', 'float8', 'int8'];

/** One column array per bucket field, in BUCKET_COLUMNS order. */
function bucketArrays(buckets: readonly BucketRecord[]): unknown[] {
  const n = buckets.length;
  const cols = BUCKET_ARRAY_TYPES.map(() => new Array<unknown>(n));
  for (let i = 0; i < n; i++) {
    const b = buckets[i]!;
    const x = b.stats;
    const row = [b.device, b.sensor, b.resolution, b.start, x.count, x.sum, x.min, x.max, x.mean, x.m2, x.firstTs, x.first, x.lastTs, x.last, b.revision];
    for (let c = 0; c < row.length; c++) cols[c]![i] = row[c];
  }
  return cols.map((col, c) => (BUCKET_ARRAY_TYPES[c] === 'float8' ? float8Array(col as number[]) : col));
}

/** Rows of (start … revision) as arrays: start, count, sum, min, max, mean, m2, first_ts, first, last_ts, last, revision. */
type StatsRow = [number, number, number, number, number, number, number, number, number, number, number, number];

function record(key: BucketKey, r: StatsRow): BucketRecord {
  return {
    ...key,
    start: r[0],
    revision: r[11],
    stats: { count: r[1], sum: r[2], min: r[3], max: r[4], mean: r[5], m2: r[6], firstTs: r[7], first: r[8], lastTs: r[9], last: r[10] },
  };
}

/** An integer bound for `start >= x` / `start < x` with the same meaning for any double x. */
function startBound(x: number): string {
  if (x === -Infinity || x < -9.2e18) return '-9223372036854775808';
  if (x === Infinity || x > 9.2e18) return '9223372036854775807';
  return String(Math.ceil(x));
}

export class PostgresAggregateStore implements AggregateStore {
  readonly name = 'aggregate-store';
  readonly schema: string;
  private pool: pg.Pool | undefined;
  /** Why the last start() failed (the server unreachable): what calls made meanwhile report. */
  private readonly lastStart = new LastStartFailure();
  private readonly q: string;
  private readonly sql;

  constructor(private readonly opts: PostgresAggregateStoreOptions) {
    this.schema = checkSchemaName(opts.schema ?? DEFAULT_POSTGRES_SCHEMA);
    this.q = quoteIdent(this.schema);
    this.sql = statements(this.q);
  }

  /** Where this store lives, for messages (no password). */
  get location(): string {
    return `${redactUrl(this.opts.url)} schema "${this.schema}"`;
  }

  start(): Promise<void> {
    return this.lastStart.track(() => this.open());
  }

  private async open(): Promise<void> {
    const pool = createPool({
      url: this.opts.url,
      max: this.opts.maxConnections ?? 4,
      applicationName: this.opts.applicationName ?? `tidemark-cloud pid ${process.pid}`,
      ...(this.opts.logger ? { logger: this.opts.logger } : {}),
    });
    let client: pg.PoolClient;
    try {
      client = await pool.connect();
    } catch (err) {
      await pool.end();
      throw notConnected(this.opts.url, err);
    }
    try {
      await ensureSchema(client, this.schema, { createOnly: this.opts.createOnly ?? false });
      client.release();
    } catch (err) {
      client.release(true);
      await pool.end();
      if (err instanceof StorageError) throw err;
      throw new StorageError(`cannot open aggregate store ${this.location}: ${(err as Error).message}`, { cause: err });
    }
    this.pool = pool;
  }

  private get p(): pg.Pool {
    if (this.pool) return this.pool;
    throw this.lastStart.notOpen(`aggregate store ${this.location}`) ?? new StorageError('aggregate store is not started');
  }

  /** Runs a write on the writer session (under the writer lock) when there is one, else on a pooled connection. */
  private write<T>(fn: (client: pg.ClientBase) => Promise<T>): Promise<T> {
    const writer = this.opts.writer;
    if (writer) {
      this.p; // not started: fail as reads do
      return writer.run(fn);
    }
    return (async () => {
      const client = await this.p.connect();
      let broken: unknown;
      try {
        return await fn(client);
      } catch (err) {
        if (isConnectionError(err)) broken = err;
        throw err;
      } finally {
        client.release(broken === undefined ? undefined : true);
      }
    })();
  }

  async checkpoint(partition = 0): Promise<number> {
    const r = await this.p.query<{ next_offset: number }>(this.sql.checkpoint, [partition]);
    return r.rows[0]?.next_offset ?? 1;
  }

  async checkpoints(): Promise<Map<number, number>> {
    const r = await this.p.query<{ partition: number; next_offset: number }>(this.sql.checkpoints);
    return new Map(r.rows.map((x) => [x.partition, x.next_offset]));
  }

  async getBuckets(keys: readonly BucketKey[]): Promise<Map<string, BucketRecord>> {
    const out = new Map<string, BucketRecord>();
    for (let i = 0; i < keys.length; i += KEYS_PER_LOAD) {
      const slice = keys.slice(i, i + KEYS_PER_LOAD);
      const r = await this.p.query<[string, string, string, ...StatsRow]>({
        text: this.sql.getBuckets,
        values: [slice.map((k) => k.device), slice.map((k) => k.sensor), slice.map((k) => k.resolution), slice.map((k) => k.start)],
        rowMode: 'array',
      });
      for (const x of r.rows) {
        const b = record({ device: x[0], sensor: x[1], resolution: x[2], start: 0 }, x.slice(3) as StatsRow);
        out.set(bucketKey(b), b);
      }
    }
    return out;
  }

  async getWatermarks(devices: readonly string[]): Promise<Map<string, number>> {
    if (devices.length === 0) return new Map();
    const r = await this.p.query<{ device: string; watermark: number }>(this.sql.getWatermarks, [devices]);
    return new Map(r.rows.map((x) => [x.device, x.watermark]));
  }

  async commit(c: AggregateCommit): Promise<void> {
    const per = this.opts.rowsPerStatement ?? 20_000;
    const buckets = lastPerKey(c.buckets);
    const sensors = mergeSensors(c.sensors);
    const head: BucketRecord[][] = [];
    for (let i = 0; i + per < buckets.length; i += per) head.push(buckets.slice(i, i + per));
    const tail = buckets.slice(head.length * per);
    const final = [
      ...bucketArrays(tail),
      [...c.watermarks.keys()],
      [...c.watermarks.values()],
      sensors.map((s) => s.device),
      sensors.map((s) => s.sensor),
      sensors.map((s) => s.firstTs),
      sensors.map((s) => s.lastTs),
      sensors.map((s) => s.readings),
      [...c.unaggregated.keys()],
      [...c.unaggregated.values()],
      c.partition ?? 0,
      c.offset,
    ];
    const partition = c.partition ?? 0;
    try {
      await this.write(async (client) => {
        // One statement is its own transaction; more (or a fenced commit) need an explicit one.
        if (head.length === 0 && c.expectedOffset === undefined) {
          await client.query(this.sql.commit, final);
          return;
        }
        try {
          await client.query('BEGIN');
          if (c.expectedOffset !== undefined) {
            // Fencing: the row is created if absent (a concurrent creator makes this wait for its commit), then
            // locked, so of two writers that read the same checkpoint only the first commits.
            await client.query(this.sql.ensureCheckpoint, [partition]);
            const at = (await client.query<{ next_offset: number }>(this.sql.lockCheckpoint, [partition])).rows[0]!.next_offset;
            if (at !== c.expectedOffset) throw checkpointMoved(this.location, partition, c.expectedOffset, at);
          }
          for (const chunk of head) await client.query(this.sql.putBuckets, bucketArrays(chunk));
          await client.query(this.sql.commit, final);
          await client.query('COMMIT');
        } catch (err) {
          // A failed ROLLBACK means the connection is gone: report that (the pool or the session drops it).
          await client.query('ROLLBACK').catch((e: unknown) => {
            throw isConnectionError(err) ? err : e;
          });
          throw err;
        }
      });
    } catch (err) {
      if (err instanceof StorageError) throw err;
      throw new StorageError(`aggregate commit to ${this.location} failed: ${(err as Error).message}`, { cause: err });
    }
  }

  async queryBuckets(q: BucketQuery): Promise<BucketRecord[]> {
    const from = q.after !== undefined ? Math.max(q.from, q.after + 1) : q.from;
    const r = await this.p.query<StatsRow>({
      text: this.sql.query,
      values: [q.device, q.sensor, q.resolution, startBound(from), startBound(q.to), Math.max(0, Math.floor(q.limit))],
      rowMode: 'array',
    });
    const key = { device: q.device, sensor: q.sensor, resolution: q.resolution, start: 0 };
    return r.rows.map((x) => record(key, x));
  }

  async watermark(device: string): Promise<number | undefined> {
    return (await this.getWatermarks([device])).get(device);
  }

  async sensors(device: string): Promise<SensorRow[]> {
    const r = await this.p.query<{ sensor: string; first_ts: number; last_ts: number; readings: number }>(this.sql.sensors, [device]);
    return r.rows.map((x) => ({
      name: x.sensor,
      first_seen: new Date(x.first_ts).toISOString(),
      last_seen: new Date(x.last_ts).toISOString(),
      readings: x.readings,
    }));
  }

  async unaggregated(): Promise<Record<string, number>> {
    const r = await this.p.query<{ reason: string; readings: number }>(this.sql.unaggregated);
    return Object.fromEntries(r.rows.map((x) => [x.reason, x.readings]));
  }

  async deleteBucketsBefore(resolution: string, startBefore: number, limit: number): Promise<number> {
    const r = await this.write((client) => client.query(this.sql.deleteBefore, [resolution, startBound(startBefore), Math.max(0, Math.floor(limit))]));
    return r.rowCount ?? 0;
  }

  // ---- replay (see replay-targets.ts) ---------------------------------------------------------------------

  /** Replay --from: copies the buckets of schema `source` that start before `boundary`; 0 if it does not exist. */
  async copyBucketsBefore(source: string, boundary: number): Promise<number> {
    return this.fromSource(source, 0, async (client) => {
      const r = await client.query(
        `INSERT INTO ${this.q}.buckets (${BUCKET_COLUMNS}) SELECT ${BUCKET_COLUMNS} FROM ${quoteIdent(source)}.buckets WHERE start < $1`,
        [startBound(boundary)],
      );
      return r.rowCount ?? 0;
    });
  }

  /** Replay --from: the checkpoints of schema `source` (per partition, the next stream offset it would read); undefined if it does not exist. */
  async checkpointsOf(source: string): Promise<Map<number, number> | undefined> {
    return this.fromSource(source, undefined, async (client) => {
      const r = await client.query<{ partition: number; next_offset: number }>(`SELECT partition, next_offset FROM ${quoteIdent(source)}.checkpoints`);
      return new Map(r.rows.map((x) => [x.partition, x.next_offset]));
    });
  }

  /** Replay --from: replaces this store's watermarks, sensor catalogue and unaggregated tally with schema `source`'s, atomically. */
  async adoptStateOf(source: string): Promise<void> {
    const from = quoteIdent(source);
    const tables = { watermarks: 'device, watermark', sensors: 'device, sensor, first_ts, last_ts, readings', unaggregated: 'reason, readings' };
    await this.fromSource(source, undefined, async (client) => {
      await client.query('BEGIN');
      try {
        for (const [t, cols] of Object.entries(tables)) {
          await client.query(`DELETE FROM ${this.q}.${t}`);
          await client.query(`INSERT INTO ${this.q}.${t} (${cols}) SELECT ${cols} FROM ${from}.${t}`);
        }
        await client.query('COMMIT');
      } catch (err) {
        await client.query('ROLLBACK').catch(() => undefined);
        throw err;
      }
    });
  }

  /** Runs `fn` on one connection if schema `source` exists (and is a store of this version); else returns `absent`. */
  private async fromSource<T>(source: string, absent: T, fn: (client: pg.PoolClient) => Promise<T>): Promise<T> {
    const client = await this.p.connect();
    try {
      if (!(await schemaExists(client, source))) return absent;
      const version = await schemaVersion(client, source);
      if (version !== POSTGRES_SCHEMA_VERSION) {
        throw new StorageError(`PostgreSQL schema "${source}" is not a Tidemark aggregate store of version ${POSTGRES_SCHEMA_VERSION} (found ${version ?? 'none'})`);
      }
      return await fn(client);
    } finally {
      client.release();
    }
  }

  /**
   * Replay's switch-over: in one transaction the schema `live` (if any) is renamed to `previous` and this
   * store's schema to `live`. Stops this store. Returns whether a live schema was kept as `previous`.
   */
  async promote(live: string, previous: string): Promise<boolean> {
    checkSchemaName(live);
    checkSchemaName(previous);
    const client = await this.p.connect();
    try {
      return await renameIntoPlace(client, this.schema, live, previous);
    } finally {
      client.release();
      await this.stop();
    }
  }

  /** Drops this store's schema with everything in it, and stops. Replay's cleanup after a failure. */
  async drop(): Promise<void> {
    if (!this.pool) return;
    try {
      await this.pool.query(`DROP SCHEMA IF EXISTS ${this.q} CASCADE`);
    } finally {
      await this.stop();
    }
  }

  async stop(): Promise<void> {
    const pool = this.pool;
    this.pool = undefined;
    await pool?.end();
  }
}

function statements(q: string) {
  const unnestBuckets = BUCKET_ARRAY_TYPES.map((t, i) => `$${i + 1}::${t}[]`).join(', ');
  const putBuckets = `INSERT INTO ${q}.buckets AS b (${BUCKET_COLUMNS}) SELECT * FROM unnest(${unnestBuckets})
    ON CONFLICT (device, sensor, resolution, start) DO UPDATE SET count = EXCLUDED.count, sum = EXCLUDED.sum, min = EXCLUDED.min,
      max = EXCLUDED.max, mean = EXCLUDED.mean, m2 = EXCLUDED.m2, first_ts = EXCLUDED.first_ts, first = EXCLUDED.first,
      last_ts = EXCLUDED.last_ts, last = EXCLUDED.last, revision = EXCLUDED.revision`;
  return {
    checkpoint: `SELECT next_offset FROM ${q}.checkpoints WHERE partition = $1::int4`,
    checkpoints: `SELECT partition, next_offset FROM ${q}.checkpoints ORDER BY partition`,
    ensureCheckpoint: `INSERT INTO ${q}.checkpoints (partition, next_offset) VALUES ($1::int4, 1) ON CONFLICT (partition) DO NOTHING`,
    lockCheckpoint: `SELECT next_offset FROM ${q}.checkpoints WHERE partition = $1::int4 FOR UPDATE`,
    // Each key a primary-key lookup; the unnest estimate (100 rows) keeps the planner on the index.
    getBuckets: `SELECT b.device, b.sensor, b.resolution, b.start, b.count, b.sum, b.min, b.max, b.mean, b.m2, b.first_ts, b.first, b.last_ts, b.last, b.revision
      FROM unnest($1::text[], $2::text[], $3::text[], $4::int8[]) AS k(device, sensor, resolution, start)
      JOIN ${q}.buckets AS b ON b.device = k.device AND b.sensor = k.sensor AND b.resolution = k.resolution AND b.start = k.start`,
    getWatermarks: `SELECT device, watermark FROM ${q}.watermarks WHERE device = ANY($1::text[])`,
    putBuckets,
    // Everything of a commit in one statement: data-modifying CTEs all run, atomically, with the UPDATE.
    commit: `WITH
      b AS (${putBuckets}),
      w AS (INSERT INTO ${q}.watermarks AS w (device, watermark) SELECT * FROM unnest($16::text[], $17::int8[])
            ON CONFLICT (device) DO UPDATE SET watermark = GREATEST(w.watermark, EXCLUDED.watermark)),
      s AS (INSERT INTO ${q}.sensors AS s (device, sensor, first_ts, last_ts, readings)
            SELECT * FROM unnest($18::text[], $19::text[], $20::int8[], $21::int8[], $22::int8[])
            ON CONFLICT (device, sensor) DO UPDATE SET first_ts = LEAST(s.first_ts, EXCLUDED.first_ts),
              last_ts = GREATEST(s.last_ts, EXCLUDED.last_ts), readings = s.readings + EXCLUDED.readings),
      u AS (INSERT INTO ${q}.unaggregated AS u (reason, readings) SELECT * FROM unnest($23::text[], $24::int8[])
            ON CONFLICT (reason) DO UPDATE SET readings = u.readings + EXCLUDED.readings)
      INSERT INTO ${q}.checkpoints (partition, next_offset) VALUES ($25::int4, $26::int8)
        ON CONFLICT (partition) DO UPDATE SET next_offset = EXCLUDED.next_offset`,
    query: `SELECT start, count, sum, min, max, mean, m2, first_ts, first, last_ts, last, revision FROM ${q}.buckets
      WHERE device = $1 AND sensor = $2 AND resolution = $3 AND start >= $4::int8 AND start < $5::int8 ORDER BY start LIMIT $6`,
    sensors: `SELECT sensor, first_ts, last_ts, readings FROM ${q}.sensors WHERE device = $1 ORDER BY sensor`,
    unaggregated: `SELECT reason, readings FROM ${q}.unaggregated ORDER BY reason`,
    // As in SQLite: the primary key leads with (device, sensor), so going through the sensor catalogue makes
    // this one index range per sensor instead of a scan of every bucket.
    deleteBefore: `DELETE FROM ${q}.buckets AS b USING (
        SELECT x.device, x.sensor, x.resolution, x.start FROM ${q}.sensors AS s
        JOIN ${q}.buckets AS x ON x.device = s.device AND x.sensor = s.sensor AND x.resolution = $1 AND x.start < $2::int8
        LIMIT $3) AS d
      WHERE b.device = d.device AND b.sensor = d.sensor AND b.resolution = d.resolution AND b.start = d.start`,
  };
}

/** ON CONFLICT cannot touch a row twice in one statement: keep the last record per key (SQLite's outcome). */
function lastPerKey(buckets: readonly BucketRecord[]): BucketRecord[] {
  const byKey = new Map<string, BucketRecord>();
  for (const b of buckets) byKey.set(bucketKey(b), b);
  return byKey.size === buckets.length ? (buckets as BucketRecord[]) : [...byKey.values()];
}

/** Merges repeated (device, sensor) deltas as the upsert would have across statements. */
function mergeSensors(deltas: readonly SensorDelta[]): SensorDelta[] {
  const byKey = new Map<string, SensorDelta>();
  for (const d of deltas) {
    const k = `${d.device}\u0000${d.sensor}`;
    const m = byKey.get(k);
    if (!m) byKey.set(k, { ...d });
    else byKey.set(k, { ...m, firstTs: Math.min(m.firstTs, d.firstTs), lastTs: Math.max(m.lastTs, d.lastTs), readings: m.readings + d.readings });
  }
  return [...byKey.values()];
}
