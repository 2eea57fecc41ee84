// filter: removes readings outside [min, max] (inclusive bounds, each optional) and every value that is not
// a finite number (NaN, ±Infinity), whatever the bounds: a filter keeps only plausible numbers.
import type { FilterTransformConfig } from './config.js';
import type { Transform, TransformReading } from './transform.js';

export class FilterTransform implements Transform {
  readonly type = 'filter';
  private readonly min: number;
  private readonly max: number;

  constructor(config: Pick<FilterTransformConfig, 'min' | 'max'>) {
    this.min = config.min ?? -Infinity;
    this.max = config.max ?? Infinity;
  }

  apply(r: TransformReading): string | undefined {
    const v = r.value;
    if (v >= this.min && v <= this.max && v !== Infinity && v !== -Infinity) return undefined;
    if (Number.isNaN(v)) return 'nan';
    if (v === Infinity || v === -Infinity) return 'infinite';
    return v < this.min ? 'below_min' : 'above_max';
  }
}
