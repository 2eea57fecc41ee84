export * from './errors/index.js';
export * from './lifecycle/index.js';
export * from './config/index.js';
export * from './logging/index.js';
export * from './metrics/index.js';
export * from './process/index.js';
export * from './random/index.js';
