import { validateConfig } from '@tidemark/shared/config';
import { describe, expect, it } from 'vitest';
import { gpioSourceSchema } from './config.js';

describe('gpio source config', () => {
  it('fills defaults', () => {
    expect(validateConfig({ type: 'gpio', name: 'door', line: 17, sensor: 'door_open' }, gpioSourceSchema)).toEqual({
      type: 'gpio',
      name: 'door',
      chip: 'gpiochip0',
      line: 17,
      sensor: 'door_open',
      debounce_ms: 10,
      active_low: false,
      bias: 'as_is',
      driver: 'gpiod',
    });
  });

  it('requires line and sensor, and names the drivers', () => {
    expect(() => validateConfig({ type: 'gpio', name: 'door', driver: 'sysfs' }, gpioSourceSchema)).toThrow(
      /line: required\n {2}sensor: required\n {2}driver: expected one of gpiod \| fake, got "sysfs"/,
    );
  });
});
