import { ConfigError, parseConfigText, z, type ConfigIssue } from '@tidemark/shared/config';
import { describe, expect, it } from 'vitest';
import { transformsSchema } from './config.js';

const schema = z.strictObject({ transforms: transformsSchema });
const parse = (yaml: string) => parseConfigText(yaml, schema, { source: 'edge.yaml', env: {} }).transforms;

function issues(yaml: string): string[] {
  try {
    parse(yaml);
  } catch (err) {
    if (err instanceof ConfigError) return err.issues.map((i: ConfigIssue) => `${i.path}: ${i.message}`);
    throw err;
  }
  throw new Error('expected a ConfigError');
}

describe('transforms config', () => {
  it('accepts the SPEC example, with durations in ms', () => {
    const t = parse(`transforms:
  - { type: filter, sensors: "temp_*", min: -40, max: 150 }
  - { type: scale, sensors: raw_pressure, factor: 0.01, offset: -1.5, rename: pressure_bar }
  - { type: deadband, sensors: "*", absolute: 0.05, max_interval: 60s }
  - { type: deadband, sensors: "*", percent: 1 }
  - { type: min_interval, sensors: vibration, interval: 100ms }
  - { type: round, sensors: "*", decimals: 3 }
  - { type: rename, sensors: tmp1, to: temp_c }
  - { type: scale, sensors: [level_ma], input_range: [4, 20], output_range: [0, 100] }
`);
    expect(t[2]).toEqual({ type: 'deadband', sensors: '*', absolute: 0.05, max_interval: 60_000 });
    expect(t[4]).toEqual({ type: 'min_interval', sensors: 'vibration', interval: 100 });
    expect(t).toHaveLength(8);
  });

  it('reports every error with its path', () => {
    const errs = issues(`transforms:
  - { type: filter, sensors: "temp c", min: 5, max: 1 }
  - { type: scale, sensors: "raw_*", factor: 2, rename: "bad name" }
  - { type: scale, sensors: a, factor: 2, input_range: [1, 1] }
  - { type: rename, sensors: "a*", to: b }
  - { type: deadband, sensors: "*", absolute: 1, percent: 2 }
  - { type: deadband, sensors: "*" }
  - { type: min_interval, sensors: v, interval: soon }
  - { type: round, sensors: "*", decimals: 20, extra: 1 }
  - { type: average, sensors: "*" }
  - { type: round, name: r, sensors: "*", decimals: 1 }
  - { type: round, name: r, sensors: "*", decimals: 2 }
`);
    const paths = errs.map((e) => e.split(':')[0]);
    for (const p of [
      'transforms[0].sensors',
      'transforms[0].max',
      'transforms[1].rename',
      'transforms[1].sensors',
      'transforms[2].factor',
      'transforms[2].input_range',
      'transforms[3].sensors',
      'transforms[4].percent',
      'transforms[5].absolute',
      'transforms[6].interval',
      'transforms[7].decimals',
      'transforms[7].extra',
      'transforms[8].type',
      'transforms[10].name',
    ]) {
      expect(paths, errs.join('\n')).toContain(p);
    }
  });
});
