// Rules for the PostgreSQL aggregate store's schema name (`aggregates.schema`), without loading the driver:
// the config schema validates with these.
import { StorageError } from '@tidemark/shared';

export const DEFAULT_POSTGRES_SCHEMA = 'tidemark';

/**
 * Longest schema name accepted: replay renames the live schema to `<schema>_pre_replay_<19-char stamp>`,
 * which must still fit PostgreSQL's 63-byte identifiers.
 */
export const MAX_POSTGRES_SCHEMA_LENGTH = 32;
export const POSTGRES_SCHEMA_PATTERN = /^[a-z_][a-z0-9_]*$/;

/** Why `name` cannot be the aggregate store's schema, or undefined if it can (for config validation). */
export function postgresSchemaProblem(name: string): string | undefined {
  if (!POSTGRES_SCHEMA_PATTERN.test(name)) return 'expected a PostgreSQL schema name: lower-case letters, digits and "_", not starting with a digit';
  if (name.length > MAX_POSTGRES_SCHEMA_LENGTH) return `at most ${MAX_POSTGRES_SCHEMA_LENGTH} characters (replay appends a suffix to it)`;
  if (name.startsWith('pg_')) return 'names starting with "pg_" are reserved by PostgreSQL';
  return undefined;
}

/** The name itself, or a StorageError. Replay's own names (<schema>_replay_<stamp>) may exceed the configured limit. */
export function checkSchemaName(name: string): string {
  if (!POSTGRES_SCHEMA_PATTERN.test(name) || name.length > 63 || name.startsWith('pg_')) {
    throw new StorageError(`"${name}" is not a usable PostgreSQL schema name: ${postgresSchemaProblem(name) ?? 'too long'}`);
  }
  return name;
}
