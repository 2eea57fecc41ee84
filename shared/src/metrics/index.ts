// Metrics: a per-process prom-client registry with Tidemark name prefixes.

export { MetricsRegistry, counterValue, gaugeValue, tally, type GaugeOptions, type Tally } from './registry.js';
export type { Counter, Gauge, Histogram, Registry } from 'prom-client';
