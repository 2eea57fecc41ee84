import fc from 'fast-check';
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

describe('TransformPipeline (property)', () => {
  const sensorNames = ['temp_a', 'temp_b', 'raw_p', 'vib', 'flat'];
  const glob = fc.constantFrom('*', 'temp_*', 'raw_p', 'vib', 'fl?t', 'nothing');
  const transform: fc.Arbitrary<TransformConfig> = fc.oneof(
    fc.record({ type: fc.constant('filter' as const), sensors: glob, min: fc.integer({ min: -50, max: 0 }), max: fc.integer({ min: 1, max: 50 }) }),
    fc.record({ type: fc.constant('scale' as const), sensors: glob, factor: fc.double({ min: -3, max: 3, noNaN: true }), offset: fc.integer({ min: -5, max: 5 }) }),
    fc.record({ type: fc.constant('scale' as const), sensors: fc.constantFrom(...sensorNames), factor: fc.constant(2), rename: fc.constantFrom('renamed', 'vib') }),
    fc.record({ type: fc.constant('rename' as const), sensors: fc.constantFrom(...sensorNames), to: fc.constantFrom('temp_z', 'other') }),
    fc.record({ type: fc.constant('deadband' as const), sensors: glob, absolute: fc.double({ min: 0, max: 5, noNaN: true }), max_interval: fc.integer({ min: 1, max: 500 }) }),
    fc.record({ type: fc.constant('min_interval' as const), sensors: glob, interval: fc.integer({ min: 1, max: 300 }) }),
    fc.record({ type: fc.constant('round' as const), sensors: glob, decimals: fc.integer({ min: 0, max: 4 }) }),
  );
  const readingArb = fc.record({
    sensor: fc.constantFrom(...sensorNames),
    value: fc.oneof(fc.double({ min: -100, max: 100, noNaN: true }), fc.constant(NaN)),
    dt: fc.integer({ min: 0, max: 100 }),
  });

  it('every reading is either kept (with a valid name) or reported removed exactly once, and a rebuild with an unchanged config changes no outcome', () => {
    fc.assert(
      fc.property(fc.array(transform, { maxLength: 6 }), fc.array(readingArb, { maxLength: 60 }), (configs, inputs) => {
        const steady = TransformPipeline.build(configs);
        let rebuilt = TransformPipeline.build(configs);
        let ts = 1_000;
        let kept = 0;
        let removed = 0;
        inputs.forEach((x, i) => {
          ts += x.dt;
          if (i === Math.floor(inputs.length / 2)) rebuilt = TransformPipeline.build(configs, rebuilt); // a reload with no change
          const r = { sensor: x.sensor, value: x.value, ts };
          const twin = { ...r };
          const reasons: string[] = [];
          const ok = steady.run(r, (t, reason) => reasons.push(`${t}/${reason}`));
          const twinReasons: string[] = [];
          expect(rebuilt.run(twin, (t, reason) => twinReasons.push(`${t}/${reason}`))).toBe(ok);
          expect(twinReasons).toEqual(reasons);
          if (ok) {
            kept++;
            expect(reasons).toEqual([]);
            expect(/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/.test(r.sensor)).toBe(true);
            expect(r.ts).toBe(ts);
            expect(twin.sensor).toBe(r.sensor);
            expect(Object.is(twin.value, r.value)).toBe(true);
          } else {
            removed++;
            expect(reasons).toHaveLength(1);
          }
        });
        expect(kept + removed).toBe(inputs.length);
      }),
      { numRuns: 300 },
    );
  });
});
