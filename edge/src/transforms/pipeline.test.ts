import { describe, expect, it } from 'vitest';
import type { TransformConfig } from './config.js';
import { TransformPipeline } from './pipeline.js';

function runAll(p: TransformPipeline, readings: { sensor: string; value: number; ts: number }[]) {
  const removed: string[] = [];
  const kept = readings.map((r) => ({ ...r })).filter((r) => p.run(r, (t, reason) => removed.push(`${t}/${reason}`)));
  return { kept, removed };
}

const SPEC_CHAIN: TransformConfig[] = [
  { type: 'filter', sensors: 'temp_*', min: -40, max: 150 },
  { type: 'scale', sensors: 'raw_pressure', factor: 0.01, offset: -1.5, rename: 'pressure_bar' },
  { type: 'deadband', sensors: '*', absolute: 0.05, max_interval: 60_000 },
  { type: 'min_interval', sensors: 'vibration', interval: 100 },
  { type: 'round', sensors: '*', decimals: 3 },
];

describe('TransformPipeline', () => {
  it('runs the SPEC example chain in order, matching globs against the name at each step', () => {
    const p = TransformPipeline.build(SPEC_CHAIN);
    const { kept, removed } = runAll(p, [
      { sensor: 'temp_oven', value: 200, ts: 0 }, // filter: above_max
      { sensor: 'temp_oven', value: 21.23456, ts: 0 },
      { sensor: 'temp_oven', value: 21.26, ts: 10 }, // deadband: moved 0.025
      { sensor: 'raw_pressure', value: 250.12345, ts: 0 }, // → pressure_bar 1.0012345 → 1.001
      { sensor: 'vibration', value: 1, ts: 0 },
      { sensor: 'vibration', value: 5, ts: 50 }, // passes deadband, min_interval removes it
      { sensor: 'vibration', value: 9, ts: 100 },
    ]);
    expect(kept).toEqual([
      { sensor: 'temp_oven', value: 21.235, ts: 0 },
      { sensor: 'pressure_bar', value: 1.001, ts: 0 },
      { sensor: 'vibration', value: 1, ts: 0 },
      { sensor: 'vibration', value: 9, ts: 100 },
    ]);
    expect(removed).toEqual(['0:filter/above_max', '2:deadband/deadband', '3:min_interval/min_interval']);
  });

  it('labels a removal by the transform name when one is given', () => {
    const p = TransformPipeline.build([{ type: 'filter', name: 'plausible', sensors: ['a', 'b?'], max: 1 }]);
    expect(runAll(p, [{ sensor: 'b1', value: 2, ts: 0 }, { sensor: 'c', value: 2, ts: 0 }]).removed).toEqual(['plausible/above_max']);
  });

  it('a rebuild keeps the instance (and state) of each unchanged transform and replaces the changed ones', () => {
    const old = TransformPipeline.build(SPEC_CHAIN);
    runAll(old, [{ sensor: 'x', value: 1, ts: 0 }]); // deadband now remembers x = 1
    const changed = SPEC_CHAIN.map((t) => (t.type === 'round' ? { ...t, decimals: 1 } : t));
    const next = TransformPipeline.build([{ type: 'rename', sensors: 'y', to: 'z' }, ...changed], old);
    const [, ...rest] = next.transforms;
    expect(rest.slice(0, 4)).toEqual(old.transforms.slice(0, 4));
    expect(rest[0]).toBe(old.transforms[0]);
    expect(rest[2]).toBe(old.transforms[2]);
    expect(rest[4]).not.toBe(old.transforms[4]);
    // The kept deadband still holds x = 1 (so 1.01 is inside its band), under its new position's label.
    expect(runAll(next, [{ sensor: 'x', value: 1.01, ts: 10 }]).removed).toEqual(['3:deadband/deadband']);
  });

  it('an empty chain keeps everything untouched', () => {
    const p = TransformPipeline.build([]);
    expect(p.size).toBe(0);
    expect(runAll(p, [{ sensor: 'a', value: NaN, ts: 0 }]).kept).toHaveLength(1);
  });
});
