// The OpenAPI document must describe exactly the routes fastify serves (a new route without a description
// fails here), parse as OpenAPI 3.1 JSON, and carry this deployment's limits.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger, MetricsRegistry } from '@tidemark/shared';
import { SqliteAggregateStore } from '../aggregate/sqlite-aggregate-store.js';
import { SqliteDeviceRegistry } from '../ingest/device-registry.js';
import type { OpenApiDocument } from './openapi.js';
import { buildApi } from './server.js';

const dir = mkdtempSync(join(tmpdir(), 'tidemark-openapi-'));
const logger = createLogger({ name: 'openapi-test', level: 'silent' });
const aggregates = new SqliteAggregateStore(join(dir, 'aggregates.db'));
const devices = new SqliteDeviceRegistry(join(dir, 'devices.db'), logger);
let app: FastifyInstance;

beforeAll(async () => {
  await aggregates.start();
  await devices.start();
  app = buildApi({
    listen: { host: '127.0.0.1', port: 0 },
    resolutions: [
      { label: '1m', ms: 60_000 },
      { label: '1h', ms: 3_600_000 },
    ],
    allowedLatenessMs: 300_000,
    maxPageSize: 500,
    aggregates,
    devices,
    metrics: new MetricsRegistry('tidemark_cloud'),
    logger,
    updates: { onUpdate: () => {} },
    tokens: [{ name: 'ops', token: 'openapi-token-0123456789' }],
  });
  await app.ready();
});
afterAll(async () => {
  await app.close();
  await devices.stop();
  await aggregates.stop();
  rmSync(dir, { recursive: true, force: true });
});

/** Full paths of the GET routes, from fastify's route tree (`:id` written as OpenAPI's `{id}`). */
function registeredGetRoutes(): string[] {
  const out: string[] = [];
  const stack: string[] = [];
  for (const line of app.printRoutes({ commonPrefix: false, method: 'GET' }).split('\n')) {
    const m = /^((?:│ {3}| {4})*)[├└]── (\S+)/.exec(line);
    if (!m) continue;
    const depth = m[1]!.length / 4;
    stack.length = depth;
    stack.push(m[2]!);
    out.push(stack.join('').replace(/:(\w+)/g, '{$1}'));
  }
  return out;
}

async function getDocument(): Promise<OpenApiDocument> {
  const res = await app.inject({ method: 'GET', url: '/api/v1/openapi.json', headers: { authorization: 'Bearer openapi-token-0123456789' } });
  expect(res.statusCode).toBe(200);
  expect(res.headers['content-type']).toMatch(/^application\/json/);
  return JSON.parse(res.body) as OpenApiDocument;
}

describe('/api/v1/openapi.json', () => {
  it('is OpenAPI 3.1 JSON with the bearer scheme, behind the same token as the rest of /api/*', async () => {
    expect((await app.inject({ method: 'GET', url: '/api/v1/openapi.json' })).statusCode).toBe(401);
    const doc = await getDocument();
    expect(doc.openapi).toBe('3.1.0');
    expect(doc.info.title).toBeTruthy();
    expect(doc.components.securitySchemes.bearerAuth).toMatchObject({ type: 'http', scheme: 'bearer' });
    expect(doc.security).toEqual([{ bearerAuth: [] }]);
    expect(doc.paths['/healthz']!.get!.security).toEqual([]);
    expect(doc.paths['/readyz']!.get!.security).toEqual([]);
  });

  it('describes every route fastify serves, and serves every route it describes', async () => {
    const doc = await getDocument();
    const routes = registeredGetRoutes();
    expect(routes).toEqual(expect.arrayContaining(['/healthz', '/api/v1/aggregates', '/api/v1/devices/{id}/sensors', '/api/v1/stream', '/api/v1/openapi.json']));
    const described = (method: 'get' | 'post') => Object.keys(doc.paths).filter((p) => doc.paths[p]![method] !== undefined);
    expect(described('get').sort()).toEqual([...routes].sort());
    for (const method of ['get', 'post'] as const) {
      for (const path of described(method)) {
        expect(app.hasRoute({ method: method.toUpperCase() as 'GET' | 'POST', url: path.replace(/\{(\w+)\}/g, ':$1') }), `${method} ${path}`).toBe(true);
      }
    }
    expect(described('post')).toEqual(['/api/v1/alerts/{id}/ack']);
  });

  it('gives every operation an id, responses, and every parameter a schema; refs resolve', async () => {
    const doc = await getDocument();
    const text = JSON.stringify(doc);
    for (const [, name] of text.matchAll(/"#\/components\/schemas\/(\w+)"/g)) expect(doc.components.schemas[name!], name).toBeDefined();
    const ids = new Set<string>();
    for (const [path, item] of Object.entries(doc.paths)) {
      for (const op of [item.get, item.post]) {
      if (op === undefined) continue;
      expect(ids.has(op.operationId), path).toBe(false);
      ids.add(op.operationId);
      expect(Object.keys(op.responses).length, path).toBeGreaterThan(0);
      for (const p of op.parameters ?? []) expect(p.schema, `${path} ${p.name}`).toBeDefined();
      for (const [, param] of path.matchAll(/\{(\w+)\}/g)) expect(op.parameters?.some((p) => p.in === 'path' && p.name === param && p.required)).toBe(true);
      }
    }
  });

  it('states the parameters, limits and shapes of this deployment', async () => {
    const doc = await getDocument();
    const agg = doc.paths['/api/v1/aggregates']!.get!;
    const param = (name: string) => agg.parameters!.find((p) => p.name === name)!;
    expect(['device', 'tag', 'sensor', 'from', 'to'].map((n) => param(n).required)).toEqual([false, false, true, true, true]); // device or tag
    expect(param('resolution').schema).toMatchObject({ enum: ['1m', '1h'], default: '1m' });
    expect(param('limit').schema).toMatchObject({ type: 'integer', minimum: 1, maximum: 500, default: 500 });
    expect(param('device').schema.pattern).toBe('^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$');
    expect(agg.responses['400']!.content!['application/json']!.schema).toEqual({ $ref: '#/components/schemas/Error' });
    expect(doc.components.schemas.BucketItem!.required).toEqual(['device', 'sensor', 'resolution', 'start', 'count', 'sum', 'min', 'max', 'avg', 'stddev', 'first', 'last', 'final', 'revision']);
    const stream = doc.paths['/api/v1/stream']!.get!;
    expect(stream.parameters!.filter((p) => p.in === 'query').map((p) => [p.name, p.required])).toEqual([
      ['device', false],
      ['sensor', false],
      ['resolution', false],
    ]);
    expect(Object.keys(stream.responses['200']!.content!)).toEqual(['text/event-stream']);
  });
});
