// rename: gives one sensor a new name (validated against the sensor name pattern when the config loads).
import type { Transform, TransformReading } from './transform.js';

export class RenameTransform implements Transform {
  readonly type = 'rename';
  constructor(private readonly to: string) {}

  apply(r: TransformReading): undefined {
    r.sensor = this.to;
    return undefined;
  }
}
