// The device registry in PostgreSQL, for deployments whose roles run on different hosts (aggregates in
// PostgreSQL, stream in JetStream): the collector writes, any api process reads. It lives in a schema of its
// own, `<aggregates.schema>_devices`, because replay swaps the aggregates schema wholesale and device state
// is not rebuilt from the stream. Status messages and batch counts are buffered and written once a second.
import type pg from 'pg';
import { StorageError, type Logger } from '@tidemark/shared';
import { LastStartFailure } from '../health/start-failure.js';
import { advisoryKey, createPool, notConnected, quoteIdent } from '../aggregate/postgres-connection.js';
import { parseStatus, toDevice, type DeviceRegistry, type DeviceRow, type DeviceStatusFields, type StoredDeviceRow } from './device-registry.js';

export interface PostgresDeviceRegistryOptions {
  url: string;
  /** The aggregates schema; the registry uses `<schema>_devices`. */
  schema: string;
  logger: Logger;
}


export class PostgresDeviceRegistry implements DeviceRegistry {
  readonly name = 'device-registry';
  private pool: pg.Pool | undefined;
  private seenPending = new Map<string, { lastSeenMs: number; batches: number; readings: number }>();
  private rejectedPending = new Map<string, number>();
  /** The latest status per device since the last flush (an older one would be overwritten anyway). */
  private statusPending = new Map<string, { s: DeviceStatusFields; atMs: number }>();
  private flushing: Promise<void> | undefined;
  /** Why the last start() failed (PostgreSQL unreachable): flushes meanwhile fail with it and keep what is pending. */
  private readonly lastStart = new LastStartFailure();
  private readonly q: string;

  constructor(private readonly opts: PostgresDeviceRegistryOptions) {
    this.q = quoteIdent(`${opts.schema}_devices`);
  }

  start(): Promise<void> {
    return this.lastStart.track(() => this.open());
  }

  private async open(): Promise<void> {
    const pool = createPool({ url: this.opts.url, max: 2, applicationName: `tidemark-cloud devices pid ${process.pid}`, logger: this.opts.logger });
    try {
      const client = await pool.connect().catch((err: unknown) => {
        throw notConnected(this.opts.url, err);
      });
      try {
        await client.query('BEGIN');
        // Roles starting at once must not race on CREATE ... IF NOT EXISTS (it is not atomic in PostgreSQL).
        await client.query('SELECT pg_advisory_xact_lock($1::int8)', [advisoryKey('devices', this.opts.schema)]);
        await client.query(`CREATE SCHEMA IF NOT EXISTS ${this.q}`);
        await client.query(`CREATE TABLE IF NOT EXISTS ${this.q}.devices (
          id                   text COLLATE "C" PRIMARY KEY,
          online               boolean NOT NULL DEFAULT false,
          last_seen_ms         bigint,
          backlog_readings     bigint,
          oldest_buffered_time text,
          clock_synced         boolean,
          agent_version        text,
          batches              bigint NOT NULL DEFAULT 0,
          readings             bigint NOT NULL DEFAULT 0)`);
        // Columns added after the first release.
        await client.query(`ALTER TABLE ${this.q}.devices ADD COLUMN IF NOT EXISTS dropped_readings bigint`);
        await client.query(`ALTER TABLE ${this.q}.devices ADD COLUMN IF NOT EXISTS rejected_batches bigint NOT NULL DEFAULT 0`);
        await client.query('COMMIT');
        client.release();
      } catch (err) {
        await client.query('ROLLBACK').catch(() => undefined);
        client.release(true);
        throw new StorageError(`cannot open the device registry in PostgreSQL schema ${this.q}: ${(err as Error).message}`, { cause: err });
      }
    } catch (err) {
      await pool.end();
      throw err;
    }
    this.pool = pool;
  }

  seen(device: string, atMs: number, readings: number): void {
    const p = this.seenPending.get(device) ?? { lastSeenMs: 0, batches: 0, readings: 0 };
    p.lastSeenMs = Math.max(p.lastSeenMs, atMs);
    p.batches += 1;
    p.readings += readings;
    this.seenPending.set(device, p);
  }

  rejected(device: string): void {
    this.rejectedPending.set(device, (this.rejectedPending.get(device) ?? 0) + 1);
  }

  status(device: string, payload: Uint8Array, atMs: number): void {
    const s = parseStatus(payload);
    if ('error' in s) {
      this.opts.logger.warn({ device, err: s.error }, 'malformed status message ignored');
      return;
    }
    this.statusPending.set(device, { s, atMs });
  }

  /** Writes what is pending in one transaction; a failure keeps it pending for the next flush. */
  flush(): Promise<void> {
    this.flushing ??= this.write().finally(() => {
      this.flushing = undefined;
    });
    return this.flushing;
  }

  private async write(): Promise<void> {
    const pool = this.pool;
    if (!pool) return this.notOpen(undefined);
    if (this.seenPending.size === 0 && this.statusPending.size === 0 && this.rejectedPending.size === 0) return;
    const seen = this.seenPending;
    const statuses = this.statusPending;
    const rejected = this.rejectedPending;
    this.seenPending = new Map();
    this.statusPending = new Map();
    this.rejectedPending = new Map();
    const q = this.q;
    try {
      // Two statements (the same row may be in both; one statement cannot upsert a row twice). The status
      // upsert is idempotent, so if the counts then fail, putting both back and retrying is safe.
      if (statuses.size > 0) {
        const st = [...statuses.values()];
        await pool.query(
          `INSERT INTO ${q}.devices AS d (id, online, last_seen_ms, backlog_readings, oldest_buffered_time, clock_synced, agent_version, dropped_readings)
           SELECT * FROM unnest($1::text[], $2::bool[], $3::int8[], $4::int8[], $5::text[], $6::bool[], $7::text[], $8::int8[])
           ON CONFLICT (id) DO UPDATE SET online = EXCLUDED.online,
             last_seen_ms = CASE WHEN EXCLUDED.online THEN GREATEST(coalesce(d.last_seen_ms, 0), EXCLUDED.last_seen_ms) ELSE d.last_seen_ms END,
             backlog_readings = EXCLUDED.backlog_readings, oldest_buffered_time = EXCLUDED.oldest_buffered_time,
             clock_synced = EXCLUDED.clock_synced, agent_version = coalesce(EXCLUDED.agent_version, d.agent_version),
             dropped_readings = coalesce(EXCLUDED.dropped_readings, d.dropped_readings)`,
          [
            [...statuses.keys()],
            st.map((x) => x.s.online),
            st.map((x) => x.atMs),
            st.map((x) => x.s.backlogReadings),
            st.map((x) => x.s.oldestBufferedTime),
            st.map((x) => x.s.clockSynced),
            st.map((x) => x.s.agentVersion),
            st.map((x) => x.s.droppedReadings),
          ],
        );
      }
      if (seen.size > 0) {
        const sn = [...seen.values()];
        await pool.query(
          `INSERT INTO ${q}.devices AS d (id, last_seen_ms, batches, readings)
           SELECT * FROM unnest($1::text[], $2::int8[], $3::int8[], $4::int8[])
           ON CONFLICT (id) DO UPDATE SET last_seen_ms = GREATEST(coalesce(d.last_seen_ms, 0), EXCLUDED.last_seen_ms),
             batches = d.batches + EXCLUDED.batches, readings = d.readings + EXCLUDED.readings`,
          [[...seen.keys()], sn.map((x) => x.lastSeenMs), sn.map((x) => x.batches), sn.map((x) => x.readings)],
        );
        seen.clear(); // written: not to be put back below
      }
      if (rejected.size > 0) {
        await pool.query(
          `INSERT INTO ${q}.devices AS d (id, rejected_batches)
           SELECT * FROM unnest($1::text[], $2::int8[])
           ON CONFLICT (id) DO UPDATE SET rejected_batches = d.rejected_batches + EXCLUDED.rejected_batches`,
          [[...rejected.keys()], [...rejected.values()]],
        );
        rejected.clear();
      }
    } catch (err) {
      // Put back what was not written (newer statuses that arrived meanwhile win; counts add up).
      for (const [id, x] of statuses) if (!this.statusPending.has(id)) this.statusPending.set(id, x);
      for (const [id, k] of rejected) this.rejectedPending.set(id, (this.rejectedPending.get(id) ?? 0) + k);
      for (const [id, x] of seen) {
        const p = this.seenPending.get(id);
        this.seenPending.set(id, p ? { lastSeenMs: Math.max(p.lastSeenMs, x.lastSeenMs), batches: p.batches + x.batches, readings: p.readings + x.readings } : x);
      }
      // The collector's flush timer reports it (resource health: one log line per state change).
      throw new StorageError(`device registry write failed: ${(err as Error).message}`, { cause: err });
    }
  }

  async list(): Promise<DeviceRow[]> {
    if (!this.pool) return this.notOpen([]);
    // Serve what is stored; pending writes stay for the flush timer, which reports the failure.
    await this.flush().catch(() => undefined);
    return (await this.pool.query<StoredDeviceRow>(`SELECT * FROM ${this.q}.devices ORDER BY id`)).rows.map(toDevice);
  }

  async get(id: string): Promise<DeviceRow | undefined> {
    if (!this.pool) return this.notOpen(undefined);
    const row = (await this.pool.query<StoredDeviceRow>(`SELECT * FROM ${this.q}.devices WHERE id = $1`, [id])).rows[0];
    return row ? toDevice(row) : undefined;
  }

  /** Not started: `empty`; not open because PostgreSQL was unreachable at start: NotConnectedError (the API's 503). */
  private notOpen<T>(empty: T): T {
    const err = this.lastStart.notOpen('the device registry');
    if (err) throw err;
    return empty;
  }

  async stop(): Promise<void> {
    await this.flush();
    const pool = this.pool;
    this.pool = undefined;
    await pool?.end();
  }
}
