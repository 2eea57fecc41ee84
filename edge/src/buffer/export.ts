// Read-only access to an edge buffer file for tools that run beside (or instead of) the agent: `buffer
// export` rescues every buffered reading as JSON Lines, `doctor` reads the buffer's summary. Never writes:
// the file is opened read-only (safe next to a running agent in WAL mode), and each view is read inside one
// read transaction, so a concurrent seal (pending readings moving into a batch) is seen entirely before
// or entirely after — no reading is exported twice or missed. Reads every schema version the agent can
// migrate (a buffer left by an older agent can be rescued without starting the new one).
import { existsSync, statSync } from 'node:fs';
import type { Writable } from 'node:stream';
import Database from 'better-sqlite3';
import { decodeBatch, streamIdToHex } from '@tidemark/proto';
import { StorageError } from '@tidemark/shared';
import { decodeChunk } from './chunk-codec.js';
import { BUFFER_SCHEMA_VERSION } from './schema.js';

export interface BufferSummary {
  path: string;
  /** Owner recorded in the file; null for a buffer that never got its identity. */
  deviceId: string | null;
  streamId: string | null;
  nextSeq: number | null;
  pendingReadings: number;
  sealedBatches: number;
  sealedReadings: number;
  bufferedReadings: number;
  oldestTs: number | null;
  newestTs: number | null;
  /** Database file plus its write-ahead log. */
  fileBytes: number;
  drops: Record<string, number>;
}

/** One line of `buffer export`. `seq` is the unacked batch holding the reading; null while not yet sealed. */
export interface ExportedReading {
  sensor: string;
  /** ISO 8601 UTC; null when ts_ms is outside what a Date can show. */
  ts: string | null;
  ts_ms: number;
  value: number;
  synced: boolean;
  seq: number | null;
}

export interface ExportOptions {
  /** Refuse a buffer that belongs to another device (as the agent does). */
  deviceId?: string;
}

export interface ExportResult {
  deviceId: string | null;
  streamId: string | null;
  readings: number;
  batches: number;
  pendingReadings: number;
  /** Sealed batches whose bytes did not decode; their readings are not in the output. */
  undecodable: { seq: number; error: string }[];
}

interface BatchRow {
  seq: number;
  payload: Buffer;
  synced: number;
}

interface ReadingRow {
  sensor: string;
  ts: number;
  value: number;
  synced: number;
}

/** Schema 1 stored a row per pending reading; schema 2 a chunk per group commit. */
const PENDING_SPAN = {
  1: 'SELECT count(*) AS n, min(ts) AS oldest, max(ts) AS newest FROM readings',
  2: 'SELECT coalesce(sum(readings), 0) AS n, min(first_ts) AS oldest, max(last_ts) AS newest FROM chunks',
} as const;

const BUSY_TIMEOUT_MS = 5000;
/** Lines are written in chunks of about this size (one write per reading would be slow). */
const CHUNK_CHARS = 64 * 1024;

export class BufferReader {
  private constructor(
    readonly path: string,
    private readonly db: Database.Database,
    private readonly version: 1 | 2,
  ) {}

  /** Opens `path` read-only. Throws StorageError when it is missing or not a Tidemark buffer. */
  static open(path: string): BufferReader {
    if (!existsSync(path)) throw new StorageError(`no buffer at ${path} (the agent has not run with this data_dir)`);
    let db: Database.Database;
    try {
      db = new Database(path, { readonly: true, fileMustExist: true });
      db.pragma(`busy_timeout = ${BUSY_TIMEOUT_MS}`);
    } catch (err) {
      throw new StorageError(`cannot open buffer ${path} read-only: ${(err as Error).message}`, { cause: err });
    }
    try {
      const version = db.pragma('user_version', { simple: true }) as number;
      if (version !== BUFFER_SCHEMA_VERSION && version !== 1) {
        throw new StorageError(
          version === 0
            ? `${path} is not a Tidemark buffer (no schema)`
            : `${path}: buffer schema version ${version} is not supported (expected ${BUFFER_SCHEMA_VERSION})`,
        );
      }
      return new BufferReader(path, db, version as 1 | 2);
    } catch (err) {
      db.close();
      if (err instanceof StorageError) throw err;
      throw new StorageError(`cannot read buffer ${path}: ${(err as Error).message}`, { cause: err });
    }
  }

  private meta(key: string): Buffer | string | number | undefined {
    return this.db.prepare<[string], { value: Buffer | string | number }>('SELECT value FROM meta WHERE key = ?').get(key)?.value;
  }

  private identity(): { deviceId: string | null; streamId: string | null; nextSeq: number | null } {
    const device = this.meta('device_id');
    const stream = this.meta('stream_id');
    const next = this.meta('next_seq');
    return {
      deviceId: device === undefined ? null : String(device),
      streamId: stream instanceof Buffer && stream.length === 16 ? streamIdToHex(new Uint8Array(stream)) : null,
      nextSeq: next === undefined ? null : Number(next),
    };
  }

  /** Throws StorageError when the buffer was made for another device. */
  checkOwner(deviceId: string): void {
    const owner = this.meta('device_id');
    if (owner !== undefined && String(owner) !== deviceId) {
      throw new StorageError(`buffer ${this.path} belongs to device "${String(owner)}" but the config says device.id "${deviceId}"`);
    }
  }

  /** Counts and times, read in one snapshot. */
  summary(): BufferSummary {
    return this.db.transaction((): BufferSummary => {
      const b = this.db
        .prepare<[], { n: number; readings: number | null; oldest: number | null; newest: number | null }>(
          'SELECT count(*) AS n, sum(readings) AS readings, min(first_ts) AS oldest, max(last_ts) AS newest FROM batches',
        )
        .get()!;
      const p = this.db
        .prepare<[], { n: number; oldest: number | null; newest: number | null }>(PENDING_SPAN[this.version])
        .get()!;
      const drops: Record<string, number> = {};
      for (const d of this.db.prepare<[], { reason: string; readings: number }>('SELECT reason, readings FROM drops').all()) drops[d.reason] = d.readings;
      const oldest = [b.oldest, p.oldest].filter((x): x is number => x !== null);
      const newest = [b.newest, p.newest].filter((x): x is number => x !== null);
      const sealedReadings = b.readings ?? 0;
      return {
        path: this.path,
        ...this.identity(),
        pendingReadings: p.n,
        sealedBatches: b.n,
        sealedReadings,
        bufferedReadings: sealedReadings + p.n,
        oldestTs: oldest.length ? Math.min(...oldest) : null,
        newestTs: newest.length ? Math.max(...newest) : null,
        fileBytes: fileSize(this.path) + fileSize(`${this.path}-wal`),
        drops,
      };
    })();
  }

  /**
   * Writes every buffered reading to `out` as JSON Lines: readings of unacked sealed batches first (by seq,
   * decoded from the stored bytes), then committed readings not yet sealed (in arrival order).
   */
  async exportTo(out: Writable, opts: ExportOptions = {}): Promise<ExportResult> {
    if (opts.deviceId !== undefined) this.checkOwner(opts.deviceId);
    const writer = new ChunkedWriter(out);
    const result: ExportResult = { deviceId: null, streamId: null, readings: 0, batches: 0, pendingReadings: 0, undecodable: [] };
    this.db.exec('BEGIN');
    try {
      const { deviceId, streamId } = this.identity();
      result.deviceId = deviceId;
      result.streamId = streamId;
      const batches = this.db.prepare<[], BatchRow>('SELECT seq, payload, synced FROM batches ORDER BY seq');
      for (const row of batches.iterate()) {
        let readings;
        try {
          readings = decodeBatch(new Uint8Array(row.payload), { validate: false }).readings;
        } catch (err) {
          result.undecodable.push({ seq: row.seq, error: (err as Error).message });
          continue;
        }
        result.batches++;
        for (const r of readings) {
          await writer.write(line(r.sensor, r.ts, r.value, row.synced === 1, row.seq));
          result.readings++;
        }
      }
      for (const r of this.pendingReadings()) {
        await writer.write(line(r.sensor, r.ts, r.value, r.synced === 1, null));
        result.readings++;
        result.pendingReadings++;
      }
      await writer.flush();
    } finally {
      if (this.db.inTransaction) this.db.exec('COMMIT');
      writer.detach();
    }
    return result;
  }

  /** Committed, unsealed readings in arrival order (inside the caller's read transaction). */
  private *pendingReadings(): Generator<ReadingRow> {
    if (this.version === 1) {
      yield* this.db.prepare<[], ReadingRow>('SELECT sensor, ts, value, synced FROM readings ORDER BY id').iterate();
      return;
    }
    for (const c of this.db.prepare<[], { synced: number; data: Buffer }>('SELECT synced, data FROM chunks ORDER BY id').iterate()) {
      for (const r of decodeChunk(c.data, c.synced === 1)) yield { sensor: r.sensor, ts: r.ts, value: r.value, synced: r.synced ? 1 : 0 };
    }
  }

  close(): void {
    if (this.db.open) this.db.close();
  }
}

/**
 * Exports a buffer file (or an open reader) as JSON Lines to `out`; see BufferReader.exportTo. A path is
 * opened read-only and closed again. Does not end `out`.
 */
export async function exportBuffer(source: string | BufferReader, out: Writable, opts: ExportOptions = {}): Promise<ExportResult> {
  const reader = typeof source === 'string' ? BufferReader.open(source) : source;
  try {
    return await reader.exportTo(out, opts);
  } finally {
    if (typeof source === 'string') reader.close();
  }
}

function line(sensor: string, tsMs: number, value: number, synced: boolean, seq: number | null): string {
  const record: ExportedReading = { sensor, ts: isoOrNull(tsMs), ts_ms: tsMs, value, synced, seq };
  return `${JSON.stringify(record)}\n`;
}

function isoOrNull(ms: number): string | null {
  const d = new Date(ms);
  return Number.isNaN(d.getTime()) ? null : d.toISOString();
}

function fileSize(path: string): number {
  try {
    return statSync(path).size;
  } catch {
    return 0;
  }
}

/** Batches small writes and honours backpressure; a stream error (EPIPE from `| head`) rejects. */
class ChunkedWriter {
  private chunk = '';
  private failure: Error | undefined;
  private readonly onError = (err: Error) => {
    this.failure ??= err;
  };

  constructor(private readonly out: Writable) {
    out.on('error', this.onError);
  }

  detach(): void {
    this.out.off('error', this.onError);
  }

  async write(text: string): Promise<void> {
    this.chunk += text;
    if (this.chunk.length >= CHUNK_CHARS) await this.flush();
  }

  async flush(): Promise<void> {
    if (this.failure) throw this.failure;
    if (this.chunk === '') return;
    const text = this.chunk;
    this.chunk = '';
    if (!this.out.write(text)) await drained(this.out);
    if (this.failure) throw this.failure;
  }
}

function drained(out: Writable): Promise<void> {
  return new Promise((resolve, reject) => {
    const done = (err?: Error) => {
      out.off('drain', onDrain);
      out.off('error', onError);
      out.off('close', onClose);
      if (err) reject(err);
      else resolve();
    };
    const onDrain = () => done();
    const onError = (err: Error) => done(err);
    const onClose = () => done(new StorageError('output closed before the export finished'));
    // guard-audit: done() removes listeners and settles this promise; neither throws
    out.on('drain', onDrain);
    // guard-audit: as above
    out.on('error', onError);
    // guard-audit: as above
    out.on('close', onClose);
  });
}
