// Config loading for every Tidemark component: YAML with ${VAR} substitution, strict zod schemas, and one
// ConfigError that lists every problem with its path and line.

export { loadConfigFile, parseConfigText, validateConfig, resolveConfigPath, type ParseConfigOptions } from './loader.js';
export { substituteString, type SubstituteResult } from './substitute.js';
export { formatPath, describeValue, expecting, editDistance, suggestKey } from './issues.js';
export {
  parseDuration,
  parseByteSize,
  formatDuration,
  formatBytes,
  DURATION_HELP,
  BYTE_SIZE_HELP,
} from './units.js';
export {
  NAME_PATTERN,
  NAME_REGEX,
  zInt,
  zNumber,
  zString,
  zName,
  zByteSize,
  zDuration,
  zListen,
  zResolution,
  zTimestamp,
  zUrl,
  zClientTls,
  zLogConfig,
  parseListen,
  formatListen,
  parseTimestamp,
  reportDuplicates,
  evenWithIssues,
  type ListenAddress,
  type Resolution,
  type NumberRange,
  type ClientTls,
  type DeepPartial,
} from './schemas.js';

// One zod instance for every package: components build their schemas with this `z`.
export { z } from 'zod';

// Config modules throw these; re-exported so they need only this one import.
export * from '../errors/index.js';
export { LOG_LEVELS, type LogLevel } from '../logging/levels.js';
