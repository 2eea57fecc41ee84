export * from './errors/index.js';
export * from './lifecycle/index.js';
// Config loading (zod, yaml) lives at '@tidemark/shared/config', so a long-running process that got its
// config validated elsewhere never loads the validator. Units and types are cheap and stay here.
export { parseDuration, parseByteSize, formatDuration, formatBytes, DURATION_HELP, BYTE_SIZE_HELP } from './config/units.js';
export type { ListenAddress, Resolution, NumberRange, ClientTls, DeepPartial } from './config/schemas.js';
export * from './logging/index.js';
export * from './metrics/index.js';
export * from './process/index.js';
export * from './random/index.js';
export * from './retry/index.js';
export * from './tls/index.js';
