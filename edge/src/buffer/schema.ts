// Buffer database layout. Bump BUFFER_SCHEMA_VERSION with a migration whenever this changes.
export const BUFFER_SCHEMA_VERSION = 1;

export const BUFFER_SCHEMA = `
CREATE TABLE meta (
  key   TEXT PRIMARY KEY,
  value ANY NOT NULL
) STRICT;

-- Committed readings not yet sealed into a batch, in arrival order.
CREATE TABLE readings (
  id     INTEGER PRIMARY KEY,
  sensor TEXT    NOT NULL,
  ts     INTEGER NOT NULL,
  value  REAL    NOT NULL,
  synced INTEGER NOT NULL
) STRICT;

-- Sealed batches: the exact bytes sent (and resent) until the collector acks the seq.
CREATE TABLE batches (
  seq        INTEGER PRIMARY KEY,
  payload    BLOB    NOT NULL,
  readings   INTEGER NOT NULL,
  synced     INTEGER NOT NULL,
  first_ts   INTEGER NOT NULL,
  last_ts    INTEGER NOT NULL,
  created_ms INTEGER NOT NULL,
  sent_ms    INTEGER            -- first publish; from then on the payload never changes
) STRICT;

-- Readings the buffer gave up on, by reason (counted forever, shown by \`buffer stats\`).
CREATE TABLE drops (
  reason   TEXT PRIMARY KEY,
  readings INTEGER NOT NULL
) STRICT;
`;
