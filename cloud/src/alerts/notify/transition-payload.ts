// The one JSON form of a transition that leaves the collector (webhook body, MQTT payload): the transition's
// own fields plus the Standard Webhooks event `type`, so receivers of either see the same document.
import type { AlertTransition } from '../alert-types.js';

export const ALERT_EVENT_TYPE = 'alert.transition';

export function transitionPayload(transition: AlertTransition): string {
  return JSON.stringify({ type: ALERT_EVENT_TYPE, ...transition });
}
