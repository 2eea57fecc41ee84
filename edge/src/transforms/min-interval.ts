// min_interval: at most one reading per sensor per `interval` of event time; a reading is kept when at least
// `interval` passed since the last kept one of its sensor. A reading older than the last kept one is kept and
// leaves the state alone (it cannot be placed in a schedule that has moved on).
import type { Transform, TransformReading } from './transform.js';

interface LastKept {
  /** -Infinity until the first kept reading. */
  ts: number;
}

export class MinIntervalTransform implements Transform {
  readonly type = 'min_interval';
  private readonly lastKept = new Map<string, LastKept>();

  constructor(private readonly interval: number) {}

  stateFor(sensor: string): LastKept {
    let s = this.lastKept.get(sensor);
    if (s === undefined) {
      s = { ts: -Infinity };
      this.lastKept.set(sensor, s);
    }
    return s;
  }

  apply(r: TransformReading, state?: unknown): string | undefined {
    const last = (state as LastKept | undefined) ?? this.stateFor(r.sensor);
    if (last.ts !== -Infinity) {
      if (r.ts < last.ts) return undefined;
      if (r.ts - last.ts < this.interval) return 'min_interval';
    }
    last.ts = r.ts;
    return undefined;
  }
}
