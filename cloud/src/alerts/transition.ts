// Builds a transition record: its id is a hash of what it is (series, ordinal, state, event time), so the same
// history always carries the same ids, and its message comes from the rule's template.
import { createHash } from 'node:crypto';
import type { AlertRuleConfig } from './alert-config.js';
import type { AlertState, AlertTransition } from './alert-types.js';
import type { StepResult } from './series-machine.js';

export function transitionId(alertId: string, ordinal: number, state: AlertState, eventTime: number): string {
  return 'tr_' + createHash('sha256').update(`${alertId}|${ordinal}|${state}|${eventTime}`).digest('hex').slice(0, 24);
}

const DEFAULT_MESSAGE = '{{rule}} {{state}}: {{device}} {{sensor}} = {{value}}';

/** `{{rule}} {{device}} {{sensor}} {{value}} {{state}} {{severity}}`; absent values render empty. */
export function renderMessage(template: string, t: { rule: string; device: string; sensor: string | null; value: number | null; state: string; severity: string }): string {
  return template
    .replace(/\{\{\s*(rule|device|sensor|value|state|severity)\s*\}\}/g, (_, k: string) => {
      const v = t[k as keyof typeof t];
      return v === null ? '' : String(v);
    })
    .replace(/\s+=\s*$/, '')
    .replace(/ {2,}/g, ' ');
}

export function buildTransition(
  alertId: string,
  ordinal: number,
  rule: AlertRuleConfig,
  device: string,
  sensor: string | null,
  step: StepResult,
  t: number,
  value: number | null,
  late: boolean,
): AlertTransition {
  const iso = (ms: number) => new Date(ms).toISOString();
  return {
    id: transitionId(alertId, ordinal, step.state, t),
    alert_id: alertId,
    rule: rule.name,
    device,
    sensor,
    severity: rule.severity,
    state: step.state,
    previous: step.previous,
    value,
    event_time: iso(t),
    since: iso(step.since),
    late,
    message: renderMessage(rule.message ?? DEFAULT_MESSAGE, { rule: rule.name, device, sensor, value, state: step.state, severity: rule.severity }),
    labels: rule.labels,
  };
}
