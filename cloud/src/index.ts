export { Collector, dataFiles, type Role } from './collector.js';
export { loadCloudConfig, cloudConfigSchema, defaultCloudConfig, type CloudConfig } from './config.js';
export type { StreamStore, StreamRecord, AppendItem, AppendOutcome } from './store/stream-store.js';
export { SqliteStreamStore } from './store/sqlite-stream-store.js';
export type { AggregateStore, BucketRecord } from './aggregate/aggregate-store.js';
export { SqliteAggregateStore } from './aggregate/sqlite-aggregate-store.js';
export { Aggregator } from './aggregate/aggregator.js';
export { addDevice, hashPassword, verifyPassword } from './broker/device-auth.js';
export { main } from './cli.js';
