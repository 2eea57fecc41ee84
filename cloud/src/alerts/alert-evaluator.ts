// The alert evaluator: the stream's second consumer (stream/stream-consumer.ts). It reads the same records
// as the aggregator, applies the same rule of which readings count (stream/reading-policy.ts), and runs
// every matching rule's state machine in event time. The series states commit with the partition's next
// offset in ONE transaction (sqlite-alert-store.ts), so kill -9 anywhere resumes to the same states, and the
// same stream always yields the same transitions with the same ids: replay reproduces the history, and a
// redelivery carries the id of the original. Transitions and their outbox rows commit with that state, or
// ahead of it while it is held (checkpointIntervalMs), stored once by id: re-evaluating them adds nothing.
//
// Nothing here reads the wall clock to decide a state: `for`, no_data silences and flapping windows are
// event time; a transition is `late` when it happened more than allowed_lateness before its batch arrived.
import type { Component, Logger, MetricsRegistry } from '@tidemark/shared';
import type { ResourceReporter } from '../health/resource-health.js';
import type { StreamRecord, StreamStore } from '../store/stream-store.js';
import { batchDistrust, decodeRecordColumns, trustedColumns } from '../stream/reading-policy.js';
import type { SharedReads } from '../stream/shared-reads.js';
import { StreamConsumer, type ChunkProcessor } from '../stream/stream-consumer.js';
import type { AlertRuleConfig } from './alert-config.js';
import type { AlertState, AlertTransition } from './alert-types.js';
import type { SeriesMemory } from './conditions.js';
import { ColumnFolds, columnSpan, type ColumnSpan } from './column-shortcuts.js';
import { walkColumn, type ColumnOut } from './column-walk.js';
import type { TagSource } from '../devices/device-tag-source.js';
import { RuleLookup, type CompiledRule } from './rule-lookup.js';
import { decideNotify } from './notify-decision.js';
import { FiringGauge } from './firing-gauge.js';
import { CheckpointDeferral, type Deferred } from './checkpoint-deferral.js';
import { buildTransition } from './transition.js';
import { initialSeries, stepSeries, type SeriesState, type Verdict } from './series-machine.js';
import { newSeriesItem, type CommittedTransition, type SeriesItem, type StoredSeries } from './alert-store-model.js';
import type { SqliteAlertStore } from './sqlite-alert-store.js';

export interface AlertEvaluatorOptions {
  rules: readonly AlertRuleConfig[];
  /** Names of the configured notifiers: each notified transition gets one outbox row per notifier. */
  notifiers: readonly string[];
  flapping: { max_notifications: number; window: number };
  allowedLatenessMs: number;
  maxFutureSkewMs: number;
  chunkRecords?: number;
  idleMs?: number;
  /**
   * After new records wake it, how long the evaluator waits for more before evaluating (default 100 ms): the
   * batches of many devices then commit in one transaction instead of one each (stream-consumer.ts).
   */
  settleMs?: number;
  /** Wall clock for outbox timestamps only (never for alert states). */
  now?: () => number;
  /**
   * Resource health of the run loop: a failed stream read is reported on `stream`, a failed load or commit of
   * the alert store on `store`; while either fails the loop backs off (stream/stream-consumer.ts).
   */
  health?: { stream: ResourceReporter; store: ResourceReporter };
  /**
   * Device tags for tag selectors (`devices: { tag: "site=plant-3" }`); default: no device has tags. Read
   * once per chunk: a device's rules are decided with the tags seen when its records are evaluated.
   */
  tags?: TagSource;
  /** Stream reads (and decodes) shared with the aggregator of the same process (stream/shared-reads.ts). */
  sharedReads?: SharedReads;
  /**
   * How long (ms) the evaluation state of chunks may stay uncommitted (alerts.checkpoint_interval; default 0:
   * every chunk commits). It commits once this much time has passed; a chunk's transitions are stored at once,
   * ahead of it. A crash re-evaluates from the last commit and, the evaluation being deterministic, arrives at
   * the same states and transition ids. Saves a transaction (an fsync) and a rewrite of every touched series
   * per chunk.
   */
  checkpointIntervalMs?: number;
  /** Monotonic clock (ms) for checkpointIntervalMs only (default performance.now). */
  clock?: () => number;
}

interface Machine {
  s: SeriesState;
  mem: SeriesMemory;
}

interface Series {
  item: SeriesItem;
  machine: Machine;
  rule: CompiledRule;
  /** The item is as committed (a new series, or a transition since the last commit, clears it). */
  itemStored: boolean;
  /** The dirty set this series is already in (a walk touches it once per column: one Set.add per chunk). */
  dirtyIn: Set<string> | undefined;
}

export type TransitionListener = (transitions: readonly AlertTransition[]) => void;

/** Latency the evaluator adds to batch its commits (the budget, spike to webhook, is 1.5 s at p99). */
const DEFAULT_SETTLE_MS = 100;

export class AlertEvaluator implements Component, ChunkProcessor {
  readonly name = 'alert-evaluator';
  private readonly consumer: StreamConsumer;
  /** Which rules apply where; its slots hold this evaluator's series (one generation per series map). */
  private readonly lookup: RuleLookup<Series>;
  private series: Map<string, Series> | undefined;
  private kv: Map<string, string> = new Map();
  /** device → alert ids of its no_data series. */
  private noData = new Map<string, Set<string>>();
  private readonly listeners: TransitionListener[] = [];
  /** The current column's bucket folds, shared by bucket rules in the same open bucket. */
  private readonly folds = new ColumnFolds();
  /** The current column's span (reused: no object per column). */
  private readonly span: ColumnSpan = { min: Infinity, max: -Infinity, minGap: Infinity };
  /** Per partition, the chunks whose commit waits (checkpointIntervalMs). */
  private readonly deferral: CheckpointDeferral;
  private readonly firing: FiringGauge;
  private readonly m;
  /** The series a column is walked for (column-walk.ts): one object, re-aimed per column and rule. */
  private readonly at: WalkTarget;

  constructor(
    private readonly streams: readonly StreamStore[],
    private readonly store: SqliteAlertStore,
    private readonly opts: AlertEvaluatorOptions,
    private readonly logger: Logger,
    metrics: MetricsRegistry,
  ) {
    this.lookup = new RuleLookup(opts.rules, opts.tags);
    this.deferral = new CheckpointDeferral(opts.checkpointIntervalMs ?? 0, opts.clock ?? (() => performance.now()));
    this.firing = new FiringGauge(metrics.gauge('alerts_firing', 'Alert series now firing, by rule and severity', ['rule', 'severity']));
    this.consumer = new StreamConsumer(
      streams,
      this,
      {
        chunkRecords: opts.chunkRecords ?? 500,
        idleMs: opts.idleMs ?? 200,
        settleMs: opts.settleMs ?? DEFAULT_SETTLE_MS,
        ...(opts.health ? { health: opts.health } : {}),
        ...(opts.sharedReads ? { sharedReads: opts.sharedReads } : {}),
      },
      logger,
      'alert evaluator',
    );
    this.m = {
      transitions: metrics.counter('alert_transitions_total', 'Alert state transitions committed, by rule and new state', ['rule', 'state']),
      suppressed: metrics.counter('alert_notifications_suppressed_total', 'Transitions recorded but not notified, by rule and reason', ['rule', 'reason']),
      tooLate: metrics.counter('alert_bucket_readings_too_late_total', 'Readings older than the open bucket of a bucket-stat rule (the aggregates still count them)', ['rule']),
      offset: metrics.gauge('alert_evaluator_offset', 'Next stream offset the alert evaluator reads, per partition', ['partition']),
    };
    this.at = this.walkTarget();
  }

  private walkTarget(): WalkTarget {
    const at: WalkTarget = {
      ch: new Chunk(),
      series: new Map(),
      c: undefined!,
      s: undefined!,
      device: '',
      sensor: '',
      record: undefined!,
      observe: (verdict, t, value) => this.observe(at.ch, at.series, at.c, at.device, at.sensor, at.record, verdict, t, value, at.s),
      touched: () => {
        if (at.s.dirtyIn === at.ch.dirty) return;
        at.s.dirtyIn = at.ch.dirty;
        at.ch.dirty.add(at.s.item.id);
      },
      tooLate: (n) => this.m.tooLate.inc({ rule: at.c.rule.name }, n),
    };
    return at;
  }

  onTransitions(listener: TransitionListener): void {
    this.listeners.push(listener);
  }

  notify(): void {
    this.consumer.notify();
  }

  async start(): Promise<void> {
    this.load();
    await this.consumer.start();
  }

  async stop(): Promise<void> {
    await this.consumer.stop();
    try {
      this.flush(0);
    } catch (err) {
      this.logger.warn({ err }, 'alert evaluator state not committed at stop; it is evaluated again at the next start');
    }
  }

  step(): Promise<number> {
    return this.consumer.step();
  }

  /** Evaluates to the stream's end and commits everything (replay, tests). */
  async drain(): Promise<void> {
    await this.consumer.drain();
    this.flush(0);
  }

  /** Caught up: commits deferred chunks that have waited checkpointIntervalMs. */
  async idle(): Promise<void> {
    this.flush(this.deferral.intervalMs);
  }

  /** Commits the deferred chunks of every partition that have waited at least `olderThanMs`. */
  private flush(olderThanMs: number): void {
    const series = this.series;
    if (!series) return;
    for (const [partition, d] of this.deferral.due(olderThanMs)) this.commit(partition, series, d.expectedOffset, d.next, d.dirty, [], d.kv);
  }

  /** One transaction: the series in `dirty`, the transitions, kv changes and the partition's next offset. */
  private commit(partition: number, series: Map<string, Series>, expectedOffset: number, next: number, dirtyIds: Set<string>, transitions: CommittedTransition[], kv: Map<string, string>): CommittedTransition[] {
    const dirty = [...dirtyIds].map((id) => series.get(id)!);
    let stored;
    try {
      stored = this.store.commit({
        partition,
        offset: next,
        expectedOffset,
        series: dirty.map((s) => ({ item: s.item, machine: s.machine, itemChanged: !s.itemStored }) satisfies StoredSeries),
        transitions,
        kv,
        now: (this.opts.now ?? Date.now)(),
      });
    } catch (err) {
      // The in-memory series may hold uncommitted changes: the store is the truth.
      this.series = undefined;
      this.deferral.clear();
      throw err;
    }
    this.deferral.committed(partition);
    for (const s of dirty) s.itemStored = true;
    return stored;
  }

  /** (Re)loads every series from the store: the committed state is the truth. */
  private load(): Map<string, Series> {
    const series = new Map<string, Series>();
    this.noData = new Map();
    const byName = new Map(this.lookup.compiled.map((c) => [c.rule.name, c]));
    for (const stored of this.store.loadSeries()) {
      const rule = byName.get(stored.item.rule);
      if (!rule) continue; // a rule removed from the config: its history stays, its series no longer evaluates
      const s: Series = { item: stored.item, machine: stored.machine as Machine, rule, itemStored: true, dirtyIn: undefined };
      series.set(stored.item.id, s);
      if (rule.rule.kind === 'no_data') this.indexNoData(s);
    }
    this.kv = this.store.loadKv();
    this.deferral.clear();
    this.series = series;
    this.lookup.newGeneration();
    this.firing.recount(this.lookup.compiled.map((c) => c.rule.name), [...series.values()].map((x) => x.item));
    return series;
  }

  private indexNoData(s: Series): void {
    let set = this.noData.get(s.item.device);
    if (!set) this.noData.set(s.item.device, (set = new Set()));
    set.add(s.item.id);
  }

  async checkpoint(partition: number): Promise<number> {
    if (this.store.checkpoint(partition) === undefined) {
      // A new alert store starts at the stream's end: alerts are about what happens from now on (replay
      // starts from this origin too, so it rebuilds the same history).
      const end = await this.streams[partition]!.endOffset();
      return this.store.checkpointOr(partition, () => end);
    }
    return this.store.checkpoint(partition)!;
  }

  async process(partition: number, records: readonly StreamRecord[], expectedOffset: number, next: number): Promise<void> {
    const series = this.series ?? this.load();
    this.lookup.refreshTags();
    const held = this.deferral.of(partition);
    // Deferred chunks of this partition ride along: their series and kv changes, and the offset they were fenced on.
    const changes = new Chunk(held);
    if (held) expectedOffset = held.expectedOffset;
    try {
      for (const { record, batch } of decodeRecordColumns(records)) {
        if (!batch) continue;
        const device = batch.deviceId;
        const distrust = batchDistrust(batch);
        for (const c of this.lookup.ofDevice(device)) {
          if (c.rule.kind === 'clock') this.observe(changes, series, c, device, null, record, distrust === 'clock_unsynced' ? 'fire' : 'clear', record.receivedMs, null);
        }
        if (distrust !== undefined) continue;
        let wm = Number(this.kv.get(`wm\u0000${device}`) ?? -Infinity);
        const wmBefore = wm;
        // Series by series (the order decodeBatch gives readings in), and within one, rule by rule: every
        // series (rule, device, sensor) still sees its readings in stream order, one lookup per sensor.
        for (const col of batch.series) {
          const trusted = trustedColumns(col.ts, col.values, record.receivedMs, this.opts.maxFutureSkewMs);
          if (!trusted) continue;
          const [ts, values, newest] = trusted;
          if (newest > wm) wm = newest;
          const slot = this.lookup.ofSensor(device, col.sensor);
          const rules = slot.rules;
          if (rules.length === 0) continue;
          const span = columnSpan(ts, values, this.span);
          this.folds.reset();
          for (let i = 0; i < rules.length; i++) {
            const c = rules[i]!;
            const s = (slot.series[i] ??= this.seriesFor(series, c, device, col.sensor));
            const at = this.at;
            at.ch = changes;
            at.series = series;
            at.c = c;
            at.s = s;
            at.device = device;
            at.sensor = col.sensor;
            at.record = record;
            walkColumn(c.rule, s.machine, ts, values, span, this.folds, at);
          }
        }
        if (wm > wmBefore) {
          changes.kv.set(`wm\u0000${device}`, String(wm));
          this.kv.set(`wm\u0000${device}`, String(wm));
          this.silences(changes, series, device, record, wm);
        }
      }
    } catch (err) {
      // The in-memory series may hold this chunk's uncommitted changes: the store is the truth.
      this.series = undefined;
      this.deferral.clear();
      throw err;
    }
    this.m.offset.set({ partition: String(partition) }, next);
    let stored: CommittedTransition[];
    if (this.deferral.hold(partition, { expectedOffset, next, dirty: changes.dirty, kv: changes.kv })) {
      if (changes.transitions.length === 0) return;
      stored = this.publish(series, changes.transitions);
    } else stored = this.commit(partition, series, expectedOffset, next, changes.dirty, changes.transitions, changes.kv);
    this.announce(stored);
  }

  /**
   * Transitions of a chunk whose state is held (checkpointIntervalMs): they, their outbox rows and their
   * series' API items are stored now, so notification latency does not wait for the checkpoint. A crash
   * before it re-evaluates them from the checkpoint with the same ids, and the store keeps the first.
   */
  private publish(series: Map<string, Series>, transitions: CommittedTransition[]): CommittedTransition[] {
    const moved = [...new Set(transitions.map((t) => t.transition.alert_id))].map((id) => series.get(id)!);
    let stored;
    try {
      stored = this.store.publishTransitions({
        series: moved.map((s) => ({ item: s.item, initial: { s: initialSeries(), mem: {} } satisfies Machine })),
        transitions,
        now: (this.opts.now ?? Date.now)(),
      });
    } catch (err) {
      this.series = undefined;
      this.deferral.clear();
      throw err;
    }
    for (const s of moved) s.itemStored = true;
    return stored;
  }

  /** Metrics, the firing gauge and the listeners learn of transitions once they are stored. */
  private announce(stored: readonly CommittedTransition[]): void {
    if (stored.length === 0) return;
    for (const t of stored) {
      this.m.transitions.inc({ rule: t.transition.rule, state: t.transition.state });
      if (t.suppressed) this.m.suppressed.inc({ rule: t.transition.rule, reason: t.suppressed });
    }
    this.firing.publish();
    const list = stored.map((t) => t.transition);
    for (const l of this.listeners) {
      try {
        l(list);
      } catch (err) {
        this.logger.error({ err }, 'an alert transition listener threw');
      }
    }
  }

  private seriesFor(series: Map<string, Series>, c: CompiledRule, device: string, sensor: string | null): Series {
    const id = sensor === null ? `${c.rule.name}:${device}` : `${c.rule.name}:${device}:${sensor}`;
    let s = series.get(id);
    if (!s) {
      const machine: Machine = { s: initialSeries(), mem: {} };
      s = {
        rule: c,
        machine,
        item: newSeriesItem(id, c.rule, device, sensor),
        itemStored: false,
        dirtyIn: undefined,
      };
      series.set(id, s);
      if (c.rule.kind === 'no_data') this.indexNoData(s);
    }
    return s;
  }

  /** no_data: the device's watermark moved; every sensor of it silent for `after` in event time fires. */
  private silences(ch: Chunk, series: Map<string, Series>, device: string, record: StreamRecord, wm: number): void {
    const ids = this.noData.get(device);
    if (!ids) return;
    for (const id of ids) {
      const s = series.get(id)!;
      const after = s.rule.rule.after!;
      const last = s.machine.mem.prevTs;
      if (last === undefined || s.machine.s.state === 'firing' || wm - last < after) continue;
      this.observe(ch, series, s.rule, device, s.item.sensor, record, 'fire', last + after, (wm - last) / 1000, s);
    }
  }

  /** Feeds one verdict to a series' state machine and records the transition it causes. */
  private observe(ch: Chunk, series: Map<string, Series>, c: CompiledRule, device: string, sensor: string | null, record: StreamRecord, verdict: Verdict, t: number, value: number | null, known?: Series): void {
    const s = known ?? this.seriesFor(series, c, device, sensor);
    const rule = c.rule;
    const forMs = rule.kind === 'no_data' ? 0 : rule.for;
    const step = stepSeries(s.machine.s, verdict, t, value, forMs);
    if (!step) return;
    ch.dirty.add(s.item.id);
    const late = t < record.receivedMs - this.opts.allowedLatenessMs;
    const transition = buildTransition(s.item.id, s.machine.s.ordinal, rule, device, sensor, step, t, value, late);
    this.firing.transition(s.item, step.state);
    s.item = { ...s.item, state: step.state, value, since: transition.since, event_time: transition.event_time, late, message: transition.message };
    s.itemStored = false;
    const kv = { get: (k: string) => this.kv.get(k), set: (k: string, v: string) => (this.kv.set(k, v), ch.kv.set(k, v)) };
    const suppressed = decideNotify(s.machine.s, transition, rule.notify_late, this.opts, kv);
    ch.transitions.push(suppressed === undefined ? { transition, notifiers: this.opts.notifiers } : { transition, notifiers: [], suppressed });
  }
}

interface WalkTarget extends ColumnOut {
  ch: Chunk;
  series: Map<string, Series>;
  c: CompiledRule;
  s: Series;
  device: string;
  sensor: string;
  record: StreamRecord;
}

/** What one chunk changed (on top of what the deferred chunks before it changed, if any). */
class Chunk {
  readonly dirty: Set<string>;
  readonly transitions: CommittedTransition[] = [];
  readonly kv: Map<string, string>;
  constructor(held?: Deferred) {
    this.dirty = held?.dirty ?? new Set();
    this.kv = held?.kv ?? new Map();
  }
}
