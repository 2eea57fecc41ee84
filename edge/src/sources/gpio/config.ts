// Config of a GPIO source: one line of a gpiochip, reported as a 0/1 sensor with debounce.

import { z, zInt, zName, zString } from '@tidemark/shared/config';

export type GpioSourceConfig = {
  type: 'gpio';
  name: string;
  chip: string;
  line: number;
  sensor: string;
  debounce_ms: number;
  active_low: boolean;
  bias: 'as_is' | 'pull_up' | 'pull_down' | 'disable';
  /** `fake` reads an in-memory line (tests, demos without hardware). */
  driver: 'gpiod' | 'fake';
};

export const gpioSourceSchema = z.strictObject({
  type: z.literal('gpio'),
  name: zName('source name'),
  chip: zString('a gpiochip name or path such as gpiochip0').default('gpiochip0'),
  line: zInt({ min: 0 }),
  sensor: zName('sensor name'),
  debounce_ms: zInt({ min: 0 }).default(10),
  active_low: z.boolean().default(false),
  bias: z.enum(['as_is', 'pull_up', 'pull_down', 'disable']).default('as_is'),
  driver: z.enum(['gpiod', 'fake']).default('gpiod'),
});

const _output: z.ZodType<GpioSourceConfig> = gpioSourceSchema;
void _output;
