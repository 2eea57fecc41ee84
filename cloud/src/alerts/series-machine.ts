// The state machine of one alert series (rule, device, sensor), in event time: normal → pending → firing →
// resolved (→ pending … again). Pure and deterministic: the same sequence of observations gives the same
// transitions, which is what lets replay reproduce the alert history and lets a crash resume from the
// committed state. Pending needs its fire condition to hold without a break for `for`; firing ends only on
// the clear condition (hysteresis), so a value wobbling between the two thresholds does not flap.
import type { AlertState } from './alert-types.js';

/** What one observation says: the fire condition holds, the clear condition holds, or neither. */
export type Verdict = 'fire' | 'clear' | 'hold';

export interface SeriesState {
  state: AlertState;
  /** Event time (ms) since which the current condition holds (pending/firing: when it first fired). */
  since: number;
  /** Event time of the last transition. */
  eventTime: number;
  /** The observed value at the last transition. */
  value: number | null;
  /** Transitions so far (part of each transition's id). */
  ordinal: number;
  /** Whether the current firing episode was notified (a resolve is notified only if its firing was). */
  notifiedFiring: boolean;
}

export function initialSeries(): SeriesState {
  return { state: 'normal', since: 0, eventTime: 0, value: null, ordinal: 0, notifiedFiring: false };
}

export interface StepResult {
  state: AlertState;
  previous: AlertState;
  since: number;
}

/**
 * Applies one observation at event time `t`. Returns the transition it causes, if any, and updates `s`.
 * `forMs` is how long the fire condition must hold before firing (0: fire at once, without pending).
 */
export function stepSeries(s: SeriesState, verdict: Verdict, t: number, value: number | null, forMs: number): StepResult | undefined {
  const previous = s.state;
  const move = (state: AlertState, since: number): StepResult => {
    s.state = state;
    s.since = since;
    s.eventTime = t;
    s.value = value;
    s.ordinal += 1;
    return { state, previous, since };
  };
  switch (s.state) {
    case 'normal':
    case 'resolved':
      if (verdict !== 'fire') return undefined;
      return forMs <= 0 ? move('firing', t) : move('pending', t);
    case 'pending':
      if (verdict !== 'fire') return move('normal', t);
      if (t - s.since >= forMs) return move('firing', s.since);
      return undefined;
    case 'firing':
      return verdict === 'clear' ? move('resolved', t) : undefined;
  }
}
