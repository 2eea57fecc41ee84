// Logging: pino JSON to stderr, one child per component, and rate limiting for repeating conditions.

export { createLogger, type CreateLoggerOptions, type Logger } from './logger.js';
export { RateLimitedLogger, logEvery, type RateLimitOptions, type KeyedLog } from './rate-limited.js';
export { LOG_LEVELS, type LogLevel } from './levels.js';
