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
  /**
   * Optional: hands the sink, before returning, what has already arrived and waits to be read (a serial
   * port's input buffer), and counts that as the source's next read (a read timer restarts its interval).
   * The runner calls it when one of its own timers wakes the process to seal or commit, so that wake-up also
   * serves as a read: the batch takes the newest lines, and the source's timer does not wake the process again
   * a moment later (issue 12). Never throws; does nothing while stopped or disconnected.
   */
  readNow?(): void;
}
