// `alerts:` in the cloud config (SPEC "Cloud config"): rules, notifiers, flapping bound and delivery
// policy. Strict: a key a rule's kind does not use, an unknown bucket stat or resolution, a bad glob or tag selector, a
// `for` shorter than the bucket it watches, a rule without a condition — each is an error with its path.
import {
  evenWithIssues,
  formatDuration,
  parseDuration,
  reportDuplicates,
  z,
  zDuration,
  zInt,
  zName,
  zNumber,
  zString,
  zUrl,
  type Resolution,
} from '@tidemark/shared/config';
import { SEVERITIES, type Severity } from './alert-types.js';
import { globProblem } from './glob.js';
import { parseSelector, type DeviceSelector } from './device-selector.js';
import { deliverySchema, notifyListSchema, type DeliveryConfig, type NotifyEntryConfig } from './notify/notify-config.js';

export const RULE_KINDS = ['threshold', 'rate', 'anomaly', 'no_data', 'offline', 'backlog', 'clock'] as const;
export type RuleKind = (typeof RULE_KINDS)[number];
export const BUCKET_STATS = ['avg', 'min', 'max', 'sum', 'count', 'first', 'last', 'stddev'] as const;
export type BucketStat = (typeof BUCKET_STATS)[number];

/** Which optional keys each kind takes (besides the common ones). */
const KIND_KEYS: Record<RuleKind, readonly string[]> = {
  threshold: ['sensor', 'on', 'above', 'below', 'clear_below', 'clear_above'],
  rate: ['sensor', 'above', 'below', 'clear_below', 'clear_above'],
  anomaly: ['sensor', 'threshold', 'clear_threshold', 'window', 'min_history'],
  no_data: ['sensor', 'after'],
  offline: ['after'],
  backlog: ['above'],
  clock: [],
};
const COMMON_KEYS = ['name', 'kind', 'devices', 'severity', 'for', 'labels', 'message', 'notify_late'];
const OPTIONAL_KIND_KEYS = new Set(Object.values(KIND_KEYS).flat());

export interface AlertRuleConfig {
  name: string;
  kind: RuleKind;
  /** A device glob, or a tag the device must have (device-selector.ts). */
  devices: DeviceSelector;
  /** Sensor glob (sensor-level kinds). */
  sensor?: string;
  /** `reading`, or a bucket stat at a configured resolution. */
  on: { kind: 'reading' } | { kind: 'bucket'; resolution: Resolution; stat: BucketStat };
  above?: number;
  below?: number;
  clear_below?: number;
  clear_above?: number;
  /** anomaly: robust z-score to fire at / clear below. */
  threshold?: number;
  clear_threshold?: number;
  /** anomaly: readings in the rolling window / needed before it may fire. */
  window?: number;
  min_history?: number;
  /** no_data / offline: silence (ms) before firing. backlog: `above` is a duration (ms). */
  after?: number;
  /** ms the condition must hold in event time before firing. */
  for: number;
  severity: Severity;
  labels: Record<string, string>;
  message?: string;
  notify_late: boolean;
}

export interface AlertsConfig {
  rules: AlertRuleConfig[];
  /** The configured notifiers (the built-in `log` notifier comes on top). */
  notify: NotifyEntryConfig[];
  flapping: { max_notifications: number; window: number };
  delivery: DeliveryConfig;
  /**
   * ms: how long the evaluator may keep its evaluation state before committing it with its offset (0: commit
   * every chunk). Transitions are stored at once, ahead of it (alert-evaluator.ts).
   */
  checkpoint_interval: number;
}

const ruleInput = z
  .looseObject({
    name: zName('rule name'),
    kind: z.enum(RULE_KINDS),
    devices: z.union([z.string(), z.strictObject({ tag: zString('a tag selector like site=plant-3') })]).default('*'),
    sensor: z.string().optional(),
    on: z.string().default('reading'),
    above: z.union([zNumber(), z.string()]).optional(),
    below: zNumber().optional(),
    clear_below: zNumber().optional(),
    clear_above: zNumber().optional(),
    threshold: zNumber({ min: 0 }).optional(),
    clear_threshold: zNumber({ min: 0 }).optional(),
    window: zInt({ min: 3, max: 100_000 }).optional(),
    min_history: zInt({ min: 3, max: 100_000 }).optional(),
    after: zDuration({ min: 1 }).optional(),
    for: zDuration().prefault('0s'),
    severity: z.enum(SEVERITIES).default('warning'),
    labels: z.record(z.string(), z.string()).default({}),
    message: zString().optional(),
    notify_late: z.boolean().default(true),
  });


/** Parsed `alerts` before the resolutions are known (the cloud schema finishes it with finishAlerts). */
export type AlertsInput = Omit<AlertsConfig, 'rules'> & { rules: Record<string, unknown>[] };

/**
 * The `alerts` schema. `on: 1m.avg` needs the configured resolutions, which live in another section: the
 * cloud schema calls checkAlertResolutions and finishAlerts with them.
 */
export function alertsSchema() {
  return z
    .strictObject({
      rules: z.array(ruleInput).default([]),
      notify: notifyListSchema,
      flapping: z
        .strictObject({ max_notifications: zInt({ min: 1 }).default(10), window: zDuration({ min: 1000 }).prefault('1h') })
        .prefault({}),
      delivery: deliverySchema,
      checkpoint_interval: zDuration({ max: 60_000 }).prefault('5s'),
    })
    .superRefine((a, ctx) => {
      if (!Array.isArray(a.rules)) return;
      reportDuplicates(ctx, a.rules.map((r) => (r as { name?: unknown }).name), 'rule name', (i) => ['rules', i, 'name'], (i) => `alerts.rules[${i}]`);
      a.rules.forEach((r, i) => checkRule(r as Record<string, unknown>, i, ctx));
    }, evenWithIssues)
    .transform((a): AlertsInput => a as AlertsInput);
}

/** The checks that need aggregation.resolutions: `on` and `for` against the bucket it watches. */
export function checkAlertResolutions(alerts: unknown, resolutions: readonly Resolution[], ctx: z.RefinementCtx): void {
  const rules = (alerts as { rules?: unknown } | undefined)?.rules;
  if (!Array.isArray(rules)) return;
  rules.forEach((r: Record<string, unknown>, i) => {
    if (typeof r?.on !== 'string') return;
    const at = ['alerts', 'rules', i];
    const on = parseOn(r.on, resolutions);
    if ('problem' in on) return issue(ctx, [...at, 'on'], on.problem, r.on);
    const onMs = on.ok.kind === 'bucket' ? on.ok.resolution.ms : 0;
    if (onMs > 0 && typeof r.for === 'number' && r.for > 0 && r.for < onMs) {
      issue(ctx, [...at, 'for'], `${formatDuration(r.for)} is shorter than the ${formatDuration(onMs)} buckets it watches (use 0s or at least ${formatDuration(onMs)})`, r.for);
    }
  });
}

export function finishAlerts(a: AlertsInput, resolutions: readonly Resolution[]): AlertsConfig {
  return { ...a, rules: a.rules.map((r) => toRule(r, resolutions)) };
}

function issue(ctx: z.RefinementCtx, path: (string | number)[], message: string, input?: unknown): void {
  ctx.addIssue({ code: 'custom', path, input, message });
}

function parseOn(on: string, resolutions: readonly Resolution[]): { ok: AlertRuleConfig['on'] } | { problem: string } {
  if (on === 'reading') return { ok: { kind: 'reading' } };
  const m = /^([^.]+)\.([a-z]+)$/.exec(on);
  const want = `"reading" or <resolution>.<stat> with a configured resolution (${resolutions.map((r) => r.label).join(', ')}) and a stat (${BUCKET_STATS.join(', ')})`;
  if (!m) return { problem: `expected ${want}, got ${JSON.stringify(on)}` };
  let ms: number;
  try {
    ms = parseDuration(m[1]!);
  } catch {
    return { problem: `${JSON.stringify(m[1])} is not a resolution; expected ${want}` };
  }
  const resolution = resolutions.find((r) => r.ms === ms);
  if (!resolution) return { problem: `${JSON.stringify(m[1])} is not one of aggregation.resolutions (${resolutions.map((r) => r.label).join(', ')})` };
  if (!(BUCKET_STATS as readonly string[]).includes(m[2]!)) return { problem: `unknown bucket stat ${JSON.stringify(m[2])}; expected one of ${BUCKET_STATS.join(', ')}` };
  return { ok: { kind: 'bucket', resolution, stat: m[2] as BucketStat } };
}

function checkRule(r: Record<string, unknown>, i: number, ctx: z.RefinementCtx): void {
  const at = (...p: (string | number)[]) => ['rules', i, ...p];
  const kind = (RULE_KINDS as readonly unknown[]).includes(r.kind) ? (r.kind as RuleKind) : undefined;
  for (const key of Object.keys(r)) {
    if (COMMON_KEYS.includes(key)) continue;
    if (!OPTIONAL_KIND_KEYS.has(key)) {
      issue(ctx, at(key), `unknown key "${key}"`, r[key]);
    } else if (kind && !KIND_KEYS[kind]?.includes(key) && !(key === 'on' && r.on === 'reading')) {
      issue(ctx, at(key), `"${key}" does not apply to kind ${kind} (it takes: ${[...KIND_KEYS[kind]!].join(', ') || 'no condition keys'})`, r[key]);
    }
  }
  if (!kind) return;
  if (typeof r.devices === 'string' || typeof (r.devices as { tag?: unknown } | undefined)?.tag === 'string') {
    const sel = parseSelector(r.devices as string | { tag: string });
    if ('problem' in sel) issue(ctx, sel.key ? at('devices', sel.key) : at('devices'), sel.problem, r.devices);
  }
  const sensorLevel = KIND_KEYS[kind].includes('sensor');
  if (sensorLevel) {
    if (typeof r.sensor !== 'string') issue(ctx, at('sensor'), `kind ${kind} needs a sensor (a name or glob)`, r.sensor);
    else {
      const p = globProblem(r.sensor);
      if (p) issue(ctx, at('sensor'), p, r.sensor);
    }
  }
  const num = (k: string) => (typeof r[k] === 'number' ? (r[k] as number) : undefined);
  if (kind === 'threshold' || kind === 'rate') {
    if (typeof r.above === 'string') issue(ctx, at('above'), 'expected a number', r.above);
    const above = num('above');
    const below = num('below');
    if (above === undefined && below === undefined) issue(ctx, at('above'), `kind ${kind} needs "above" or "below"`);
    if (above !== undefined && below !== undefined) issue(ctx, at('below'), 'use either "above" or "below" in one rule (make two rules for a band)');
    const cb = num('clear_below');
    const ca = num('clear_above');
    if (cb !== undefined && above === undefined) issue(ctx, at('clear_below'), 'clear_below goes with "above"');
    if (ca !== undefined && below === undefined) issue(ctx, at('clear_above'), 'clear_above goes with "below"');
    if (cb !== undefined && above !== undefined && cb > above) issue(ctx, at('clear_below'), `must be at most above (${above})`, cb);
    if (ca !== undefined && below !== undefined && ca < below) issue(ctx, at('clear_above'), `must be at least below (${below})`, ca);
  }
  if (kind === 'anomaly') {
    const t = num('threshold') ?? 6;
    const ct = num('clear_threshold');
    if (ct !== undefined && ct > t) issue(ctx, at('clear_threshold'), `must be at most threshold (${t})`, ct);
    const w = num('window') ?? 120;
    const h = num('min_history');
    if (h !== undefined && h > w) issue(ctx, at('min_history'), `must be at most window (${w})`, h);
  }
  if ((kind === 'no_data' || kind === 'offline') && r.after === undefined) issue(ctx, at('after'), `kind ${kind} needs "after" (a duration such as 5m)`);
  if (kind === 'backlog') {
    if (r.above === undefined) issue(ctx, at('above'), 'kind backlog needs "above": how old the oldest buffered reading may get (a duration such as 10m)');
    else {
      try {
        parseDuration(r.above as string | number);
      } catch {
        issue(ctx, at('above'), `expected a duration such as 10m, got ${JSON.stringify(r.above)}`, r.above);
      }
    }
  }
}

function toRule(r: Record<string, unknown>, resolutions: readonly Resolution[]): AlertRuleConfig {
  const on = parseOn((r.on as string | undefined) ?? 'reading', resolutions);
  const kind = r.kind as RuleKind;
  const out: AlertRuleConfig = {
    name: r.name as string,
    kind,
    devices: selectorOf(r.devices),
    on: 'ok' in on ? on.ok : { kind: 'reading' },
    for: r.for as number,
    severity: r.severity as Severity,
    labels: r.labels as Record<string, string>,
    notify_late: r.notify_late as boolean,
  };
  for (const k of ['sensor', 'message'] as const) if (typeof r[k] === 'string') out[k] = r[k] as string;
  for (const k of ['below', 'clear_below', 'clear_above', 'threshold', 'clear_threshold', 'window', 'min_history', 'after'] as const) {
    if (typeof r[k] === 'number') out[k] = r[k] as number;
  }
  if (r.above !== undefined) out.above = kind === 'backlog' ? parseDuration(r.above as string | number) : (r.above as number);
  return out;
}

function selectorOf(devices: unknown): DeviceSelector {
  const sel = parseSelector((devices ?? '*') as string | { tag: string });
  return 'ok' in sel ? sel.ok : '*';
}
