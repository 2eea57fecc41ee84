// The seam between the GPIO source and the operating system: a watcher for one line that reads its level
// once, then reports every raw edge with the time it happened. Levels are logical (active_low applied);
// debouncing is the source's job, above this seam, so every driver debounces the same way.
import type { Logger, MetricsRegistry } from '@tidemark/shared';
import type { GpioSourceConfig } from './config.js';
import { FakeLineWatcher } from './fake-driver.js';
import { GpiodLineWatcher } from './gpiod-driver.js';
import { sourceConnected } from '../source-metrics.js';

export type GpioLevel = 0 | 1;

/** A raw edge: the line is now at `level`, since `tsMs` (ms since the epoch, on the runner's clock). */
export type EdgeHandler = (level: GpioLevel, tsMs: number) => void;

/** A problem the watcher recovers from on its own (it keeps retrying); for logs, never fatal. */
export type WatchErrorHandler = (err: Error) => void;

export interface GpioLineWatcher {
  /**
   * Reads the line's level, then starts reporting edges. Resolves with that level and when it was read;
   * rejects with a clear error when the line cannot be opened (no chip, no tool, no permission).
   * Edges may be reported before the promise resolves; they all happened after the initial read.
   */
  start(onEdge: EdgeHandler, onError: WatchErrorHandler): Promise<{ initial: GpioLevel; tsMs: number }>;
  /** Releases the line. Idempotent; no handler is called once it resolved. */
  stop(): Promise<void>;
}

export interface GpioDriverOptions {
  /** The source's name: the `source` label of the driver's metrics. */
  sourceName: string;
  logger: Logger;
  metrics: MetricsRegistry;
  /** The runner's clock, ms since the epoch. */
  now: () => number;
}

export type OpenLine = (config: GpioSourceConfig, opts: GpioDriverOptions) => GpioLineWatcher;

/** The watcher for `config.driver`. */
export const openLine: OpenLine = (config, opts) => {
  switch (config.driver) {
    case 'fake':
      return new FakeLineWatcher(config, opts);
    case 'gpiod':
      return new GpiodLineWatcher(config, opts);
  }
};

/** The gauge every source uses to say whether its input is open (1) or being re-opened (0). */
export const connectedGauge = sourceConnected;
