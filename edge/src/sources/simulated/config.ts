// Config of the simulated source: sensors with deterministic wave shapes (seeded), for demos and tests.

import { evenWithIssues, reportDuplicates, z, zInt, zName, zNumber } from '@tidemark/shared/config';

export const SIMULATED_SHAPES = ['sine', 'square', 'random_walk', 'step', 'noise'] as const;

export type SimulatedSensorConfig = {
  name: string;
  shape: (typeof SIMULATED_SHAPES)[number];
  min: number;
  max: number;
  period_s: number;
  decimals: number;
};

export type SimulatedSourceConfig = {
  type: 'simulated';
  name: string;
  rate_hz: number;
  seed?: number;
  sensors: SimulatedSensorConfig[];
};

const sensorSchema = z
  .strictObject({
    name: zName('sensor name'),
    shape: z.enum(SIMULATED_SHAPES),
    min: zNumber().default(0),
    max: zNumber().default(1),
    period_s: zNumber({ gt: 0 }).default(60),
    decimals: zInt({ min: 0, max: 9 }).default(2),
  })
  .superRefine((s, ctx) => {
    if (typeof s.min === 'number' && typeof s.max === 'number' && s.max < s.min) {
      ctx.addIssue({ code: 'custom', path: ['max'], input: s.max, message: `max (${s.max}) is less than min (${s.min})` });
    }
  }, evenWithIssues);

export const simulatedSourceSchema = z.strictObject({
  type: z.literal('simulated'),
  name: zName('source name'),
  rate_hz: zNumber({ gt: 0, max: 10_000 }).default(1),
  seed: zInt().optional(),
  sensors: z
    .array(sensorSchema)
    .min(1, 'list at least one sensor')
    .superRefine((sensors, ctx) => {
      reportDuplicates(ctx, sensors.map((s) => (s as { name?: unknown } | undefined)?.name), 'sensor name', (i) => [i, 'name'], (i) => `sensors[${i}]`);
    }, { when: (p) => Array.isArray(p.value) }),
});

const _output: z.ZodType<SimulatedSourceConfig> = simulatedSourceSchema;
void _output;
