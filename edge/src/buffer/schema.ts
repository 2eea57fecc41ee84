// Buffer database layout. Bump BUFFER_SCHEMA_VERSION with a migration whenever this changes; a buffer of
// every earlier version must still open, and its readings must still be sent (migrate.ts).
//   1: committed readings one row each (`readings`).
//   2: committed readings one blob per group commit and clock state (`chunks`, chunk-codec.ts): a commit
//      writes one record, not a row per reading (SD-card wear, issue 12).
export const BUFFER_SCHEMA_VERSION = 2;

/**
 * Page size of a new buffer file. Every commit rewrites at least the pages it touches, in the WAL and again
 * at checkpoint; small pages keep a 100 ms group commit of ~1,000 readings to a few KiB. Existing files keep
 * theirs (SQLite cannot change it in WAL mode without rewriting the whole file).
 */
export const BUFFER_PAGE_SIZE = 1024;

/** The committed-but-unsealed readings of schema 2 (also the migration's target). */
export const CHUNKS_TABLE = `
-- Committed readings not yet sealed into a batch: one blob per group commit and clock state, in arrival
-- order (id). first_ts / last_ts are the smallest and largest event time inside.
CREATE TABLE chunks (
  id       INTEGER PRIMARY KEY,
  readings INTEGER NOT NULL,
  synced   INTEGER NOT NULL,
  first_ts INTEGER NOT NULL,
  last_ts  INTEGER NOT NULL,
  data     BLOB    NOT NULL
) STRICT;
`;

export const BUFFER_SCHEMA = `
CREATE TABLE meta (
  key   TEXT PRIMARY KEY,
  value ANY NOT NULL
) STRICT;
${CHUNKS_TABLE}
-- Sealed batches: the exact bytes sent (and resent) until the collector acks the seq.
CREATE TABLE batches (
  seq        INTEGER PRIMARY KEY,
  payload    BLOB    NOT NULL,
  readings   INTEGER NOT NULL,
  synced     INTEGER NOT NULL,
  first_ts   INTEGER NOT NULL,
  last_ts    INTEGER NOT NULL,
  created_ms INTEGER NOT NULL,
  sent_ms    INTEGER            -- written by schema 1 only; first sends are now kept in memory (sqlite-buffer.ts markSent)
) STRICT;

-- Readings the buffer gave up on, by reason (counted forever, shown by \`buffer stats\`).
CREATE TABLE drops (
  reason   TEXT PRIMARY KEY,
  readings INTEGER NOT NULL
) STRICT;
`;
