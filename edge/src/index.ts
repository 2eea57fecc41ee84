export { Agent, type AgentOptions } from './agent.js';
export { SqliteBuffer, type BufferStats, type BufferedReading, type SealedBatch } from './buffer/sqlite-buffer.js';
export { loadEdgeConfig, edgeConfigSchema, type EdgeConfig } from './config.js';
export type { Source, SourceContext, SourceReading } from './sources/source.js';
export { main } from './cli.js';
export type { EdgeBuffer } from './buffer/edge-buffer.js';
export type { Uplink, UplinkFactory, UplinkEvents, DeviceStatus } from './uplink/uplink.js';
export { TransformPipeline, type TransformConfig } from './transforms/index.js';
export { Backoff, backoffDelay, type BackoffPolicy } from './runner/backoff.js';
