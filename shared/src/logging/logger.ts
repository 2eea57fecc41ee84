// Process loggers: pino, JSON lines to stderr (stdout is reserved for command output), ISO times, level
// names instead of numbers. Components take a child: `log.child({ component: 'uplink' })`.

import { pino, type DestinationStream, type Logger } from 'pino';
import { ValidationError } from '../errors/index.js';
import { LOG_LEVELS } from './levels.js';

export type { Logger } from 'pino';

export interface CreateLoggerOptions {
  /** Process or program name, e.g. `tidemark-edge`; appears as `name` on every line. */
  name: string;
  /** One of fatal, error, warn, info (default), debug, trace, or silent. */
  level?: string;
  /** A stream, or a file descriptor (default 2, stderr; written synchronously so nothing is lost on exit). */
  destination?: NodeJS.WritableStream | number;
}

export function createLogger(opts: CreateLoggerOptions): Logger {
  const level = opts.level ?? 'info';
  if (level !== 'silent' && !(LOG_LEVELS as readonly string[]).includes(level)) {
    throw new ValidationError(`unknown log level "${level}"; expected one of ${LOG_LEVELS.join(' | ')}`, 'log.level');
  }
  const destination: DestinationStream =
    opts.destination === undefined || typeof opts.destination === 'number'
      ? pino.destination({ dest: opts.destination ?? 2, sync: true })
      : (opts.destination as unknown as DestinationStream);
  return pino(
    {
      name: opts.name,
      level,
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
    },
    destination,
  );
}
