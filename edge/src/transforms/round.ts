// round: to `decimals` places, half away from zero. A value too large to carry that many decimals in a
// float64 is left as it is (it is already as precise as it can be), and so is a value that is not finite.
import type { Transform, TransformReading } from './transform.js';

/** The rounding rule itself, shared with the benchmarks. */
export function roundTo(value: number, scale: number): number {
  const x = Math.abs(value) * scale;
  if (!(x < 2 ** 52)) return value;
  const rounded = Math.round(x) / scale;
  return value < 0 ? -rounded || 0 : rounded;
}

export class RoundTransform implements Transform {
  readonly type = 'round';
  private readonly scale: number;

  constructor(decimals: number) {
    this.scale = 10 ** decimals;
  }

  apply(r: TransformReading): undefined {
    r.value = roundTo(r.value, this.scale);
    return undefined;
  }
}
