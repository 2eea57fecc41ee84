// scale: value · factor + offset, or a linear map of input_range onto output_range (4–20 mA → 0–100 %),
// optionally renaming the sensor (config validation guarantees one exact sensor and a valid new name).
// Never removes a reading; a value the scale pushes past ±Infinity is refused later by the agent as invalid.
import type { ScaleTransformConfig } from './config.js';
import type { Transform, TransformReading } from './transform.js';

/** factor and offset of the linear map a scale config describes. */
export function scaleCoefficients(config: Pick<ScaleTransformConfig, 'factor' | 'offset' | 'input_range' | 'output_range'>): { factor: number; offset: number } {
  if (config.input_range && config.output_range) {
    const [i0, i1] = config.input_range;
    const [o0, o1] = config.output_range;
    const factor = (o1 - o0) / (i1 - i0);
    return { factor, offset: o0 - i0 * factor };
  }
  return { factor: config.factor ?? 1, offset: config.offset ?? 0 };
}

export class ScaleTransform implements Transform {
  readonly type = 'scale';
  private readonly factor: number;
  private readonly offset: number;
  readonly renamesTo: string | undefined;

  constructor(config: Pick<ScaleTransformConfig, 'factor' | 'offset' | 'input_range' | 'output_range' | 'rename'>) {
    ({ factor: this.factor, offset: this.offset } = scaleCoefficients(config));
    this.renamesTo = config.rename;
  }

  apply(r: TransformReading): undefined {
    r.value = r.value * this.factor + this.offset;
    if (this.renamesTo !== undefined) r.sensor = this.renamesTo;
    return undefined;
  }
}
