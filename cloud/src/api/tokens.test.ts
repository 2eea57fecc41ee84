import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger, MetricsRegistry } from '@tidemark/shared';
import { SqliteAggregateStore } from '../aggregate/sqlite-aggregate-store.js';
import { SqliteDeviceRegistry } from '../ingest/device-registry.js';
import { ApiServer } from './server.js';
import { authorize, loadTokens } from './tokens.js';

const dir = mkdtempSync(join(tmpdir(), 'tidemark-tokens-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('API tokens file', () => {
  it('loads named tokens and reports every bad entry with its path', () => {
    const good = join(dir, 'good.yaml');
    writeFileSync(good, 'tokens:\n  - { name: grafana, token: "0123456789abcdef0123" }\n');
    expect(loadTokens(good)).toEqual([{ name: 'grafana', token: '0123456789abcdef0123' }]);
    const bad = join(dir, 'bad.yaml');
    writeFileSync(bad, 'tokens:\n  - { name: "", token: short }\n  - { token: "0123456789abcdef0123" }\n');
    expect(() => loadTokens(bad)).toThrow(/tokens\[0\]\.name[\s\S]*tokens\[0\]\.token[\s\S]*tokens\[1\]\.name/);
    expect(() => loadTokens(join(dir, 'missing.yaml'))).toThrow(/api\.tokens_file/);
  });

  it('authorizes only a known bearer token', () => {
    const tokens = [{ name: 'ops', token: 'secret-secret-secret' }];
    expect(authorize('Bearer secret-secret-secret', tokens)).toBe('ops');
    expect(authorize('bearer   secret-secret-secret ', tokens)).toBe('ops');
    expect(authorize('Bearer secret-secret-secreT', tokens)).toBeUndefined();
    expect(authorize('Basic c2VjcmV0', tokens)).toBeUndefined();
    expect(authorize(undefined, tokens)).toBeUndefined();
  });
});

describe('API with tokens', () => {
  const aggregates = new SqliteAggregateStore(join(dir, 'aggregates.db'));
  const logger = createLogger({ name: 't', level: 'silent' });
  const devices = new SqliteDeviceRegistry(join(dir, 'devices.db'), logger);
  const api = new ApiServer({
    listen: { host: '127.0.0.1', port: 0 },
    resolutions: [{ label: '1m', ms: 60_000 }],
    allowedLatenessMs: 300_000,
    maxPageSize: 100,
    aggregates,
    devices,
    metrics: new MetricsRegistry('tidemark_cloud'),
    logger,
    tokens: [{ name: 'ops', token: 'secret-secret-secret' }],
  });
  let base = '';
  beforeAll(async () => {
    await aggregates.start();
    await devices.start();
    await api.start();
    base = `http://127.0.0.1:${api.boundPort}`;
  });
  afterAll(async () => {
    await api.stop();
    await devices.stop();
    await aggregates.stop();
  });

  it('refuses the API and metrics without a token, serves them with one, and keeps health probes open', async () => {
    const no = await fetch(`${base}/api/v1/devices`);
    expect(no.status).toBe(401);
    expect(((await no.json()) as { error: { code: string } }).error.code).toBe('unauthorized');
    expect((await fetch(`${base}/metrics`)).status).toBe(401);
    const yes = await fetch(`${base}/api/v1/devices`, { headers: { authorization: 'Bearer secret-secret-secret' } });
    expect(yes.status).toBe(200);
    expect((await fetch(`${base}/healthz`)).status).toBe(200);
    expect((await fetch(`${base}/readyz`)).status).toBe(200);
  });
});
