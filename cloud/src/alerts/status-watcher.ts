// Alert rules on device status rather than on the stream: `offline` (the device's status/will says offline,
// and it has been silent for `after`) and `backlog` (the oldest reading buffered on the gateway is older than
// `above`). The device registry is their input and the wall clock their time, so they are evaluated on a
// timer, not by the stream consumer, and `replay` carries their history over instead of rebuilding it.
// Their series, transitions and outbox rows go to the same alert store, in one transaction per tick.
import { guard, type Component, type Logger } from '@tidemark/shared';
import type { DeviceRegistry, DeviceRow } from '../ingest/device-registry.js';
import type { AlertRuleConfig } from './alert-config.js';
import type { AlertTransition } from './alert-types.js';
import { compileSelector, type DeviceMatcher } from './device-selector.js';
import { NO_TAG_SOURCE, type TagSource } from '../devices/device-tag-source.js';
import { decideNotify, type NotifyPolicy } from './notify-decision.js';
import { initialSeries, stepSeries, type SeriesState, type Verdict } from './series-machine.js';
import { newSeriesItem, type CommittedTransition, type SeriesItem } from './alert-store-model.js';
import type { SqliteAlertStore } from './sqlite-alert-store.js';
import { buildTransition } from './transition.js';

export const STATUS_KINDS: ReadonlySet<string> = new Set(['offline', 'backlog']);

interface Series {
  item: SeriesItem;
  machine: { s: SeriesState; mem: Record<string, never> };
}

export interface StatusWatcherOptions extends NotifyPolicy {
  rules: readonly AlertRuleConfig[];
  intervalMs?: number;
  now?: () => number;
  /** Device tags for tag selectors, read at every tick (default: no device has tags). */
  tags?: TagSource;
}

export class StatusAlertWatcher implements Component {
  readonly name = 'alert-status-watcher';
  private readonly rules: { rule: AlertRuleConfig; device: DeviceMatcher }[];
  private series = new Map<string, Series>();
  private kv = new Map<string, string>();
  private timer: NodeJS.Timeout | undefined;
  private running = false;
  private tickInFlight: Promise<void> | undefined;
  private readonly listeners: ((t: readonly AlertTransition[]) => void)[] = [];
  private failing = false;
  /** The in-memory series may be ahead of the store (a failed commit): reload before evaluating. */
  private stale = false;

  constructor(
    private readonly registry: DeviceRegistry,
    private readonly store: SqliteAlertStore,
    private readonly opts: StatusWatcherOptions,
    private readonly logger: Logger,
  ) {
    this.rules = opts.rules.filter((r) => STATUS_KINDS.has(r.kind)).map((rule) => ({ rule, device: compileSelector(rule.devices) }));
  }

  get active(): boolean {
    return this.rules.length > 0;
  }

  onTransitions(listener: (t: readonly AlertTransition[]) => void): void {
    this.listeners.push(listener);
  }

  async start(): Promise<void> {
    if (!this.active) return;
    this.load();
    this.running = true;
    this.schedule();
  }

  private load(): void {
    const names = new Set(this.rules.map((r) => r.rule.name));
    this.series = new Map();
    for (const s of this.store.loadSeries()) if (names.has(s.item.rule)) this.series.set(s.item.id, { item: s.item, machine: s.machine as Series['machine'] });
    this.kv = this.store.loadKv();
  }

  private schedule(): void {
    if (!this.running) return;
    this.timer = setTimeout(guard(this.logger, 'alert status tick', () => {
      this.tickInFlight = this.tick()
        .then(() => {
          if (this.failing) this.logger.info('device status alerts evaluated again');
          this.failing = false;
        })
        .catch((err: unknown) => {
          if (!this.failing) this.logger.error({ err }, 'evaluating device status alerts failed; retrying every tick');
          this.failing = true;
          this.stale = true; // the committed state is the truth: the next tick reloads it first
        })
        .finally(() => this.schedule());
    }), this.opts.intervalMs ?? 1000);
  }

  /** One evaluation of every status rule against the registry (exposed for tests). */
  async tick(): Promise<number> {
    if (this.stale) {
      this.load();
      this.stale = false;
    }
    const devices = await this.registry.list();
    // No cache of which rules apply to a device here: every tick decides it again with the tags of now.
    const tags = (this.opts.tags ?? NO_TAG_SOURCE).current();
    const now = (this.opts.now ?? Date.now)();
    const dirty = new Map<string, Series>();
    const transitions: CommittedTransition[] = [];
    const kvChanges = new Map<string, string>();
    const kv = { get: (k: string) => this.kv.get(k), set: (k: string, v: string) => (this.kv.set(k, v), kvChanges.set(k, v)) };
    for (const { rule, device } of this.rules) {
      for (const d of devices) {
        if (!device(d.id, tags.of(d.id))) continue;
        const obs = observe(rule, d, now);
        if (!obs) continue;
        const s = this.seriesFor(rule, d.id);
        const step = stepSeries(s.machine.s, obs.verdict, obs.t, obs.value, rule.kind === 'offline' ? 0 : rule.for);
        if (!step) continue;
        const t = buildTransition(s.item.id, s.machine.s.ordinal, rule, d.id, null, step, obs.t, obs.value, false);
        s.item = { ...s.item, state: step.state, value: obs.value, since: t.since, event_time: t.event_time, late: false, message: t.message };
        dirty.set(s.item.id, s);
        const suppressed = decideNotify(s.machine.s, t, rule.notify_late, this.opts, kv);
        transitions.push(suppressed === undefined ? { transition: t, notifiers: this.opts.notifiers } : { transition: t, notifiers: [], suppressed });
      }
    }
    if (dirty.size === 0) return 0;
    this.store.commitStatus({ series: [...dirty.values()].map((s) => ({ item: s.item, machine: s.machine })), transitions, kv: kvChanges, now });
    const list = transitions.map((t) => t.transition);
    for (const l of this.listeners) l(list);
    return transitions.length;
  }

  private seriesFor(rule: AlertRuleConfig, device: string): Series {
    const id = `${rule.name}:${device}`;
    let s = this.series.get(id);
    if (!s) {
      s = { machine: { s: initialSeries(), mem: {} }, item: newSeriesItem(id, rule, device, null) };
      this.series.set(id, s);
    }
    return s;
  }

  async stop(): Promise<void> {
    this.running = false;
    clearTimeout(this.timer);
    await this.tickInFlight;
  }
}

/** What a device's status says for one rule: a verdict, at which (wall-clock) time, with which value. */
function observe(rule: AlertRuleConfig, d: DeviceRow, now: number): { verdict: Verdict; t: number; value: number | null } | undefined {
  if (rule.kind === 'offline') {
    if (d.online) return { verdict: 'clear', t: now, value: 0 };
    const lastSeen = d.last_seen === null ? undefined : Date.parse(d.last_seen);
    if (lastSeen === undefined) return undefined;
    const silent = now - lastSeen;
    return silent >= rule.after! ? { verdict: 'fire', t: lastSeen + rule.after!, value: Math.round(silent / 1000) } : { verdict: 'hold', t: now, value: null };
  }
  if (rule.kind === 'backlog') {
    const oldest = d.oldest_buffered_time === null ? undefined : Date.parse(d.oldest_buffered_time);
    const age = oldest === undefined || !(d.backlog_readings! > 0) ? 0 : now - oldest;
    return { verdict: age > rule.above! ? 'fire' : 'clear', t: now, value: Math.round(age / 1000) };
  }
  return undefined;
}
