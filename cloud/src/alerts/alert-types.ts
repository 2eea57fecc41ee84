// The alert vocabulary shared by the evaluator, its store, the notifiers and the API. A transition is
// immutable once committed: its id is derived from what it is (rule, device, sensor, event time, state,
// ordinal), so a replay of the same stream yields the same ids and a receiver that dedups by id sees each
// transition exactly once.

export type Severity = 'info' | 'warning' | 'critical';
export const SEVERITIES: readonly Severity[] = ['info', 'warning', 'critical'];

/** `normal` is where every series starts and where a pending alert that cleared before `for` returns. */
export type AlertState = 'normal' | 'pending' | 'firing' | 'resolved';

/** One state change of one alert series (rule, device, sensor), as stored, served and notified. */
export interface AlertTransition {
  /** Stable id (also the Standard Webhooks `webhook-id`). */
  id: string;
  /** The alert series this transition belongs to (rule + device + sensor). */
  alert_id: string;
  rule: string;
  device: string;
  /** Absent for device-level rules (offline, backlog, clock). */
  sensor: string | null;
  severity: Severity;
  state: AlertState;
  previous: AlertState;
  /** The value that caused the transition (reading, bucket stat, rate, score, or silence in seconds). */
  value: number | null;
  /** ISO 8601: the event time the transition happened at. */
  event_time: string;
  /** ISO 8601: since when the series has been in `state`'s condition (pending start for firing). */
  since: string;
  /** The transition happened in event time earlier than the device's watermark by more than the allowed lateness (a backlog). */
  late: boolean;
  message: string;
  labels: Record<string, string>;
}
