// Alert transitions for tests: a valid, fully populated transition with the given fields replaced.
import type { AlertTransition } from '../../alert-types.js';

let counter = 0;

export function makeTransition(overrides: Partial<AlertTransition> = {}): AlertTransition {
  counter += 1;
  const rule = overrides.rule ?? 'oven-hot';
  const device = overrides.device ?? 'oven-1';
  return {
    id: `tr-${counter}-${Math.random().toString(36).slice(2, 8)}`,
    alert_id: `${rule}/${device}/temp_c`,
    rule,
    device,
    sensor: 'temp_c',
    severity: 'critical',
    state: 'firing',
    previous: 'pending',
    value: 251.5,
    event_time: '2026-01-01T00:02:00.000Z',
    since: '2026-01-01T00:00:00.000Z',
    late: false,
    message: 'temp_c above 250 for 2m',
    labels: {},
    ...overrides,
  };
}
