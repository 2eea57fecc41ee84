// min_interval: at most one reading per sensor per `interval` of event time; a reading is kept when at least
// `interval` passed since the last kept one of its sensor. A reading older than the last kept one is kept and
// leaves the state alone (it cannot be placed in a schedule that has moved on).
import type { Transform, TransformReading } from './transform.js';

export class MinIntervalTransform implements Transform {
  readonly type = 'min_interval';
  private readonly lastKept = new Map<string, number>();

  constructor(private readonly interval: number) {}

  apply(r: TransformReading): string | undefined {
    const last = this.lastKept.get(r.sensor);
    if (last !== undefined && r.ts >= last) {
      if (r.ts - last < this.interval) return 'min_interval';
    } else if (last !== undefined) {
      return undefined;
    }
    this.lastKept.set(r.sensor, r.ts);
    return undefined;
  }
}
