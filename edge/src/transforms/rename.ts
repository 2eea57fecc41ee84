// rename: gives one sensor a new name (validated against the sensor name pattern when the config loads).
import type { Transform, TransformReading } from './transform.js';

export class RenameTransform implements Transform {
  readonly type = 'rename';
  constructor(readonly renamesTo: string) {}

  apply(r: TransformReading): undefined {
    r.sensor = this.renamesTo;
    return undefined;
  }
}
