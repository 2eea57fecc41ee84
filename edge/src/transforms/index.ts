// The transform family: a chain of small rules between every source and the buffer (filter, scale, rename,
// deadband, min_interval, round). Runtime code only: the config schema is in ./config.ts.
export { TransformPipeline, createTransform, transformLabel, type RemovedHandler, type TransformReading } from './pipeline.js';
export type { TransformConfig } from './config.js';
