// Which configured rules apply to a (device, sensor) and to a device: decided once per key and cached, so the
// evaluator's hot path does no glob matching and, through a slot's series array, no id string per rule.
// Invariants: a cached decision is dropped when the device tags it was made with change (a new tag snapshot
// version); a slot's series belong to one generation of the evaluator's series map (newGeneration() voids them).
import type { AlertRuleConfig } from './alert-config.js';
import { compileSelector, usesTags, type DeviceMatcher } from './device-selector.js';
import { compileGlob } from './glob.js';
import { NO_TAG_SOURCE, type TagSnapshot, type TagSource } from '../devices/device-tag-source.js';

export interface CompiledRule {
  rule: AlertRuleConfig;
  device: DeviceMatcher;
  sensor: (name: string) => boolean;
}

/** The sensor-level rules of one (device, sensor), and the caller's series for them once looked up. */
export interface RuleSlot<S> {
  rules: CompiledRule[];
  series: (S | undefined)[];
  generation: number;
}

const SENSOR_KINDS = new Set(['threshold', 'rate', 'anomaly', 'no_data']);
/** A cache this large is emptied rather than grown (a fleet with churning device ids). */
const MAX_CACHED = 100_000;

export class RuleLookup<S> {
  readonly compiled: CompiledRule[];
  private readonly sensorRules = new Map<string, RuleSlot<S>>();
  private readonly deviceRules = new Map<string, CompiledRule[]>();
  private readonly tagSource: TagSource;
  /** The tags the cached decisions were made with. */
  private tags: TagSnapshot;
  private generation = 0;

  constructor(rules: readonly AlertRuleConfig[], tags: TagSource | undefined) {
    this.compiled = rules.map((rule) => ({ rule: sameShape(rule), device: compileSelector(rule.devices), sensor: rule.sensor ? compileGlob(rule.sensor) : () => false }));
    // Without a tag selector no rule's match depends on tags: the devices file is never consulted.
    this.tagSource = rules.some((r) => usesTags(r.devices)) ? (tags ?? NO_TAG_SOURCE) : NO_TAG_SOURCE;
    this.tags = this.tagSource.current();
  }

  /** The series map was replaced: series held in slots are stale. */
  newGeneration(): void {
    this.generation++;
  }

  /**
   * Tags changed since the cached decisions: decide them again. Series already created stay (their state is
   * in the store); a device that lost a tag is simply not evaluated by that rule from now on.
   */
  refreshTags(): void {
    const now = this.tagSource.current();
    if (now.version === this.tags.version) return;
    this.tags = now;
    this.sensorRules.clear();
    this.deviceRules.clear();
  }

  /** The reading-level rules (threshold, rate, anomaly, no_data) of a device's sensor. */
  ofSensor(device: string, sensor: string): RuleSlot<S> {
    const key = `${device}\u0000${sensor}`;
    let slot = this.sensorRules.get(key);
    if (!slot) {
      const tags = this.tags.of(device);
      const rules = this.compiled.filter((c) => SENSOR_KINDS.has(c.rule.kind) && c.device(device, tags) && c.sensor(sensor));
      if (this.sensorRules.size > MAX_CACHED) this.sensorRules.clear();
      slot = { rules, series: new Array<S | undefined>(rules.length), generation: this.generation };
      this.sensorRules.set(key, slot);
    } else if (slot.generation !== this.generation) {
      slot.series = new Array<S | undefined>(slot.rules.length);
      slot.generation = this.generation;
    }
    return slot;
  }

  /** The device-level rules (clock) of a device. */
  ofDevice(device: string): CompiledRule[] {
    let list = this.deviceRules.get(device);
    if (!list) {
      const tags = this.tags.of(device);
      list = this.compiled.filter((c) => c.rule.kind === 'clock' && c.device(device, tags));
      if (this.deviceRules.size > MAX_CACHED) this.deviceRules.clear();
      this.deviceRules.set(device, list);
    }
    return list;
  }
}

/**
 * The rule with every key, in one order: zod gives each kind's rule object its own keys, so the evaluator's
 * per-column reads of rule fields (kind, above, window …) would meet several hidden classes at one site.
 */
function sameShape(r: AlertRuleConfig): AlertRuleConfig {
  return {
    name: r.name,
    kind: r.kind,
    devices: r.devices,
    sensor: r.sensor,
    on: r.on,
    above: r.above,
    below: r.below,
    clear_below: r.clear_below,
    clear_above: r.clear_above,
    threshold: r.threshold,
    clear_threshold: r.clear_threshold,
    window: r.window,
    min_history: r.min_history,
    after: r.after,
    for: r.for,
    severity: r.severity,
    labels: r.labels,
    message: r.message,
    notify_late: r.notify_late,
  };
}
