import { Writable } from 'node:stream';
import Fastify, { type FastifyInstance } from 'fastify';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { runAlertsAck, runAlertsList, type AlertItem } from './alerts-command.js';
import { main } from './cli.js';

function capture() {
  let text = '';
  const stream = new Writable({
    write(chunk: Buffer, _e, done) {
      text += chunk.toString();
      done();
    },
  });
  return { stream, text: () => text };
}

function io() {
  const out = capture();
  const err = capture();
  return { io: { out: out.stream, err: err.stream }, out: out.text, err: err.text };
}

const item = (n: number, extra: Partial<AlertItem> = {}): AlertItem => ({
  id: `a${n}`,
  rule: 'oven-hot',
  device: `oven-${n}`,
  sensor: 'temp_c',
  severity: 'critical',
  state: 'firing',
  value: 250.123456,
  since: '2026-01-01T00:00:00.000Z',
  event_time: '2026-01-01T00:02:00.000Z',
  acked_by: null,
  message: 'temp_c above 250',
  late: false,
  ...extra,
});

/** A stub of the alerts API: 5 items served 2 per page, and an ack that knows a1 only. */
async function stub(): Promise<{ app: FastifyInstance; url: string; seen: { query: Record<string, string>; auth: string | undefined }[] }> {
  const seen: { query: Record<string, string>; auth: string | undefined }[] = [];
  const items = [1, 2, 3, 4, 5].map((n) => item(n, n === 3 ? { sensor: null, late: true, acked_by: 'ops' } : {}));
  const app = Fastify();
  app.get('/api/v1/alerts', async (req, reply) => {
    const query = req.query as Record<string, string>;
    seen.push({ query, auth: req.headers.authorization });
    if (query.state === 'bogus') return reply.code(400).send({ error: { code: 'bad_parameter', message: 'state: expected pending|firing|resolved' } });
    const start = query.cursor ? Number(query.cursor) : 0;
    const next = start + 2 < items.length ? String(start + 2) : null;
    return { items: items.slice(start, start + 2), next_cursor: next };
  });
  app.post('/api/v1/alerts/:id/ack', async (req, reply) => {
    const { id } = req.params as { id: string };
    seen.push({ query: { ack: id }, auth: req.headers.authorization });
    if (id !== 'a1') return reply.code(404).send({ error: { code: 'not_found', message: `no alert ${id}` } });
    return { ...item(1), acked_by: 'token:ops' };
  });
  const url = await app.listen({ port: 0, host: '127.0.0.1' });
  return { app, url, seen };
}

let api: Awaited<ReturnType<typeof stub>>;
beforeEach(async () => {
  api = await stub();
});
afterEach(async () => {
  vi.unstubAllEnvs();
  vi.restoreAllMocks();
  await api.app.close();
});

describe('alerts list', { timeout: 30_000 }, () => {
  it('follows every cursor page and prints json', async () => {
    const t = io();
    expect(await runAlertsList({ url: `${api.url}/`, format: 'json', state: 'firing', rule: 'oven-hot', device: 'oven-1', token: 'tok' }, t.io)).toBe(0);
    const printed = JSON.parse(t.out()) as AlertItem[];
    expect(printed.map((i) => i.id)).toEqual(['a1', 'a2', 'a3', 'a4', 'a5']);
    expect(api.seen.map((s) => s.query.cursor)).toEqual([undefined, '2', '4']);
    for (const s of api.seen) {
      expect(s.query).toMatchObject({ state: 'firing', rule: 'oven-hot', device: 'oven-1' });
      expect(s.auth).toBe('Bearer tok');
    }
  });

  it('prints a table with a row per alert; the token comes from TIDEMARK_API_TOKEN when not given', async () => {
    vi.stubEnv('TIDEMARK_API_TOKEN', 'from-env');
    const t = io();
    expect(await runAlertsList({ url: api.url, format: 'table' }, t.io)).toBe(0);
    const lines = t.out().trimEnd().split('\n');
    expect(lines[0]).toMatch(/^ID\s+STATE\s+SEVERITY\s+RULE\s+DEVICE\s+SENSOR\s+VALUE\s+SINCE\s+ACKED_BY\s+MESSAGE$/);
    expect(lines).toHaveLength(7);
    expect(lines[1]).toMatch(/^a1\s+firing\s+critical\s+oven-hot\s+oven-1\s+temp_c\s+250\.123\s+2026-01-01T00:00:00\.000Z\s+-\s+temp_c above 250$/);
    expect(lines[3]).toMatch(/^a3\s+firing \(late\)\s+critical\s+oven-hot\s+oven-3\s+-\s+.*\s+ops\s+temp_c above 250$/);
    expect(lines[6]).toBe('5 alerts');
    expect(api.seen[0]!.auth).toBe('Bearer from-env');
    expect(api.seen[0]!.query).toEqual({});
  });

  it('a 400 from the API is exit 2 with its message; an unreachable API is exit 1', async () => {
    const t = io();
    expect(await runAlertsList({ url: api.url, format: 'json', state: 'bogus' }, t.io)).toBe(2);
    expect(t.err()).toContain('HTTP 400: state: expected pending|firing|resolved');
    expect(t.out()).toBe('');
    await api.app.close();
    const t2 = io();
    expect(await runAlertsList({ url: api.url, format: 'json' }, t2.io)).toBe(1);
    expect(t2.err()).toMatch(/cannot reach http:\/\/127\.0\.0\.1:\d+: ECONNREFUSED/);
  });
});

describe('alerts ack', () => {
  it('acknowledges a known alert and says so', async () => {
    const t = io();
    expect(await runAlertsAck('a1', { url: api.url, token: 'op' }, t.io)).toBe(0);
    expect(t.out()).toBe('acknowledged a1 by token:ops (firing)\n');
    expect(api.seen).toEqual([{ query: { ack: 'a1' }, auth: 'Bearer op' }]);
  });

  it('an unknown id is exit 1 and named', async () => {
    const t = io();
    expect(await runAlertsAck('nope/../x', { url: api.url }, t.io)).toBe(1);
    expect(t.err()).toBe('tidemark-cloud alerts ack: no alert "nope/../x" (HTTP 404: no alert nope/../x)\n');
    expect(t.out()).toBe('');
  });
});

describe('tidemark-cloud alerts (argument handling)', { timeout: 30_000 }, () => {
  const run = async (...args: string[]) => {
    const out: string[] = [];
    const err: string[] = [];
    vi.spyOn(process.stdout, 'write').mockImplementation((c: string | Uint8Array) => (out.push(String(c)), true));
    vi.spyOn(process.stderr, 'write').mockImplementation((c: string | Uint8Array) => (err.push(String(c)), true));
    const code = await main(['node', 'tidemark-cloud', ...args]);
    vi.restoreAllMocks();
    return { code, out: out.join(''), err: err.join('') };
  };

  it('usage errors are exit 2', async () => {
    expect((await run('alerts', 'list')).code).toBe(2);
    const bad = await run('alerts', 'list', '--url', api.url, '--state', 'burning');
    expect(bad.code).toBe(2);
    expect(bad.err).toContain('burning');
    expect((await run('alerts', 'list', '--url', 'not a url')).code).toBe(2);
    expect((await run('alerts', 'ack', '--url', api.url)).code).toBe(2);
    expect(api.seen).toEqual([]);
  });

  it('runs list and ack from the command line', async () => {
    const list = await run('alerts', 'list', '--url', api.url, '--format', 'json', '--state', 'firing');
    expect(list.code).toBe(0);
    expect((JSON.parse(list.out) as AlertItem[]).length).toBe(5);
    const ack = await run('alerts', 'ack', 'a1', '--url', api.url);
    expect(ack).toMatchObject({ code: 0, out: 'acknowledged a1 by token:ops (firing)\n' });
    expect((await run('alerts', 'ack', 'a9', '--url', api.url)).code).toBe(1);
  });
});
