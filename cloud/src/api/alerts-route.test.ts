// The alert routes on a real alert store filled by a real evaluator: filters, deterministic paging, history,
// every bad parameter a 400 naming it, and ack guarded by the operate scope (read-only tokens get 403).
import path from 'node:path';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger, MetricsRegistry } from '@tidemark/shared';
import { append, batch, T0 } from '../aggregate/testing/aggregator-workload.js';
import { TestResources } from '../aggregate/testing/test-resources.js';
import { SqliteAggregateStore } from '../aggregate/sqlite-aggregate-store.js';
import { alertsSchema, finishAlerts } from '../alerts/alert-config.js';
import { AlertEvaluator } from '../alerts/alert-evaluator.js';
import { SqliteAlertStore } from '../alerts/sqlite-alert-store.js';
import { SqliteDeviceRegistry } from '../ingest/device-registry.js';
import { SqliteStreamStore } from '../store/sqlite-stream-store.js';
import { buildApi } from './server.js';

const logger = createLogger({ name: 'alerts-route-test', level: 'silent' });
const res = new TestResources('tidemark-alerts-api-');
let app: FastifyInstance;
let store: SqliteAlertStore;
const READ = 'read-token-0123456789';
const OPS = 'operate-token-0123456789';

beforeAll(async () => {
  const dir = await res.tempDir();
  const stream = await res.started(new SqliteStreamStore({ path: path.join(dir, 'stream.db') }));
  store = await res.started(new SqliteAlertStore(path.join(dir, 'alerts.db')));
  const rules = finishAlerts(alertsSchema().parse({ rules: [{ name: 'hot', kind: 'threshold', sensor: 'temp_c', above: 50, severity: 'critical' }] }), [{ label: '1m', ms: 60_000 }]).rules;
  const ev = new AlertEvaluator([stream], store, { rules, notifiers: ['log'], flapping: { max_notifications: 10, window: 3_600_000 }, allowedLatenessMs: 300_000, maxFutureSkewMs: 300_000 }, logger, new MetricsRegistry('tidemark_cloud'));
  await ev.drain();
  // gw-0..gw-4 fire; gw-3 then resolves.
  for (let i = 0; i < 5; i++) await append(stream, batch(`gw-${i}`, [['temp_c', T0 + i * 1000, 60]]));
  await append(stream, batch('gw-3', [['temp_c', T0 + 10_000, 10]]));
  await ev.drain();
  const aggregates = await res.started(new SqliteAggregateStore(path.join(dir, 'aggregates.db')));
  const devices = await res.started(new SqliteDeviceRegistry(path.join(dir, 'devices.db'), logger));
  app = buildApi({
    listen: { host: '127.0.0.1', port: 0 },
    resolutions: [{ label: '1m', ms: 60_000 }],
    allowedLatenessMs: 300_000,
    maxPageSize: 500,
    aggregates,
    devices,
    metrics: new MetricsRegistry('tidemark_cloud'),
    logger,
    tokens: [
      { name: 'dashboard', token: READ, scopes: ['read'] },
      { name: 'oncall', token: OPS },
    ],
    alerts: () => store,
  });
  await app.ready();
});
afterAll(async () => {
  await app.close();
  await res.closeAll();
});

const get = async (url: string, token = READ) => {
  const r = await app.inject({ method: 'GET', url, headers: { authorization: `Bearer ${token}` } });
  return { status: r.statusCode, body: JSON.parse(r.body) as { items: { id: string; state: string; acked_by: string | null }[]; next_cursor: string | null; error?: { code: string; message: string } } };
};

describe('/api/v1/alerts', () => {
  it('lists series by state, rule and device, paged in id order', async () => {
    const firing = await get('/api/v1/alerts?state=firing');
    expect(firing.body.items.map((i) => i.id)).toEqual(['hot:gw-0:temp_c', 'hot:gw-1:temp_c', 'hot:gw-2:temp_c', 'hot:gw-4:temp_c']);
    expect((await get('/api/v1/alerts?state=resolved')).body.items.map((i) => i.id)).toEqual(['hot:gw-3:temp_c']);
    expect((await get('/api/v1/alerts?device=gw-1')).body.items.map((i) => i.id)).toEqual(['hot:gw-1:temp_c']);
    expect((await get('/api/v1/alerts?rule=other')).body.items).toEqual([]);
    const seen: string[] = [];
    let url = '/api/v1/alerts?limit=2';
    for (;;) {
      const page = await get(url);
      expect(page.status).toBe(200);
      seen.push(...page.body.items.map((i) => i.id));
      if (!page.body.next_cursor) break;
      url = `/api/v1/alerts?limit=2&cursor=${page.body.next_cursor}`;
    }
    expect(seen).toEqual(['hot:gw-0:temp_c', 'hot:gw-1:temp_c', 'hot:gw-2:temp_c', 'hot:gw-3:temp_c', 'hot:gw-4:temp_c']);
  });

  it('serves the history of transitions, all of it or one alert’s', async () => {
    const all = await get('/api/v1/alerts?history=true&limit=100');
    expect(all.body.items.map((t) => (t as unknown as { state: string }).state).sort()).toEqual(['firing', 'firing', 'firing', 'firing', 'firing', 'resolved']);
    const one = await get('/api/v1/alerts/hot:gw-3:temp_c/transitions');
    expect(one.body.items.map((t) => (t as unknown as { state: string }).state)).toEqual(['firing', 'resolved']);
    expect((await get('/api/v1/alerts/nope:gw-3/transitions')).status).toBe(404);
    expect((await get('/api/v1/alerts/hot:gw-3:temp_c')).body).toMatchObject({ id: 'hot:gw-3:temp_c', state: 'resolved', severity: 'critical' });
  });

  it('answers a bad parameter with a 400 naming it', async () => {
    for (const [url, name] of [
      ['/api/v1/alerts?state=burning', 'state'],
      ['/api/v1/alerts?limit=0', 'limit'],
      ['/api/v1/alerts?limit=abc', 'limit'],
      ['/api/v1/alerts?cursor=zzz', 'cursor'],
      ['/api/v1/alerts?device=a%20b', 'device'],
      ['/api/v1/alerts?history=maybe', 'history'],
      ['/api/v1/alerts?colour=red', 'colour'],
      ['/api/v1/alerts?state=firing&state=pending', 'state'],
    ] as const) {
      const r = await get(url);
      expect(r.status, url).toBe(400);
      expect(r.body.error!.message.startsWith(`${name}:`), r.body.error!.message).toBe(true);
    }
  });

  it('acks the firing episode with an operate token only; a read token gets 403, a resolved alert 409, an unknown one 404', async () => {
    const ack = (id: string, token: string) => app.inject({ method: 'POST', url: `/api/v1/alerts/${id}/ack`, headers: { authorization: `Bearer ${token}` } });
    const denied = await ack('hot:gw-0:temp_c', READ);
    expect(denied.statusCode).toBe(403);
    expect(JSON.parse(denied.body).error.message).toMatch(/operate/);
    const ok = await ack('hot:gw-0:temp_c', OPS);
    expect(ok.statusCode).toBe(200);
    expect(JSON.parse(ok.body)).toMatchObject({ id: 'hot:gw-0:temp_c', acked_by: 'oncall' });
    expect((await get('/api/v1/alerts?state=firing')).body.items.find((i) => i.id === 'hot:gw-0:temp_c')!.acked_by).toBe('oncall');
    expect((await ack('hot:gw-3:temp_c', OPS)).statusCode).toBe(409);
    expect((await ack('hot:nobody:temp_c', OPS)).statusCode).toBe(404);
    expect((await app.inject({ method: 'POST', url: '/api/v1/alerts/hot:gw-1:temp_c/ack' })).statusCode).toBe(401);
  });
});
