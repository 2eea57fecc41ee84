// The closed set of Tidemark errors. Library code throws these; only a CLI's main maps them to exit codes.
// Codes are stable strings: tests, logs and metrics rely on them.

export type ErrorCode =
  | 'CONFIG_INVALID'
  | 'NOT_CONNECTED'
  | 'PERMANENT'
  | 'VALIDATION'
  | 'WIRE_FORMAT'
  | 'PORT_IN_USE'
  | 'STORAGE'
  | 'TIMEOUT';

export abstract class TidemarkError extends Error {
  abstract readonly code: ErrorCode;
  /** Exit code a CLI uses when this error ends a command: 2 = usage/config, 1 = runtime. */
  readonly exitCode: 1 | 2 = 1;
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
  }
}

export interface ConfigIssue {
  /** Path into the document, e.g. `sources[0].baud_rate`; empty string for the document itself. */
  path: string;
  message: string;
  /** 1-based line in the source file, when known. */
  line?: number;
}

/** A configuration (or command line) is wrong. Carries every issue found, not just the first. */
export class ConfigError extends TidemarkError {
  readonly code = 'CONFIG_INVALID' as const;
  override readonly exitCode = 2 as const;
  readonly issues: ConfigIssue[];
  readonly source: string | undefined;
  constructor(issues: ConfigIssue[], source?: string) {
    super(ConfigError.format(issues, source));
    this.issues = issues;
    this.source = source;
  }
  static format(issues: ConfigIssue[], source?: string): string {
    const head = source ? `${source}: ` : '';
    const lines = issues.map((i) => {
      const where = i.path === '' ? '(root)' : i.path;
      const line = i.line !== undefined ? ` (line ${i.line})` : '';
      return `${where}: ${i.message}${line}`;
    });
    return `${head}invalid configuration, ${issues.length} error${issues.length === 1 ? '' : 's'}:\n  ${lines.join('\n  ')}`;
  }
}

/** A peer (broker, database, serial port) is not reachable now; the runner retries with backoff. */
export class NotConnectedError extends TidemarkError {
  readonly code = 'NOT_CONNECTED' as const;
}

/** Retrying will not help (rejected credentials, a batch the collector refuses). */
export class PermanentError extends TidemarkError {
  readonly code = 'PERMANENT' as const;
}

/** A value is outside the contract (bad name, non-finite value, oversized batch). `field` names where. */
export class ValidationError extends TidemarkError {
  readonly code = 'VALIDATION' as const;
  readonly field: string | undefined;
  constructor(message: string, field?: string) {
    super(field ? `${field}: ${message}` : message);
    this.field = field;
  }
}

/** Bytes that do not decode as the expected protobuf message. */
export class WireFormatError extends TidemarkError {
  readonly code = 'WIRE_FORMAT' as const;
}

/** A listen address is taken. `variable` names the env var or config key that chose the port. */
export class PortInUseError extends TidemarkError {
  readonly code = 'PORT_IN_USE' as const;
  readonly port: number;
  constructor(port: number, host: string, setting?: string) {
    super(`port ${port} on ${host} is already in use${setting ? ` (set by ${setting})` : ''}`);
    this.port = port;
  }
}

/** The local database failed (disk full, corruption, I/O). */
export class StorageError extends TidemarkError {
  readonly code = 'STORAGE' as const;
}

export class TimeoutError extends TidemarkError {
  readonly code = 'TIMEOUT' as const;
}

export function isTidemarkError(err: unknown): err is TidemarkError {
  return err instanceof TidemarkError;
}

/** Exit code for an error that ended a CLI command. */
export function exitCodeFor(err: unknown): 1 | 2 {
  return isTidemarkError(err) ? err.exitCode : 1;
}
