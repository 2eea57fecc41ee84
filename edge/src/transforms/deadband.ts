// deadband (report by exception, after OPC UA's DataChangeFilter and Sparkplug): a reading is kept when its
// value differs from the last kept value of that sensor by more than `absolute` (or by more than `percent` %
// of that last kept value), or when `max_interval` of event time has passed since the last kept reading, so
// a flat signal still reports. State is per sensor, in event time. A reading older than the last kept one,
// or whose value is not a finite number, cannot be compared: it is kept and leaves the state alone.
import type { DeadbandTransformConfig } from './config.js';
import type { Transform, TransformReading } from './transform.js';

interface Last {
  value: number;
  /** -Infinity until the first kept reading. */
  ts: number;
}

export class DeadbandTransform implements Transform {
  readonly type = 'deadband';
  private readonly last = new Map<string, Last>();
  private readonly absolute: number | undefined;
  private readonly fraction: number;
  private readonly maxInterval: number;

  constructor(config: Pick<DeadbandTransformConfig, 'absolute' | 'percent' | 'max_interval'>) {
    this.absolute = config.absolute;
    this.fraction = (config.percent ?? 0) / 100;
    this.maxInterval = config.max_interval ?? Infinity;
  }

  stateFor(sensor: string): Last {
    let last = this.last.get(sensor);
    if (last === undefined) {
      last = { value: NaN, ts: -Infinity };
      this.last.set(sensor, last);
    }
    return last;
  }

  apply(r: TransformReading, state?: unknown): string | undefined {
    if (!Number.isFinite(r.value)) return undefined;
    const last = (state as Last | undefined) ?? this.stateFor(r.sensor);
    if (last.ts === -Infinity) {
      last.value = r.value;
      last.ts = r.ts;
      return undefined;
    }
    if (r.ts < last.ts) return undefined;
    const band = this.absolute ?? Math.abs(last.value) * this.fraction;
    if (Math.abs(r.value - last.value) > band || r.ts - last.ts >= this.maxInterval) {
      last.value = r.value;
      last.ts = r.ts;
      return undefined;
    }
    return 'deadband';
  }
}
