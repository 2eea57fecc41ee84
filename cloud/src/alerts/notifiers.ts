// The configured notifiers (alerts.notify) by name: `webhook:<index>`, `mqtt`, `log`. Outbox rows carry these
// names, so they must stay stable across restarts for the same config.
import type { NotifierConfig } from './alert-config.js';

export function notifierName(n: NotifierConfig, index: number): string {
  return n.type === 'webhook' ? `webhook:${index}` : n.type;
}

export function notifierNames(list: readonly NotifierConfig[]): string[] {
  return list.map(notifierName);
}
