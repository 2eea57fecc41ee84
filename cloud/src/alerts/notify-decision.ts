// Whether a committed transition is notified, decided once, when it is committed (so a replay or a restart
// decides the same): only firing and resolved are sent; a resolve only if its firing was; a late firing only
// if the rule says notify_late; and at most flapping.max_notifications firings per (rule, device) within
// flapping.window of event time — the rest are recorded, not sent. The flapping window lives in `kv`, which
// the caller commits with the transition.
import type { AlertTransition } from './alert-types.js';
import type { SeriesState } from './series-machine.js';

export interface NotifyPolicy {
  notifiers: readonly string[];
  flapping: { max_notifications: number; window: number };
}

/** Returns why the transition is not sent, or undefined when it is; updates `machine` and `kv` accordingly. */
export function decideNotify(
  machine: SeriesState,
  t: AlertTransition,
  notifyLate: boolean,
  policy: NotifyPolicy,
  kv: { get(key: string): string | undefined; set(key: string, value: string): void },
): string | undefined {
  if (t.state !== 'firing' && t.state !== 'resolved') return t.state;
  if (t.state === 'resolved') {
    if (!machine.notifiedFiring) return 'firing_not_notified';
    machine.notifiedFiring = false;
    return policy.notifiers.length === 0 ? 'no_notifiers' : undefined;
  }
  if (t.late && !notifyLate) return 'late';
  if (policy.notifiers.length === 0) return 'no_notifiers';
  const key = `flap\u0000${t.rule}\u0000${t.device}`;
  const at = Date.parse(t.event_time);
  const window = policy.flapping.window;
  const times = (JSON.parse(kv.get(key) ?? '[]') as number[]).filter((x) => x > at - window && x <= at);
  if (times.length >= policy.flapping.max_notifications) return 'flapping';
  times.push(at);
  kv.set(key, JSON.stringify(times));
  machine.notifiedFiring = true;
  return undefined;
}
