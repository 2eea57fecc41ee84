// The alert evaluator on real SQLite stores: each rule kind fires and resolves as its rule says, in event
// time; a run cut into crashes at every commit gives the same transitions (ids included) as one run; and a
// rebuilt store reproduces the history byte for byte.
import path from 'node:path';
import fc from 'fast-check';
import { createLogger, MetricsRegistry } from '@tidemark/shared';
import { afterEach, describe, expect, it } from 'vitest';
import { SqliteStreamStore } from '../store/sqlite-stream-store.js';
import { append, batch, MINUTE, T0, type TestBatch } from '../aggregate/testing/aggregator-workload.js';
import { TestResources } from '../aggregate/testing/test-resources.js';
import { alertsSchema, finishAlerts, type AlertRuleConfig } from './alert-config.js';
import { AlertEvaluator, type AlertEvaluatorOptions } from './alert-evaluator.js';
import type { AlertTransition } from './alert-types.js';
import { SqliteAlertStore } from './sqlite-alert-store.js';
import { staticTags } from '../devices/device-tag-source.js';

const logger = createLogger({ name: 'alerts-test', level: 'silent' });
const res = new TestResources('tidemark-alerts-');
afterEach(res.closeAll);

const RESOLUTIONS = [
  { label: '1m', ms: 60_000 },
  { label: '1h', ms: 3_600_000 },
];

function rules(input: unknown[]): AlertRuleConfig[] {
  const parsed = alertsSchema().parse({ rules: input });
  return finishAlerts(parsed, RESOLUTIONS).rules;
}

interface Rig {
  stream: SqliteStreamStore;
  dir: string;
  evaluator(file?: string, over?: Partial<AlertEvaluatorOptions>): Promise<{ ev: AlertEvaluator; store: SqliteAlertStore; metrics: MetricsRegistry }>;
}

async function rig(ruleInput: unknown[], over: Partial<AlertEvaluatorOptions> = {}): Promise<Rig> {
  const dir = await res.tempDir();
  const stream = await res.started(new SqliteStreamStore({ path: path.join(dir, 'stream.db') }));
  const opts: AlertEvaluatorOptions = {
    rules: rules(ruleInput),
    notifiers: ['webhook:0'],
    flapping: { max_notifications: 100, window: 3_600_000 },
    allowedLatenessMs: 5 * MINUTE,
    maxFutureSkewMs: 5 * MINUTE,
    chunkRecords: 3,
    now: () => 1,
    ...over,
  };
  return {
    stream,
    dir,
    async evaluator(file = 'alerts.db', o = {}) {
      const store = await res.started(new SqliteAlertStore(path.join(dir, file)));
      const metrics = new MetricsRegistry('tidemark_cloud');
      const ev = new AlertEvaluator([stream], store, { ...opts, ...o }, logger, metrics);
      return { ev, store, metrics };
    },
  };
}

const history = (store: SqliteAlertStore): AlertTransition[] => store.listTransitions({ limit: 100_000 }).items;
const brief = (ts: readonly AlertTransition[]) => ts.map((t) => `${t.alert_id} ${t.state}@${(Date.parse(t.event_time) - T0) / 1000}`);

/** One reading per second of `device`/`sensor` from T0 + startS, one batch each. */
function series(device: string, sensor: string, values: number[], startS = 0, over: Partial<TestBatch> = {}): TestBatch[] {
  return values.map((v, i) => batch(device, [[sensor, T0 + (startS + i) * 1000, v]], over));
}

/** The crash tests' rules: one of each kind that keeps memory between chunks. */
const CRASH_RULES = [
  { name: 'hot', kind: 'threshold', sensor: 'temp_c', above: 50, for: '2s' },
  { name: 'jump', kind: 'rate', sensor: 'temp_c', above: 600 },
  { name: 'avg', kind: 'threshold', sensor: 'temp_c', on: '1m.avg', above: 40 },
  { name: 'quiet', kind: 'no_data', sensor: '*', after: '20s' },
  { name: 'spike', kind: 'anomaly', sensor: 'temp_c', min_history: 10 },
];

/** The crash tests' stream: `values` as temp_c of two devices, 7 s apart, with an rpm beside each. */
function crashBatches(values: readonly number[]): TestBatch[] {
  return values.map((v, i) => batch(i % 3 === 0 ? 'gw-a' : 'gw-b', [['temp_c', T0 + i * 7000, v], ['rpm', T0 + i * 7000 + (i % 5 === 0 ? 0 : 1), v * 10]]));
}

describe('AlertEvaluator', () => {
  it('a tag selector evaluates a device from when its tag is seen (the cached rules of a device are decided again), and not back in time', async () => {
    let tags = staticTags({ 'oven-2': { site: 'plant-4' } }, 1);
    const r = await rig(
      [
        { name: 'hot', kind: 'threshold', devices: { tag: 'site=plant-3' }, sensor: 'temp_c', above: 250 },
        { name: 'skew', kind: 'clock', devices: { tag: 'site=plant-3' } },
      ],
      { tags: { current: () => tags } },
    );
    const { ev, store } = await r.evaluator();
    await ev.drain();
    // Untagged: readings above the threshold and an unsynced batch do nothing, but the device's rules are now cached.
    await append(r.stream, ...series('oven-1', 'temp_c', [300, 300]), batch('oven-1', [['temp_c', T0 + 2000, 1]], { synced: false }));
    await ev.drain();
    expect(history(store)).toEqual([]);
    tags = staticTags({ 'oven-1': { site: 'plant-3', line: '2' }, 'oven-2': { site: 'plant-4' } }, 2);
    await append(r.stream, ...series('oven-1', 'temp_c', [300, 100], 3), ...series('oven-2', 'temp_c', [300], 3));
    await append(r.stream, batch('oven-1', [['temp_c', T0 + 6000, 1]], { synced: false }));
    await ev.drain();
    expect(brief(history(store))).toEqual(['hot:oven-1:temp_c firing@3', 'hot:oven-1:temp_c resolved@4', 'skew:oven-1 firing@7']);
    // The tag is gone: from now on the rules do not evaluate the device (its series keep their last state).
    tags = staticTags({}, 3);
    await append(r.stream, ...series('oven-1', 'temp_c', [300], 7));
    await ev.drain();
    expect(history(store)).toHaveLength(3);
  });

  it('threshold with for and hysteresis: pending, firing after `for`, no flap between the thresholds, resolved on the clear', async () => {
    const r = await rig([{ name: 'hot', kind: 'threshold', devices: 'oven-*', sensor: 'temp_c', above: 250, clear_below: 240, for: '3s', severity: 'critical' }]);
    // 0-1 normal, 2 crosses (pending from 2s), 3-5 still above (5: `for` elapsed → firing, since 2s),
    // 6-7 between the thresholds (stays firing), 8 clears (resolved), 9 above again (pending), 10 below (normal).
    const { ev, store } = await r.evaluator();
    await ev.drain(); // a new store starts at the stream's end: here, the beginning
    await append(r.stream, ...series('oven-02', 'temp_c', [100, 200, 251, 260, 255, 252, 245, 241, 239, 251, 100]));
    await append(r.stream, ...series('press-07', 'temp_c', [900, 900, 900, 900, 900])); // not an oven
    await ev.drain();
    expect(brief(history(store))).toEqual([
      'hot:oven-02:temp_c pending@2',
      'hot:oven-02:temp_c firing@5',
      'hot:oven-02:temp_c resolved@8',
      'hot:oven-02:temp_c pending@9',
      'hot:oven-02:temp_c normal@10',
    ]);
    const firing = history(store)[1]!;
    expect(firing).toMatchObject({ severity: 'critical', previous: 'pending', value: 252, since: new Date(T0 + 2000).toISOString(), late: false });
    // The list shows series that are not normal unless asked.
    expect(store.listAlerts({ limit: 10 }).items).toEqual([]);
    expect(store.listAlerts({ state: 'normal', limit: 10 }).items.map((i) => i.id)).toEqual(['hot:oven-02:temp_c']);
    // Only firing and resolved are notified; pending and a cancelled pending are recorded, not sent.
    const due = store.pendingNotifications(100);
    expect(due.map((d) => d.transition.state)).toEqual(['firing', 'resolved']);
    expect(due.every((d) => d.notifier === 'webhook:0')).toBe(true);
  });

  it('alerts_firing counts the firing series per rule and severity, as they change and after a restart', async () => {
    const r = await rig([
      { name: 'hot', kind: 'threshold', sensor: 'temp_c', above: 250, clear_below: 240, severity: 'critical' },
      { name: 'cold', kind: 'threshold', sensor: 'temp_c', below: 0 },
    ]);
    const firing = async (m: MetricsRegistry) =>
      (await m.metrics())
        .split('\n')
        .filter((l) => l.startsWith('tidemark_cloud_alerts_firing{') && !l.endsWith(' 0'))
        .sort();
    const { ev, metrics } = await r.evaluator();
    await ev.drain();
    await append(r.stream, ...series('oven-01', 'temp_c', [260, 260, 100]), ...series('oven-02', 'temp_c', [260, 270]), ...series('oven-03', 'temp_c', [-5]));
    await ev.drain();
    expect(await firing(metrics)).toEqual(['tidemark_cloud_alerts_firing{rule="cold",severity="warning"} 1', 'tidemark_cloud_alerts_firing{rule="hot",severity="critical"} 1']);
    await append(r.stream, ...series('oven-01', 'temp_c', [300], 10), ...series('oven-03', 'temp_c', [5], 10));
    await ev.drain();
    expect(await firing(metrics)).toEqual(['tidemark_cloud_alerts_firing{rule="hot",severity="critical"} 2']);
    const again = await r.evaluator();
    await again.ev.start(); // loads the series from the store
    expect(await firing(again.metrics)).toEqual(['tidemark_cloud_alerts_firing{rule="hot",severity="critical"} 2']);
    await again.ev.stop();
  });

  it('the same stream gives the same transitions and ids with a crash (a fresh evaluator) after every commit', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(fc.integer({ min: 0, max: 100 }), { minLength: 20, maxLength: 120 }), fc.integer({ min: 1, max: 7 }), async (values, chunk) => {
        const r = await rig(CRASH_RULES, { chunkRecords: chunk });
        const once = await r.evaluator('once.db');
        await once.ev.drain();
        const first = await r.evaluator('crashy.db');
        await first.ev.drain();
        await first.store.stop();
        await append(r.stream, ...crashBatches(values));
        await once.ev.drain();
        // Crash after each commit: a new evaluator (new memory) on the same store file every step.
        for (;;) {
          const fresh = await r.evaluator('crashy.db');
          const n = await fresh.ev.step();
          await fresh.store.stop();
          if (n === 0) break;
        }
        const crashy = await r.evaluator('crashy.db');
        expect(history(once.store).length).toBeGreaterThan(0);
        expect(history(crashy.store)).toEqual(history(once.store));
        expect(crashy.store.listAlerts({ limit: 1000 })).toEqual(once.store.listAlerts({ limit: 1000 }));
      }),
      { numRuns: 10 },
    );
  }, 120_000);

  it('with a checkpoint interval, state commits later and transitions go ahead of it; a crash losing the state gives the same transitions, ids and outbox', async () => {
    const totals = { transitions: 0, deferred: 0 };
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.integer({ min: 0, max: 100 }), { minLength: 20, maxLength: 120 }),
        fc.integer({ min: 1, max: 5 }),
        fc.array(fc.integer({ min: 1, max: 6 }), { minLength: 1, maxLength: 12 }),
        async (values, chunk, lives) => {
          const r = await rig(CRASH_RULES, { chunkRecords: chunk });
          const once = await r.evaluator('once.db');
          await once.ev.drain();
          let t = 0;
          const deferring = { checkpointIntervalMs: 1000, clock: () => t };
          const first = await r.evaluator('crashy.db', deferring);
          await first.ev.drain();
          await first.store.stop();
          await append(r.stream, ...crashBatches(values));
          await once.ev.drain();
          let deferred = 0;
          // Lives of a few steps each (the clock moves 400 ms a step), each ended by a crash: whatever it had
          // not committed is lost. The last life runs to the end.
          // What the listeners (the API's live stream) were told, over every life.
          const announced: string[] = [];
          for (const steps of lives) {
            const life = await r.evaluator('crashy.db', deferring);
            life.ev.onTransitions((ts) => announced.push(...ts.map((x) => x.id)));
            for (let k = 0; k < steps; k++) {
              const before = life.store.checkpoint(0);
              t += 400;
              if ((await life.ev.step()) === 0) break;
              if (life.store.checkpoint(0) === before) deferred++;
            }
            await life.store.stop();
          }
          const last = await r.evaluator('crashy.db', deferring);
          last.ev.onTransitions((ts) => announced.push(...ts.map((x) => x.id)));
          await last.ev.drain();
          expect(history(last.store)).toEqual(history(once.store));
          expect(last.store.listAlerts({ limit: 1000 })).toEqual(once.store.listAlerts({ limit: 1000 }));
          expect(last.store.checkpoint(0)).toBe(once.store.checkpoint(0));
          // Re-evaluated transitions were not enqueued again: one outbox row per transition and notifier.
          const outbox = (st: typeof once.store) => st.pendingNotifications(10_000).map((o) => `${o.transitionId}/${o.notifier}`);
          expect(outbox(last.store)).toEqual(outbox(once.store));
          // Each transition was announced once, however many lives evaluated it.
          expect([...announced].sort()).toEqual(history(once.store).map((h) => h.id).sort());
          totals.transitions += history(once.store).length;
          totals.deferred += deferred;
        },
      ),
      { numRuns: 12 },
    );
    // The runs had something to lose: transitions to reproduce, and chunks whose commit was deferred.
    expect(totals.transitions).toBeGreaterThan(0);
    expect(totals.deferred).toBeGreaterThan(0);
    // And it does defer: a quiet chunk leaves the checkpoint where it was until the interval has passed.
    const r = await rig([{ name: 'hot', kind: 'threshold', sensor: 'temp_c', above: 50 }], { chunkRecords: 1 });
    let t = 0;
    const { ev, store } = await r.evaluator('alerts.db', { checkpointIntervalMs: 1000, clock: () => t });
    await ev.drain();
    const start = store.checkpoint(0)!;
    await append(r.stream, ...series('gw-a', 'temp_c', [10, 11, 12, 60]));
    await ev.step();
    expect(store.checkpoint(0)).toBe(start);
    t += 1000;
    await ev.step();
    expect(store.checkpoint(0)).toBe(start + 2); // the interval passed: both chunks in one commit
    await ev.step();
    expect(store.checkpoint(0)).toBe(start + 2);
    await ev.step(); // 60 fires: the transition, its outbox row and the alert are stored at once, ahead of the checkpoint
    expect(store.checkpoint(0)).toBe(start + 2);
    expect(brief(history(store))).toEqual(['hot:gw-a:temp_c firing@3']);
    expect(store.pendingNotifications(10)).toHaveLength(1);
    expect(store.listAlerts({ limit: 10 }).items.map((a) => a.state)).toEqual(['firing']);
    await ev.step(); // caught up, the interval not yet passed: idle() holds the state
    expect(store.checkpoint(0)).toBe(start + 2);
    t += 1000;
    await ev.step(); // it has: idle() commits the state with the offset
    expect(store.checkpoint(0)).toBe(start + 4);
    expect(store.pendingNotifications(10)).toHaveLength(1);
  }, 180_000);

  it('a batch of many readings gives the transitions of the same readings one per batch (whole-batch shortcuts prove nothing fires)', async () => {
    // The evaluator skips a threshold or rate rule for a whole batch column when the column's value span rules
    // a fire out, and an anomaly reading when a bound of the MAD does; with one reading per batch every
    // reading is decided on its own. Same readings, same event and arrival times → same transitions.
    const ruleInput = [
      { name: 'hot', kind: 'threshold', sensor: 'v', above: 70, clear_below: 60, for: '3s' },
      { name: 'cold', kind: 'threshold', sensor: 'v', below: 15 },
      { name: 'up', kind: 'rate', sensor: 'v', above: 900, for: '2s' },
      { name: 'down', kind: 'rate', sensor: 'v', below: -900, clear_above: -100 },
      { name: 'avg', kind: 'threshold', sensor: 'v', on: '1m.max', above: 90 },
      { name: 'spike', kind: 'anomaly', sensor: 'v', threshold: 4, min_history: 8, window: 30 },
      { name: 'spike2', kind: 'anomaly', sensor: 'v', threshold: 2.5, clear_threshold: 2, min_history: 5, window: 12 },
    ];
    const reading = fc.oneof({ arbitrary: fc.integer({ min: 40, max: 55 }), weight: 8 }, { arbitrary: fc.integer({ min: 0, max: 100 }), weight: 2 });
    await fc.assert(
      fc.asyncProperty(
        fc.array(reading, { minLength: 30, maxLength: 200, size: 'max' }),
        fc.array(fc.integer({ min: 0, max: 4_000 }), { minLength: 1, maxLength: 5 }),
        fc.array(fc.integer({ min: 1, max: 60 }), { minLength: 1, maxLength: 5 }),
        async (values, steps, sizes) => {
          const r = await rig(ruleInput, { chunkRecords: 4 });
          const whole = await r.evaluator('whole.db');
          await whole.ev.drain();
          let t = T0;
          const readings = values.map((v, i) => ({ ts: (t += steps[i % steps.length]!), v }));
          const many: TestBatch[] = [];
          const one: TestBatch[] = [];
          for (let i = 0, k = 0; i < readings.length; k++) {
            const part = readings.slice(i, (i += sizes[k % sizes.length]!));
            const receivedMs = part[part.length - 1]!.ts + 1000;
            many.push(batch('gw', part.map((x) => ['v', x.ts, x.v] as [string, number, number]), { receivedMs }));
            for (const x of part) one.push(batch('gw', [['v', x.ts, x.v]], { receivedMs }));
          }
          await append(r.stream, ...many);
          await whole.ev.drain();
          const wholeHistory = history(whole.store);
          await whole.store.stop();
          // The same readings one per batch, after the batched records; a new alert store reads from there.
          await append(r.stream, ...one);
          const fresh = await r.evaluator('single2.db');
          fresh.store.setOrigins([many.length + 1]);
          await fresh.ev.drain();
          expect(brief(history(fresh.store))).toEqual(brief(wholeHistory));
          expect(history(fresh.store).map((x) => [x.value, x.late])).toEqual(wholeHistory.map((x) => [x.value, x.late]));
        },
      ),
      { numRuns: 25 },
    );
  }, 120_000);

  it('bucket rules of one sensor and resolution share a fold only when their open buckets agree: each gives what it gives alone', async () => {
    const early = [
      { name: 'avg', kind: 'threshold', sensor: 'v', on: '1m.avg', above: 52, clear_below: 48 },
      { name: 'max', kind: 'threshold', sensor: 'v', on: '1m.max', above: 80 },
    ];
    // Joins halfway through a minute: its first open bucket is partial, so it must not take the others' fold.
    const late = [{ name: 'min', kind: 'threshold', sensor: 'v', on: '1m.min', below: 20 }, { name: 'avg-late', kind: 'threshold', sensor: 'v', on: '1m.avg', above: 52 }];
    await fc.assert(
      fc.asyncProperty(fc.array(fc.integer({ min: 0, max: 100 }), { minLength: 40, maxLength: 160, size: 'max' }), fc.integer({ min: 1, max: 30 }), fc.integer({ min: 1, max: 39 }), async (values, size, cut) => {
        const r = await rig([...early, ...late]);
        const evaluators = async (ruleSets: unknown[][], tag: string) => {
          const out = [];
          for (const [i, set] of ruleSets.entries()) {
            const e = await r.evaluator(`${tag}-${i}.db`, { rules: rules(set) });
            e.store.setOrigins([1]);
            out.push(e);
          }
          return out;
        };
        const batches: TestBatch[] = [];
        for (let i = 0; i < values.length; i += size) batches.push(batch('gw', values.slice(i, i + size).map((v, k) => ['v', T0 + 20_000 + (i + k) * 3_000, v] as [string, number, number])));
        const cutAt = Math.min(cut, batches.length - 1);
        await append(r.stream, ...batches.slice(0, cutAt));
        const [together] = await evaluators([early], 'together');
        const alone = await evaluators(early.map((x) => [x]), 'alone');
        for (const e of [together!, ...alone]) await e.ev.drain();
        await together!.store.stop();
        // The late rules join the running evaluator (a config reload: same store, more rules).
        const joined = await r.evaluator('together-0.db', { rules: rules([...early, ...late]) });
        const lateAlone = [];
        for (const [i, x] of late.entries()) {
          const e = await r.evaluator(`late-${i}.db`, { rules: rules([x]) });
          e.store.setOrigins([cutAt + 1]);
          lateAlone.push(e);
        }
        await append(r.stream, ...batches.slice(cutAt));
        for (const e of [joined, ...alone, ...lateAlone]) await e.ev.drain();
        const ids = (ts: AlertTransition[]) => ts.map((t) => `${t.id} ${t.value}`).sort();
        expect(ids(history(joined.store))).toEqual(ids([...alone, ...lateAlone].flatMap((e) => history(e.store))));
      }),
      { numRuns: 20 },
    );
  }, 120_000);

  it('bucket-stat rules fire at the bucket end; rate per minute; no_data in event time; clock from the batch', async () => {
    const r = await rig([
      { name: 'avg-hot', kind: 'threshold', sensor: 'temp_c', on: '1m.avg', above: 50 },
      { name: 'fast', kind: 'rate', sensor: 'level', above: 30, clear_below: 10 },
      { name: 'silent', kind: 'no_data', sensor: 'level', after: '2m' },
      { name: 'clock', kind: 'clock' },
    ]);
    const { ev, store } = await r.evaluator();
    await ev.drain();
    const b: TestBatch[] = [];
    // temp_c: minute 0 avg 40, minute 1 avg 60 (fires at the end of minute 1, i.e. when minute 2 starts), minute 2 avg 10.
    for (let m = 0; m < 3; m++) for (let s = 0; s < 60; s += 10) b.push(batch('gw', [['temp_c', T0 + m * MINUTE + s * 1000, [40, 60, 10][m]!]]));
    b.push(batch('gw', [['temp_c', T0 + 3 * MINUTE, 10]]));
    await append(r.stream, ...b);
    // level: +1/s (60/min → fires), then flat (0/min → clears), then silent for 3 minutes while temp_c goes on.
    await append(r.stream, batch('gw', [['level', T0 + 4 * MINUTE, 0]]), batch('gw', [['level', T0 + 4 * MINUTE + 1000, 1]]), batch('gw', [['level', T0 + 4 * MINUTE + 2000, 1]]));
    await append(r.stream, batch('gw', [['temp_c', T0 + 7 * MINUTE, 10]]));
    // An unsynced batch fires the clock rule; the next synced one resolves it.
    await append(r.stream, batch('gw', [['level', T0 + 8 * MINUTE, 5]], { synced: false, receivedMs: T0 + 8 * MINUTE }));
    await append(r.stream, batch('gw', [['level', T0 + 9 * MINUTE, 5]], { receivedMs: T0 + 9 * MINUTE + 500 }));
    await ev.drain();
    expect(brief(history(store))).toEqual([
      'avg-hot:gw:temp_c firing@120',
      'avg-hot:gw:temp_c resolved@180',
      'fast:gw:level firing@241',
      'fast:gw:level resolved@242',
      'silent:gw:level firing@362',
      'clock:gw firing@480',
      'clock:gw resolved@540.5',
      'silent:gw:level resolved@540',
    ].sort((a, b) => Number(a.split('@')[1]) - Number(b.split('@')[1])));
    expect(history(store).find((t) => t.rule === 'avg-hot')!.value).toBe(60);
    expect(history(store).find((t) => t.rule === 'fast')!.value).toBe(60);
  });

  it('a backlog yields its historical transitions with their event times, marked late; notify_late: false records without sending', async () => {
    const r = await rig([
      { name: 'hot', kind: 'threshold', sensor: 'temp_c', above: 50 },
      { name: 'hot-quiet', kind: 'threshold', sensor: 'temp_c', above: 50, notify_late: false },
    ]);
    const { ev, store } = await r.evaluator();
    await ev.drain();
    const arrived = T0 + 3 * 3_600_000;
    const values = [10, 60, 60, 10];
    await append(r.stream, ...values.map((v, i) => batch('gw', [['temp_c', T0 + (i * 3_600_000) / 4, v]], { receivedMs: arrived })));
    await ev.drain();
    const h = history(store);
    expect(brief(h).sort()).toEqual(['hot-quiet:gw:temp_c firing@900', 'hot-quiet:gw:temp_c resolved@2700', 'hot:gw:temp_c firing@900', 'hot:gw:temp_c resolved@2700']);
    expect(h.every((t) => t.late)).toBe(true);
    expect(store.pendingNotifications(100).map((d) => d.transition.alert_id)).toEqual(['hot:gw:temp_c', 'hot:gw:temp_c']);
  });

  it('the flapping guard bounds notifications per rule and device in event time; every transition is still recorded', async () => {
    const r = await rig([{ name: 'flap', kind: 'threshold', sensor: 'x', above: 5 }], { flapping: { max_notifications: 3, window: 3_600_000 } });
    const { ev, store } = await r.evaluator();
    await ev.drain();
    await append(r.stream, ...series('gw', 'x', Array.from({ length: 40 }, (_, i) => (i % 2 === 0 ? 10 : 0))));
    await ev.drain();
    expect(history(store)).toHaveLength(40);
    const due = store.pendingNotifications(1000);
    // 3 firings notified, each with its resolve; the other 17 episodes are recorded, not sent.
    expect(due.map((d) => d.transition.state)).toEqual(['firing', 'resolved', 'firing', 'resolved', 'firing', 'resolved']);
  });

  it('a new alert store starts at the end of the stream (alerts are about what happens from now on)', async () => {
    const r = await rig([{ name: 'hot', kind: 'threshold', sensor: 'x', above: 5 }]);
    await append(r.stream, ...series('gw', 'x', [10, 0]));
    const { ev, store } = await r.evaluator();
    await ev.drain();
    expect(history(store)).toEqual([]);
    await append(r.stream, ...series('gw', 'x', [10], 5));
    await ev.drain();
    expect(brief(history(store))).toEqual(['hot:gw:x firing@5']);
    expect(store.origin(0)).toBe(3);
  });
});
