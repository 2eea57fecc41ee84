// Deterministic signal shapes for the simulated source. Each maps (time, rng) to a value in [min, max].
import { mulberry32 } from '@tidemark/shared';
export type Shape = 'sine' | 'square' | 'random_walk' | 'step' | 'noise';

export interface ShapeParams {
  shape: Shape;
  min: number;
  max: number;
  period_s: number;
  decimals: number;
}

export { mulberry32 };

/** A generator with its own state (random walk position). `tMs` is the reading's event time. */
export function makeGenerator(p: ShapeParams, rng: () => number): (tMs: number) => number {
  const span = p.max - p.min;
  const scale = 10 ** p.decimals;
  const round = (v: number) => Math.round(v * scale) / scale;
  const periodMs = p.period_s * 1000;
  const phase = (t: number) => (((t % periodMs) + periodMs) % periodMs) / periodMs;
  let walk = p.min + span / 2;
  switch (p.shape) {
    case 'sine':
      return (t) => round(p.min + span * (0.5 + 0.5 * Math.sin(2 * Math.PI * phase(t))));
    case 'square':
      return (t) => round(phase(t) < 0.5 ? p.max : p.min);
    case 'step': {
      // Four equal steps per period, like a process moving through set-points.
      return (t) => round(p.min + span * (Math.floor(phase(t) * 4) / 3));
    }
    case 'noise':
      return () => round(p.min + span * rng());
    case 'random_walk':
      return () => {
        walk += (rng() - 0.5) * span * 0.02;
        if (walk < p.min) walk = 2 * p.min - walk;
        if (walk > p.max) walk = 2 * p.max - walk;
        walk = Math.min(p.max, Math.max(p.min, walk));
        return round(walk);
      };
  }
}
