// The buffer's SQLite file: opened with the durability it promises (WAL, synchronous=FULL: a commit survives a
// power cut), created or migrated to the current schema in one transaction, and its identity (device, stream id,
// seq floor) in the `meta` table. Errors are StorageErrors naming the file.
import Database from 'better-sqlite3';
import { newStreamId } from '@tidemark/proto';
import { StorageError } from '@tidemark/shared';
import type { SqliteBufferOptions } from './buffer-types.js';
import { migrateBuffer } from './migrate.js';
import { BUFFER_PAGE_SIZE, BUFFER_SCHEMA, BUFFER_SCHEMA_VERSION } from './schema.js';

export function openBufferDatabase(opts: SqliteBufferOptions): Database.Database {
  let db: Database.Database | undefined;
  try {
    db = new Database(opts.path);
    // Only takes effect on a new, empty file (before the first write, which the WAL switch is).
    db.pragma(`page_size = ${BUFFER_PAGE_SIZE}`);
    db.pragma('journal_mode = WAL');
    // FULL: a committed group survives a power cut, not just a process crash. One fsync per commit tick.
    db.pragma('synchronous = FULL');
    db.pragma('busy_timeout = 5000');
    if (opts.maxPageCount !== undefined) db.pragma(`max_page_count = ${Math.floor(opts.maxPageCount)}`);
    const version = db.pragma('user_version', { simple: true }) as number;
    if (version === 0) {
      // One transaction: a crash half-way through must not leave tables without a version (unopenable).
      const fresh = db;
      fresh.transaction(() => {
        fresh.exec(BUFFER_SCHEMA);
        fresh.pragma(`user_version = ${BUFFER_SCHEMA_VERSION}`);
      })();
    } else if (version !== BUFFER_SCHEMA_VERSION && !(version < BUFFER_SCHEMA_VERSION && migrateBuffer(db, version, BUFFER_SCHEMA_VERSION))) {
      throw new StorageError(`${opts.path}: buffer schema version ${version} is not supported (expected ${BUFFER_SCHEMA_VERSION})`);
    }
    return db;
  } catch (err) {
    db?.close();
    if (err instanceof StorageError) throw err;
    throw new StorageError(`cannot open buffer ${opts.path}: ${(err as Error).message}`, { cause: err });
  }
}

/** The `meta` table: who the buffer belongs to, its stream id, and the seq floor (meta.next_seq). */
export class BufferMeta {
  // Private, so declaration emit never has to name better-sqlite3's Statement generics (TS4058).
  private readonly stmts;

  constructor(private readonly db: Database.Database) {
    this.stmts = {
      get: db.prepare<[string], { value: Buffer | string | number }>('SELECT value FROM meta WHERE key = ?'),
      set: db.prepare('INSERT INTO meta(key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value'),
    };
  }

  /** The stream id, made (with the owner and seq 1) for a new file; refuses a file of another device. */
  identity(path: string, deviceId: string): Uint8Array {
    const owner = this.stmts.get.get('device_id')?.value;
    if (owner !== undefined && owner !== deviceId) {
      throw new StorageError(
        `buffer ${path} belongs to device "${String(owner)}" but the config says device.id "${deviceId}"; ` +
          'use another data_dir or move the old buffer aside',
      );
    }
    const existing = this.stmts.get.get('stream_id')?.value;
    if (existing instanceof Buffer && existing.length === 16) return new Uint8Array(existing);
    const id = newStreamId();
    this.db.transaction(() => {
      this.stmts.set.run('device_id', deviceId);
      this.stmts.set.run('stream_id', Buffer.from(id));
      this.stmts.set.run('next_seq', 1);
    })();
    return id;
  }

  /** No seq below this is ever assigned again. */
  seqFloor(): number {
    return Number(this.stmts.get.get('next_seq')?.value ?? 1);
  }

  /** Moves the seq floor (inside the caller's transaction, or one of its own). */
  setSeqFloor(next: number): void {
    this.stmts.set.run('next_seq', next);
  }
}
