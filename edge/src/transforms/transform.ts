// The transform family's contract: a transform looks at one reading of a sensor it was configured for and
// either keeps it (possibly changing its value or name in place) or names the reason it removes it. The
// pipeline owns sensor matching, order and counting; a transform owns only its rule and its per-sensor state.

export interface TransformReading {
  sensor: string;
  value: number;
  /** Event time, ms since the epoch: deadband and min_interval state is kept in event time. */
  ts: number;
}

export interface Transform {
  readonly type: string;
  /** The name every reading leaves with, for a transform that renames (the pipeline plans with it). */
  readonly renamesTo?: string;
  /**
   * The transform's state for one sensor name, made (or found) once per name: the pipeline hands it back
   * to `apply` with every reading of that sensor, so a stateful transform does no lookup per reading.
   */
  stateFor?(sensor: string): unknown;
  /** undefined: keep the reading (as changed in place); a string: remove it, for that reason. */
  apply(r: TransformReading, state?: unknown): string | undefined;
}
