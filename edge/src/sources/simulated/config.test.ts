import { validateConfig } from '@tidemark/shared/config';
import { describe, expect, it } from 'vitest';
import { simulatedSourceSchema } from './config.js';

describe('simulated source config', () => {
  it('fills defaults', () => {
    expect(validateConfig({ type: 'simulated', name: 'sim', seed: 7, sensors: [{ name: 't', shape: 'noise' }] }, simulatedSourceSchema)).toEqual({
      type: 'simulated',
      name: 'sim',
      rate_hz: 1,
      seed: 7,
      sensors: [{ name: 't', shape: 'noise', min: 0, max: 1, period_s: 60, decimals: 2 }],
    });
  });

  it('checks ranges', () => {
    const sensors = [{ name: 't', shape: 'step', decimals: 10, period_s: 0, min: 5, max: 4 }];
    expect(() => validateConfig({ type: 'simulated', name: 'sim', rate_hz: 20_000, sensors }, simulatedSourceSchema)).toThrow(
      /rate_hz: expected a number > 0 and <= 10000\n {2}sensors\[0\]\.period_s: expected a positive number\n {2}sensors\[0\]\.decimals: expected an integer from 0 to 9\n {2}sensors\[0\]\.max: max \(4\) is less than min \(5\)/,
    );
  });

  it('needs at least one sensor', () => {
    expect(() => validateConfig({ type: 'simulated', name: 'sim', sensors: [] }, simulatedSourceSchema)).toThrow(/sensors: list at least one sensor/);
  });
});
