// What the collector knows about each device: online state and backlog from the retained status topic
// (and the will), last seen from accepted batches. Stored (SQLite in data_dir, or PostgreSQL beside the
// aggregates) so the API role — another process, maybe another host — and a restarted collector see it.
// Writes from batches are coalesced: at most one per device per flush.
// A write that fails (disk full, read-only filesystem, database down) loses nothing and throws nothing at
// its caller's event handler: what was not written stays pending, and flush() — which does throw, so the
// collector's flush timer can report the registry's health — writes it once the resource is back.
import Database from 'better-sqlite3';
import { StorageError, type Component, type Logger } from '@tidemark/shared';

function storageError(what: string, err: unknown): StorageError {
  return new StorageError(`${what}: ${(err as Error).message}`, { cause: err });
}

/** The collector writes (seen, status; flushed every second), the API reads (list, get). */
export interface DeviceRegistry extends Component {
  /** Records an accepted batch (coalesced until flush()). */
  seen(device: string, atMs: number, readings: number): void;
  /** Records a batch from the device that was refused (rejected or undecodable; coalesced until flush()). */
  rejected(device: string): void;
  /** Applies a status message (JSON per SPEC.md). A malformed one is logged and ignored. Never throws. */
  status(device: string, payload: Uint8Array, atMs: number): void;
  /** Writes what is pending; rejects when the store refuses (and keeps it pending for the next call). */
  flush(): Promise<void>;
  list(): Promise<DeviceRow[]>;
  get(id: string): Promise<DeviceRow | undefined>;
}

/** A status message's fields, validated. */
export interface DeviceStatusFields {
  online: boolean;
  backlogReadings: number | null;
  oldestBufferedTime: string | null;
  clockSynced: boolean | null;
  agentVersion: string | null;
  /** Readings the gateway dropped (buffer full or too old), when its status reports them. */
  droppedReadings: number | null;
}

export function parseStatus(payload: Uint8Array): DeviceStatusFields | { error: string } {
  let s: Record<string, unknown>;
  try {
    s = JSON.parse(Buffer.from(payload).toString('utf8')) as Record<string, unknown>;
    if (typeof s !== 'object' || s === null || Array.isArray(s)) throw new Error('not an object');
  } catch (err) {
    return { error: (err as Error).message };
  }
  const num = (v: unknown) => (typeof v === 'number' && Number.isFinite(v) ? v : null);
  const bool = (v: unknown) => (typeof v === 'boolean' ? v : null);
  const str = (v: unknown) => (typeof v === 'string' ? v.slice(0, 200) : null);
  return {
    online: s.online === true,
    backlogReadings: num(s.backlog_readings),
    oldestBufferedTime: str(s.oldest_buffered_time),
    clockSynced: bool(s.clock_synced),
    agentVersion: str(s.agent_version),
    droppedReadings: num(s.dropped_readings),
  };
}

export interface DeviceRow {
  id: string;
  online: boolean;
  last_seen: string | null;
  backlog_readings: number | null;
  oldest_buffered_time: string | null;
  clock_synced: boolean | null;
  agent_version: string | null;
  batches: number;
  readings: number;
  /** From the status message's optional `dropped_readings`; null when the gateway does not report it. */
  dropped_readings: number | null;
  /** Batches from this device the collector refused (rejected or undecodable). */
  rejected_batches: number;
}

const SCHEMA = `
CREATE TABLE IF NOT EXISTS devices (
  id                   TEXT PRIMARY KEY,
  online               INTEGER NOT NULL DEFAULT 0,
  last_seen_ms         INTEGER,
  backlog_readings     INTEGER,
  oldest_buffered_time TEXT,
  clock_synced         INTEGER,
  agent_version        TEXT,
  batches              INTEGER NOT NULL DEFAULT 0,
  readings             INTEGER NOT NULL DEFAULT 0,
  dropped_readings     INTEGER,
  rejected_batches     INTEGER NOT NULL DEFAULT 0
) STRICT;
`;

/** Columns added after the first release: a devices.db made before them gets them on open. */
const ADDED_COLUMNS: [name: string, definition: string][] = [
  ['dropped_readings', 'INTEGER'],
  ['rejected_batches', 'INTEGER NOT NULL DEFAULT 0'],
];

/** A devices row as either backend returns it (SQLite booleans are 0/1). */
export interface StoredDeviceRow {
  id: string;
  online: number | boolean;
  last_seen_ms: number | null;
  backlog_readings: number | null;
  oldest_buffered_time: string | null;
  clock_synced: number | boolean | null;
  agent_version: string | null;
  batches: number;
  readings: number;
  dropped_readings?: number | null;
  rejected_batches?: number | string | null;
}

export class SqliteDeviceRegistry implements DeviceRegistry {
  readonly name = 'device-registry';
  private db: Database.Database | undefined;
  private pending = new Map<string, { lastSeenMs: number; batches: number; readings: number }>();
  private rejectedPending = new Map<string, number>();
  /** Status messages whose write failed, the latest per device, written by the next flush. */
  private statusPending = new Map<string, { payload: Uint8Array; atMs: number }>();

  constructor(
    private readonly path: string,
    private readonly logger: Logger,
  ) {}

  async start(): Promise<void> {
    const db = new Database(this.path);
    db.pragma('journal_mode = WAL');
    db.pragma('busy_timeout = 5000');
    db.exec(SCHEMA);
    const have = new Set((db.prepare('PRAGMA table_info(devices)').all() as { name: string }[]).map((c) => c.name));
    for (const [name, definition] of ADDED_COLUMNS) {
      if (have.has(name)) continue;
      try {
        db.exec(`ALTER TABLE devices ADD COLUMN ${name} ${definition}`);
      } catch (err) {
        // Another role opening the same file at the same moment added it first.
        if (!/duplicate column/i.test((err as Error).message)) throw err;
      }
    }
    this.db = db;
  }

  /** Records an accepted batch (coalesced until flush()). */
  seen(device: string, atMs: number, readings: number): void {
    const p = this.pending.get(device) ?? { lastSeenMs: 0, batches: 0, readings: 0 };
    p.lastSeenMs = Math.max(p.lastSeenMs, atMs);
    p.batches += 1;
    p.readings += readings;
    this.pending.set(device, p);
  }

  rejected(device: string): void {
    this.rejectedPending.set(device, (this.rejectedPending.get(device) ?? 0) + 1);
  }

  async flush(): Promise<void> {
    this.flushNow();
  }

  private flushNow(): void {
    const db = this.db;
    if (!db) return;
    if (this.statusPending.size > 0) {
      const statuses = this.statusPending;
      this.statusPending = new Map();
      try {
        // The status upsert is idempotent: written again after a partial failure, the row ends the same.
        db.transaction(() => {
          for (const [device, x] of statuses) this.writeStatus(db, device, x.payload, x.atMs);
        })();
      } catch (err) {
        for (const [id, x] of statuses) if (!this.statusPending.has(id)) this.statusPending.set(id, x);
        throw storageError('device registry status write failed', err);
      }
    }
    if (this.pending.size === 0 && this.rejectedPending.size === 0) return;
    const pending = this.pending;
    const rejected = this.rejectedPending;
    this.pending = new Map();
    this.rejectedPending = new Map();
    try {
      const reject = db.prepare(`INSERT INTO devices(id, rejected_batches) VALUES (?, ?)
        ON CONFLICT(id) DO UPDATE SET rejected_batches = rejected_batches + excluded.rejected_batches`);
      const stmt = db.prepare(`INSERT INTO devices(id, last_seen_ms, batches, readings) VALUES (?, ?, ?, ?)
        ON CONFLICT(id) DO UPDATE SET last_seen_ms = max(coalesce(last_seen_ms, 0), excluded.last_seen_ms),
          batches = batches + excluded.batches, readings = readings + excluded.readings`);
      db.transaction(() => {
        for (const [id, p] of pending) stmt.run(id, p.lastSeenMs, p.batches, p.readings);
        for (const [id, n] of rejected) reject.run(id, n);
      })();
    } catch (err) {
      // The transaction rolled back: put the counts back (adding to what arrived meanwhile) for the next flush.
      for (const [id, x] of pending) {
        const p = this.pending.get(id);
        this.pending.set(id, p ? { lastSeenMs: Math.max(p.lastSeenMs, x.lastSeenMs), batches: p.batches + x.batches, readings: p.readings + x.readings } : x);
      }
      for (const [id, n] of rejected) this.rejectedPending.set(id, (this.rejectedPending.get(id) ?? 0) + n);
      throw storageError('device registry write failed', err);
    }
  }

  status(device: string, payload: Uint8Array, atMs: number): void {
    const db = this.db;
    if (!db) return;
    if (this.statusPending.size > 0) {
      // Writes are failing: keep order per device by queueing behind the pending ones.
      this.statusPending.set(device, { payload, atMs });
      return;
    }
    try {
      this.writeStatus(db, device, payload, atMs);
    } catch {
      // Kept for the next flush, which reports the failure (the registry flush timer; one log line per state).
      this.statusPending.set(device, { payload, atMs });
    }
  }

  private writeStatus(db: Database.Database, device: string, payload: Uint8Array, atMs: number): void {
    const s = parseStatus(payload);
    if ('error' in s) {
      this.logger.warn({ device, err: s.error }, 'malformed status message ignored');
      return;
    }
    const bit = (b: boolean | null) => (b === null ? null : b ? 1 : 0);
    db.prepare(
      `INSERT INTO devices(id, online, last_seen_ms, backlog_readings, oldest_buffered_time, clock_synced, agent_version, dropped_readings)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?)
       ON CONFLICT(id) DO UPDATE SET online = excluded.online,
         last_seen_ms = CASE WHEN excluded.online = 1 THEN max(coalesce(last_seen_ms, 0), excluded.last_seen_ms) ELSE last_seen_ms END,
         backlog_readings = excluded.backlog_readings, oldest_buffered_time = excluded.oldest_buffered_time,
         clock_synced = excluded.clock_synced, agent_version = coalesce(excluded.agent_version, agent_version),
         dropped_readings = coalesce(excluded.dropped_readings, dropped_readings)`,
    ).run(device, s.online ? 1 : 0, atMs, s.backlogReadings, s.oldestBufferedTime, bit(s.clockSynced), s.agentVersion, s.droppedReadings);
  }

  async list(): Promise<DeviceRow[]> {
    const db = this.db;
    if (!db) return [];
    try {
      this.flushNow();
    } catch {
      // Serve what is stored; the pending writes stay for the flush timer, which reports the failure.
    }
    return (db.prepare('SELECT * FROM devices ORDER BY id').all() as StoredDeviceRow[]).map(toDevice);
  }

  async get(id: string): Promise<DeviceRow | undefined> {
    this.flushNow();
    const row = this.db?.prepare('SELECT * FROM devices WHERE id = ?').get(id) as StoredDeviceRow | undefined;
    return row ? toDevice(row) : undefined;
  }

  async stop(): Promise<void> {
    try {
      this.flushNow();
    } finally {
      this.db?.close();
      this.db = undefined;
    }
  }
}

export function toDevice(r: StoredDeviceRow): DeviceRow {
  return {
    id: r.id,
    online: r.online === true || r.online === 1,
    last_seen: r.last_seen_ms === null ? null : new Date(r.last_seen_ms).toISOString(),
    backlog_readings: r.backlog_readings,
    oldest_buffered_time: r.oldest_buffered_time,
    clock_synced: r.clock_synced === null ? null : r.clock_synced === true || r.clock_synced === 1,
    agent_version: r.agent_version,
    batches: r.batches,
    readings: r.readings,
    dropped_readings: r.dropped_readings ?? null,
    rejected_batches: Number(r.rejected_batches ?? 0),
  };
}
