// The PostgreSQL reference for the aggregation benchmark: the raw readings of the stream store loaded into an
// UNLOGGED table in a schema unique to the run (dropped afterwards), and the same buckets computed by
// `GROUP BY date_bin(...)` from those raw rows on every query. Used both as a latency comparison and as an
// independent check of Tidemark's answer, bucket by bucket.
import pg from 'pg';
import { decodeBatch } from '../../../proto/src/index.js';
import type { StreamStore } from '../../../cloud/src/store/stream-store.js';

export interface RefBucket {
  device: string;
  sensor: string;
  start: number;
  count: number;
  sum: number;
  min: number;
  max: number;
  avg: number;
  stddev: number;
  first: number;
  last: number;
}

const INTERVAL: Record<string, string> = { '1m': '1 minute', '1h': '1 hour', '1d': '1 day' };
export const WORK_MEM = '64MB';

export class PgReference {
  readonly schema = `tidemark_bench_agg_${process.pid}_${Date.now().toString(36)}`;
  private created = false;

  private constructor(readonly client: pg.Client) {}

  static async connect(url: string): Promise<PgReference> {
    const client = new pg.Client({ connectionString: url });
    await client.connect();
    await client.query(`SET work_mem = '${WORK_MEM}'`);
    return new PgReference(client);
  }

  private get table(): string {
    return `"${this.schema}".readings`;
  }

  async serverVersion(): Promise<string> {
    const r = await this.client.query<{ v: string }>("SELECT current_setting('server_version') AS v");
    return r.rows[0]!.v;
  }

  /** Loads every reading of the stream in chunks of `chunk` rows (multi-row INSERT … SELECT FROM unnest). */
  async load(stream: StreamStore, chunk = 50_000): Promise<{ rows: number; loadS: number; indexS: number }> {
    await this.client.query(`CREATE SCHEMA "${this.schema}"`);
    this.created = true;
    // UNLOGGED only speeds up the load (no WAL); queries read the same heap and index either way.
    await this.client.query(`CREATE UNLOGGED TABLE ${this.table} (device text NOT NULL, sensor text NOT NULL, ts timestamptz NOT NULL, value float8 NOT NULL)`);
    const insert = `INSERT INTO ${this.table} (device, sensor, ts, value)
      SELECT d, s, timestamptz 'epoch' + t * interval '1 millisecond', v FROM unnest($1::text[], $2::text[], $3::int8[], $4::float8[]) AS u(d, s, t, v)`;
    const t0 = performance.now();
    let devices: string[] = [];
    let sensors: string[] = [];
    let times: number[] = [];
    let values: number[] = [];
    let rows = 0;
    const flush = async () => {
      if (devices.length === 0) return;
      await this.client.query(insert, [devices, sensors, times, values]);
      rows += devices.length;
      devices = [];
      sensors = [];
      times = [];
      values = [];
    };
    const end = await stream.endOffset();
    for (let offset = 1; offset < end; ) {
      const records = await stream.read(offset, 500);
      if (records.length === 0) break;
      for (const rec of records) {
        const batch = decodeBatch(rec.payload, { validate: false });
        for (const r of batch.readings) {
          devices.push(batch.deviceId);
          sensors.push(r.sensor);
          times.push(r.ts);
          values.push(r.value);
        }
        if (devices.length >= chunk) await flush();
      }
      offset = records[records.length - 1]!.offset + 1;
    }
    await flush();
    const loadS = (performance.now() - t0) / 1000;
    const t1 = performance.now();
    // PostgreSQL's best case for this query: a covering index (index-only scan once VACUUM has set the
    // visibility map) — without it the heap fetches of rows scattered by arrival order cost ~2× — and a
    // work_mem large enough to sort a day's rows in memory.
    await this.client.query(`CREATE INDEX ON ${this.table} (device, sensor, ts) INCLUDE (value)`);
    await this.client.query(`VACUUM (ANALYZE) ${this.table}`);
    return { rows, loadS, indexS: (performance.now() - t1) / 1000 };
  }

  /**
   * The buckets of one resolution, from the raw rows, optionally for one device/sensor and time range.
   * first/last follow Tidemark's tie-break (equal times: smaller value first, larger value last).
   */
  private sql(resolution: string, filtered: boolean, firstLast = true): string {
    const bin = `date_bin('${INTERVAL[resolution]}', ts, timestamptz 'epoch')`;
    const fl = firstLast ? '(array_agg(value ORDER BY ts, value))[1] AS first, (array_agg(value ORDER BY ts DESC, value DESC))[1] AS last' : 'NULL AS first, NULL AS last';
    return `SELECT device, sensor, ${bin} AS start, count(*) AS count, sum(value) AS sum, min(value) AS min, max(value) AS max,
        avg(value) AS avg, stddev_pop(value) AS stddev, ${fl}
      FROM ${this.table}
      ${filtered ? 'WHERE device = $1 AND sensor = $2 AND ts >= $3 AND ts < $4' : ''}
      GROUP BY device, sensor, ${bin} ORDER BY device, sensor, start`;
  }

  /** One timed query of one device/sensor's buckets in [from, to): a named (prepared) statement, as ours is. */
  async range(resolution: string, device: string, sensor: string, from: number, to: number, firstLast = true): Promise<RefBucket[]> {
    const r = await this.client.query({
      name: `range_${resolution}_${firstLast}`,
      text: this.sql(resolution, true, firstLast),
      values: [device, sensor, new Date(from).toISOString(), new Date(to).toISOString()],
    });
    return r.rows.map(toRef);
  }

  async all(resolution: string): Promise<RefBucket[]> {
    return (await this.client.query(this.sql(resolution, false))).rows.map(toRef);
  }

  async explain(resolution: string, device: string, sensor: string, from: number, to: number): Promise<string> {
    const r = await this.client.query<{ 'QUERY PLAN': string }>(`EXPLAIN ${this.sql(resolution, true)}`, [
      device,
      sensor,
      new Date(from).toISOString(),
      new Date(to).toISOString(),
    ]);
    return r.rows.map((x) => x['QUERY PLAN']).join('\n');
  }

  async close(): Promise<void> {
    try {
      if (this.created) await this.client.query(`DROP SCHEMA "${this.schema}" CASCADE`);
    } finally {
      await this.client.end();
    }
  }
}

function toRef(row: Record<string, unknown>): RefBucket {
  return {
    device: row.device as string,
    sensor: row.sensor as string,
    start: (row.start as Date).getTime(),
    count: Number(row.count),
    sum: row.sum as number,
    min: row.min as number,
    max: row.max as number,
    avg: row.avg as number,
    stddev: row.stddev as number,
    first: row.first as number,
    last: row.last as number,
  };
}

/** Floats equal within 1e-9 relative (an absolute 1e-12 floor for values at zero, e.g. a constant bucket's stddev). */
export function close(a: number, b: number): boolean {
  if (a === b) return true;
  const diff = Math.abs(a - b);
  return diff <= 1e-9 * Math.max(Math.abs(a), Math.abs(b)) || diff <= 1e-12;
}

export interface Comparison {
  buckets: number;
  mismatches: number;
  /** The first few differences, for the report. */
  examples: string[];
  maxRelDiff: number;
}

/** Bucket-by-bucket comparison: same bucket set, exact counts/min/max/first/last, floats within 1e-9 relative. */
export function compare(ours: readonly RefBucket[], theirs: readonly RefBucket[]): Comparison {
  const key = (b: RefBucket) => `${b.device}\u0000${b.sensor}\u0000${b.start}`;
  const ref = new Map(theirs.map((b) => [key(b), b]));
  const out: Comparison = { buckets: ours.length, mismatches: 0, examples: [], maxRelDiff: 0 };
  const miss = (why: string) => {
    out.mismatches += 1;
    if (out.examples.length < 5) out.examples.push(why);
  };
  for (const b of ours) {
    const r = ref.get(key(b));
    ref.delete(key(b));
    const where = `${b.device}/${b.sensor}@${new Date(b.start).toISOString()}`;
    if (!r) {
      miss(`${where}: not in PostgreSQL's answer`);
      continue;
    }
    const exact = (['count', 'min', 'max', 'first', 'last'] as const).filter((f) => b[f] !== r[f]);
    const approx = (['sum', 'avg', 'stddev'] as const).filter((f) => !close(b[f], r[f]));
    for (const f of ['sum', 'avg', 'stddev'] as const) {
      const m = Math.max(Math.abs(b[f]), Math.abs(r[f]));
      if (m > 0) out.maxRelDiff = Math.max(out.maxRelDiff, Math.abs(b[f] - r[f]) / m);
    }
    if (exact.length + approx.length > 0) {
      miss(`${where}: ${[...exact, ...approx].map((f) => `${f} ${b[f]} vs ${r[f]}`).join(', ')}`);
    }
  }
  for (const r of ref.values()) miss(`${r.device}/${r.sensor}@${new Date(r.start).toISOString()}: only in PostgreSQL's answer`);
  return out;
}
