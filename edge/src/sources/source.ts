// The source family's contract (after Telegraf inputs / Benthos inputs): a source only does I/O and parsing.
// It hands readings to the sink; the runner owns time-stamping, buffering, batching and retry.
import type { Component, Logger, MetricsRegistry } from '@tidemark/shared';

export interface SourceReading {
  sensor: string;
  value: number;
  /** Device-supplied event time (ms since epoch). Absent: the runner stamps the receive time. */
  ts?: number;
}

export type ReadingSink = (readings: readonly SourceReading[]) => void;

export interface SourceContext {
  sink: ReadingSink;
  logger: Logger;
  metrics: MetricsRegistry;
  /** The runner's clock (ms since epoch, never backwards). */
  now: () => number;
}

export interface Source extends Component {
  readonly type: string;
}
