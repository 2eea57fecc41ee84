// The alert benchmarks' rule set: 1,000 rules in the config's own input form (what a YAML file holds), a
// realistic mix of kinds. Most rules watch devices that are not sending (other sites), as in a fleet where
// each rule concerns a few devices; the rest match every flowing reading several times over and never fire
// on the benchmark's load. Deterministic, so every run loads the same rules.
//
// What each flowing reading meets (FLEET_WIDE + the per-device rules of its device on its sensor):
//   fleet-wide, on every sensor of every flowing device: threshold on the reading (above, below), threshold
//   on 1m.avg, threshold on 1m.max, rate (above, below), anomaly (robust z, window 120), no_data (5m);
//   per flowing device, one rule on each of its sensors, kinds rotating threshold / 1m.avg / rate / anomaly.
// So ~9 rules evaluate every reading, ~1.25 of them anomaly; the other ~990 rules only cost the rule lookup.

export type RuleInput = Record<string, unknown>;

/** Never crossed by the benchmarks' values (0..100 random walks, fixture sensors up to ~1,800). */
const HIGH = 1e6;
/** The anomaly rules' threshold: above what a 0..100 random walk ever scores (see anomaly-fpr), so they never fire. */
export const QUIET_ANOMALY_THRESHOLD = 12;

export interface RuleSetOptions {
  /** A glob matching every flowing device (e.g. "lat-*"). */
  fleetGlob: string;
  /** The flowing devices and their sensors (for per-device rules). */
  devices: readonly string[];
  sensors: readonly string[];
  /** Rules in all (default 1,000), the spike rule included when given. */
  total?: number;
  /** The one rule meant to fire, if any (counted in `total`). */
  spike?: RuleInput;
  /** Leave out the anomaly rules (to measure what they cost). */
  withoutAnomaly?: boolean;
}

export const FLEET_WIDE = 8;

export function benchRules(o: RuleSetOptions): RuleInput[] {
  const total = o.total ?? 1000;
  const rules: RuleInput[] = [];
  const add = (r: RuleInput) => {
    if (o.withoutAnomaly && r.kind === 'anomaly') return;
    rules.push({ name: `r${String(rules.length).padStart(4, '0')}-${r.kind as string}`, ...r });
  };
  const fleet = { devices: o.fleetGlob, sensor: '*' };
  add({ kind: 'threshold', ...fleet, above: HIGH, clear_below: HIGH / 2, severity: 'critical' });
  add({ kind: 'threshold', ...fleet, below: -HIGH, severity: 'critical' });
  add({ kind: 'threshold', ...fleet, on: '1m.avg', above: HIGH, for: '2m' });
  add({ kind: 'threshold', ...fleet, on: '1m.max', above: HIGH });
  add({ kind: 'rate', ...fleet, above: 1e12, for: '30s' });
  add({ kind: 'rate', ...fleet, below: -1e12 });
  add({ kind: 'anomaly', ...fleet, threshold: QUIET_ANOMALY_THRESHOLD, severity: 'info' });
  add({ kind: 'no_data', ...fleet, after: '5m' });
  o.devices.forEach((device, d) => {
    o.sensors.forEach((sensor, s) => {
      const k = (d + s) % 4;
      if (k === 0) add({ kind: 'threshold', devices: device, sensor, above: HIGH, for: '10s' });
      else if (k === 1) add({ kind: 'threshold', devices: device, sensor, on: '1m.avg', below: -HIGH });
      else if (k === 2) add({ kind: 'rate', devices: device, sensor, above: 1e12 });
      else add({ kind: 'anomaly', devices: device, sensor, threshold: QUIET_ANOMALY_THRESHOLD, window: 60, min_history: 20 });
    });
  });
  // Other sites: devices that exist in a real fleet but send nothing here.
  const room = total - (o.spike ? 1 : 0);
  for (let i = 0; rules.length < room; i++) {
    const site = `plant-${i % 37}-*`;
    const sensor = ['temp_c', 'pressure_kpa', 'rpm', 'flow_lpm', 'vib_*', 'current_a'][i % 6]!;
    switch (i % 6) {
      case 0:
        add({ kind: 'threshold', devices: site, sensor, above: 90 + (i % 10), clear_below: 80 });
        break;
      case 1:
        add({ kind: 'threshold', devices: site, sensor, on: '1m.avg', above: 70 + (i % 20), for: '5m' });
        break;
      case 2:
        add({ kind: 'rate', devices: site, sensor, above: 5 + (i % 7) });
        break;
      case 3:
        add({ kind: 'anomaly', devices: site, sensor });
        break;
      case 4:
        add({ kind: 'no_data', devices: site, sensor, after: `${5 + (i % 10)}m` });
        break;
      default:
        add({ kind: 'threshold', devices: `line-${i % 13}-[0-9][0-9]`, sensor, below: 1 + (i % 5) });
    }
  }
  if (o.spike) rules.push(o.spike);
  return rules;
}
