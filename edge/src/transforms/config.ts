// Config of the transform chain (`transforms:`): one strict schema per transform type, cross-field rules
// beside them. Loaded only by the config loader (in the validator's child process), never by the agent's
// runtime path, so zod stays out of the long-running agent's memory.

import { evenWithIssues, NAME_PATTERN, reportDuplicates, z, zDuration, zInt, zName, zNumber } from '@tidemark/shared/config';
import { isWildcard } from './sensor-glob.js';

/** One glob or a list of globs over sensor names (`*` any run of characters, `?` one character). */
export type SensorSelector = string | string[];

interface Common {
  /** Label in metrics and logs; default `<index>:<type>`. */
  name?: string;
  sensors: SensorSelector;
}

export type FilterTransformConfig = Common & { type: 'filter'; min?: number; max?: number };
export type ScaleTransformConfig = Common & {
  type: 'scale';
  factor?: number;
  offset?: number;
  input_range?: [number, number];
  output_range?: [number, number];
  rename?: string;
};
export type RenameTransformConfig = Common & { type: 'rename'; to: string };
export type DeadbandTransformConfig = Common & { type: 'deadband'; absolute?: number; percent?: number; max_interval?: number };
export type MinIntervalTransformConfig = Common & { type: 'min_interval'; interval: number };
export type RoundTransformConfig = Common & { type: 'round'; decimals: number };

export type TransformConfig =
  | FilterTransformConfig
  | ScaleTransformConfig
  | RenameTransformConfig
  | DeadbandTransformConfig
  | MinIntervalTransformConfig
  | RoundTransformConfig;

export const TRANSFORM_TYPES = ['filter', 'scale', 'rename', 'deadband', 'min_interval', 'round'] as const;

const GLOB = /^[A-Za-z0-9._*?-]{1,64}$/;
const globError = `expected a sensor name or glob (letters, digits, ".", "_", "-", with "*" and "?" as wildcards), as in ${NAME_PATTERN}`;
const zGlob = () => z.string({ error: globError }).regex(GLOB, { error: (iss) => `${globError}; got ${JSON.stringify(iss.input)}` });
const zSensors = () => z.union([zGlob(), z.array(zGlob()).min(1, 'list at least one sensor glob')], { error: globError });
const common = { name: zName('transform name').optional(), sensors: zSensors() };
const zRange = () => z.tuple([zNumber(), zNumber()], { error: 'expected two numbers, [low, high]' });

/** A rename turns one sensor into another; on a glob it would merge several series into one name. */
function requireOneSensor(sensors: unknown, key: string, ctx: z.core.$RefinementCtx): void {
  const list = typeof sensors === 'string' ? [sensors] : Array.isArray(sensors) ? sensors : undefined;
  if (!list) return;
  if (list.length !== 1 || typeof list[0] !== 'string' || isWildcard(list[0])) {
    ctx.addIssue({ code: 'custom', path: ['sensors'], input: sensors, message: `${key} needs exactly one sensor name without wildcards (a rename of several sensors would merge them into one)` });
  }
}

const filterSchema = z
  .strictObject({ type: z.literal('filter'), ...common, min: zNumber().optional(), max: zNumber().optional() })
  .superRefine((t, ctx) => {
    if (typeof t.min === 'number' && typeof t.max === 'number' && t.max < t.min) {
      ctx.addIssue({ code: 'custom', path: ['max'], input: t.max, message: `max (${t.max}) is less than min (${t.min})` });
    }
  }, evenWithIssues);

const scaleSchema = z
  .strictObject({
    type: z.literal('scale'),
    ...common,
    factor: zNumber().optional(),
    offset: zNumber().optional(),
    input_range: zRange().optional(),
    output_range: zRange().optional(),
    rename: zName('sensor name').optional(),
  })
  .superRefine((t, ctx) => {
    const linear = t.factor !== undefined || t.offset !== undefined;
    const ranged = t.input_range !== undefined || t.output_range !== undefined;
    if (linear && ranged) {
      ctx.addIssue({ code: 'custom', path: [t.factor !== undefined ? 'factor' : 'offset'], message: 'use either factor/offset or input_range/output_range, not both' });
    } else if (!linear && !ranged) {
      ctx.addIssue({ code: 'custom', path: ['factor'], message: 'set factor and/or offset, or input_range and output_range' });
    }
    if (ranged && !linear) {
      if (t.input_range === undefined) ctx.addIssue({ code: 'custom', path: ['input_range'], message: 'required with output_range' });
      if (t.output_range === undefined) ctx.addIssue({ code: 'custom', path: ['output_range'], message: 'required with input_range' });
    }
    if (Array.isArray(t.input_range) && t.input_range[0] === t.input_range[1]) {
      ctx.addIssue({ code: 'custom', path: ['input_range'], input: t.input_range, message: 'the two ends must differ' });
    }
    if (t.rename !== undefined) requireOneSensor(t.sensors, 'rename', ctx);
  }, evenWithIssues);

const renameSchema = z
  .strictObject({ type: z.literal('rename'), ...common, to: zName('sensor name') })
  .superRefine((t, ctx) => requireOneSensor(t.sensors, 'rename', ctx), evenWithIssues);

const deadbandSchema = z
  .strictObject({
    type: z.literal('deadband'),
    ...common,
    absolute: zNumber({ min: 0 }).optional(),
    percent: zNumber({ gt: 0 }).optional(),
    max_interval: zDuration({ min: 1 }).optional(),
  })
  .superRefine((t, ctx) => {
    if (t.absolute !== undefined && t.percent !== undefined) {
      ctx.addIssue({ code: 'custom', path: ['percent'], message: 'set either absolute or percent, not both' });
    } else if (t.absolute === undefined && t.percent === undefined) {
      ctx.addIssue({ code: 'custom', path: ['absolute'], message: 'set absolute (a value change) or percent (of the last sent value)' });
    }
  }, evenWithIssues);

const minIntervalSchema = z.strictObject({ type: z.literal('min_interval'), ...common, interval: zDuration({ min: 1 }) });

const roundSchema = z.strictObject({ type: z.literal('round'), ...common, decimals: zInt({ min: 0, max: 15 }) });

export const transformSchema = z.discriminatedUnion('type', [filterSchema, scaleSchema, renameSchema, deadbandSchema, minIntervalSchema, roundSchema]);

export const transformsSchema = z
  .array(transformSchema)
  .superRefine((list, ctx) => {
    reportDuplicates(ctx, list.map((t) => (t as { name?: unknown } | undefined)?.name), 'transform name', (i) => [i, 'name'], (i) => `transforms[${i}]`);
  }, { when: (p) => Array.isArray(p.value) });

const _output: z.ZodType<TransformConfig[]> = transformsSchema;
void _output;
