// Upgrading a buffer file written by an earlier agent, in place and in one transaction (a crash half-way
// leaves the old version intact, and the next start migrates again). Sealed batches are kept byte for byte:
// their content is fixed once sent. Pending readings move to the new layout in arrival order.
import type Database from 'better-sqlite3';
import { CHUNKS_TABLE } from './schema.js';
import { PendingChunks } from './pending-chunks.js';
import type { BufferedReading } from './buffer-types.js';

/** Migrates `db` from `version` to the current schema. Returns false for a version it cannot migrate. */
export function migrateBuffer(db: Database.Database, version: number, target: number): boolean {
  if (version !== 1 || target !== 2) return false;
  db.transaction(() => {
    db.exec(CHUNKS_TABLE);
    const chunks = new PendingChunks(db);
    // Paged by id (a statement being iterated cannot run beside the inserts on the same connection).
    const page = db.prepare<[number], { id: number; sensor: string; ts: number; value: number; synced: number }>(
      'SELECT id, sensor, ts, value, synced FROM readings WHERE id > ? ORDER BY id LIMIT 50000',
    );
    for (let after = 0; ; ) {
      const rows = page.all(after);
      if (rows.length === 0) break;
      const run: BufferedReading[] = rows.map((r) => ({ sensor: r.sensor, ts: r.ts, value: r.value, synced: r.synced === 1 }));
      chunks.insert(run);
      after = rows[rows.length - 1]!.id;
    }
    db.exec('DROP TABLE readings');
    db.pragma(`user_version = ${target}`);
  })();
  return true;
}
