// Opening the buffer at start: a database that SQLite cannot read (corrupt, not a database, truncated by
// a bad SD card) is moved aside as buffer.db.corrupt-<time> with its -wal/-shm, reported loudly, and a new
// buffer — with a new stream id — begins. The agent keeps running instead of crash-looping on a bad file.
import { existsSync, renameSync } from 'node:fs';
import Database from 'better-sqlite3';
import { StorageError } from '@tidemark/shared';
import { SqliteBuffer, type SqliteBufferOptions } from './sqlite-buffer.js';

const CORRUPTION_CODES = new Set(['SQLITE_CORRUPT', 'SQLITE_NOTADB', 'SQLITE_CORRUPT_VTAB', 'SQLITE_IOERR_SHORT_READ']);

export interface OpenedBuffer {
  buffer: SqliteBuffer;
  /** Set when a corrupt database was moved aside. */
  recovered?: { movedTo: string; reason: string };
}

/** Runs SQLite's structural check; returns a problem description, or undefined when the file is sound. */
export function checkIntegrity(path: string): string | undefined {
  if (!existsSync(path)) return undefined;
  let db: Database.Database | undefined;
  try {
    db = new Database(path, { fileMustExist: true, readonly: true }); // read-only: keep the evidence as found
    const rows = db.pragma('quick_check') as { quick_check: string }[];
    const result = rows.map((r) => r.quick_check).join('; ');
    return result === 'ok' ? undefined : `quick_check: ${result.slice(0, 500)}`;
  } catch (err) {
    const code = (err as { code?: string }).code;
    if (code && (CORRUPTION_CODES.has(code) || code.startsWith('SQLITE_CORRUPT'))) return `${code}: ${(err as Error).message}`;
    throw new StorageError(`cannot check buffer ${path}: ${(err as Error).message}`, { cause: err });
  } finally {
    db?.close();
  }
}

export function openBuffer(opts: SqliteBufferOptions, now: () => Date = () => new Date()): OpenedBuffer {
  const problem = checkIntegrity(opts.path);
  if (!problem) {
    try {
      return { buffer: SqliteBuffer.open(opts) };
    } catch (err) {
      const code = ((err as { cause?: { code?: string } }).cause?.code ?? '') as string;
      if (!CORRUPTION_CODES.has(code) && !code.startsWith('SQLITE_CORRUPT')) throw err;
      return moveAsideAndOpen(opts, `${code}: ${(err as Error).message}`, now());
    }
  }
  return moveAsideAndOpen(opts, problem, now());
}

function moveAsideAndOpen(opts: SqliteBufferOptions, reason: string, at: Date): OpenedBuffer {
  const movedTo = `${opts.path}.corrupt-${at.toISOString().replace(/[:.]/g, '-')}`;
  renameSync(opts.path, movedTo);
  for (const suffix of ['-wal', '-shm']) {
    if (existsSync(opts.path + suffix)) renameSync(opts.path + suffix, movedTo + suffix);
  }
  return { buffer: SqliteBuffer.open(opts), recovered: { movedTo, reason } };
}
