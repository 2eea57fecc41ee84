// offline and backlog rules against a real device registry fed real status messages (as the broker hands
// them over): an offline device fires after `after` of silence and resolves when it is back; a backlog older
// than `above` fires and clears; transitions land in the alert store with outbox rows.
import path from 'node:path';
import { createLogger } from '@tidemark/shared';
import { afterEach, describe, expect, it } from 'vitest';
import { TestResources } from '../aggregate/testing/test-resources.js';
import { SqliteDeviceRegistry } from '../ingest/device-registry.js';
import { alertsSchema, finishAlerts } from './alert-config.js';
import { SqliteAlertStore } from './sqlite-alert-store.js';
import { StatusAlertWatcher } from './status-watcher.js';
import { staticTags } from '../devices/device-tag-source.js';

const logger = createLogger({ name: 'status-watcher-test', level: 'silent' });
const res = new TestResources('tidemark-status-alerts-');
afterEach(res.closeAll);

const status = (doc: Record<string, unknown>) => Buffer.from(JSON.stringify(doc));

describe('StatusAlertWatcher', () => {
  it('fires offline after `after` of silence and backlog past `above`; both resolve; other devices untouched', async () => {
    const dir = await res.tempDir();
    const registry = await res.started(new SqliteDeviceRegistry(path.join(dir, 'devices.db'), logger));
    const store = await res.started(new SqliteAlertStore(path.join(dir, 'alerts.db')));
    const rules = finishAlerts(
      alertsSchema().parse({
        rules: [
          { name: 'gone', kind: 'offline', devices: 'truck-*', after: '2m', severity: 'critical' },
          { name: 'behind', kind: 'backlog', devices: '*', above: '10m' },
        ],
      }),
      [{ label: '1m', ms: 60_000 }],
    ).rules;
    let now = Date.UTC(2026, 11, 2, 12);
    const watcher = new StatusAlertWatcher(registry, store, { rules, notifiers: ['log', 'webhook:x'], flapping: { max_notifications: 10, window: 3_600_000 }, now: () => now }, logger);
    await watcher.start();
    const t0 = now;
    registry.status('truck-1', status({ online: true, backlog_readings: 0 }), t0);
    registry.status('press-1', status({ online: true, backlog_readings: 0 }), t0);
    await registry.flush();
    expect(await watcher.tick()).toBe(0);

    // truck-1 drops off (its will) at t0 + 1 min; press-1 starts buffering.
    now = t0 + 60_000;
    registry.status('truck-1', status({ online: false }), now);
    registry.status('press-1', status({ online: true, backlog_readings: 500, oldest_buffered_time: new Date(now).toISOString() }), now);
    await registry.flush();
    expect(await watcher.tick()).toBe(0);
    now = t0 + 3 * 60_000; // silent for 3 min since its last sign of life at t0 (> 2 min)
    expect(await watcher.tick()).toBe(1);
    now = t0 + 12 * 60_000; // press-1's oldest buffered reading is 11 min old
    expect(await watcher.tick()).toBe(1);
    const firing = store.listAlerts({ state: 'firing', limit: 10 }).items;
    expect(firing.map((a) => [a.id, a.event_time])).toEqual([
      ['behind:press-1', new Date(t0 + 12 * 60_000).toISOString()],
      ['gone:truck-1', new Date(t0 + 2 * 60_000).toISOString()],
    ]);
    // Back online, caught up.
    now = t0 + 13 * 60_000;
    registry.status('truck-1', status({ online: true, backlog_readings: 0 }), now);
    registry.status('press-1', status({ online: true, backlog_readings: 0 }), now);
    await registry.flush();
    expect(await watcher.tick()).toBe(2);
    expect(store.listAlerts({ state: 'resolved', limit: 10 }).items.map((a) => a.id)).toEqual(['behind:press-1', 'gone:truck-1']);
    // Each firing and resolve has one outbox row per notifier.
    expect(store.depth().count).toBe(8);
    await watcher.stop();
  });

  it('a tag selector watches the devices that have the tag at each tick', async () => {
    const dir = await res.tempDir();
    const registry = await res.started(new SqliteDeviceRegistry(path.join(dir, 'devices.db'), logger));
    const store = await res.started(new SqliteAlertStore(path.join(dir, 'alerts.db')));
    const rules = finishAlerts(alertsSchema().parse({ rules: [{ name: 'gone', kind: 'offline', devices: { tag: 'site=plant-3' }, after: '1m' }] }), [{ label: '1m', ms: 60_000 }]).rules;
    let tags = staticTags({}, 1);
    let now = Date.UTC(2026, 11, 2, 12);
    const watcher = new StatusAlertWatcher(registry, store, { rules, notifiers: ['log'], flapping: { max_notifications: 10, window: 3_600_000 }, now: () => now, tags: { current: () => tags } }, logger);
    registry.status('truck-1', status({ online: false }), now);
    await registry.flush();
    now += 5 * 60_000;
    expect(await watcher.tick()).toBe(0); // offline for 5 min, but not tagged
    tags = staticTags({ 'truck-1': { site: 'plant-3' } }, 2);
    expect(await watcher.tick()).toBe(1);
    expect(store.listAlerts({ state: 'firing', limit: 10 }).items.map((a) => a.id)).toEqual(['gone:truck-1']);
  });
});
