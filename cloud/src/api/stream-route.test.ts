// /api/v1/stream over a real socket: updates fed through the aggregator's listener interface arrive as SSE
// events equal to the /api/v1/aggregates items; filters, 400s, heartbeats, Last-Event-ID resume and resets;
// listeners and timers are released when a client goes; a client that stops reading is dropped and
// counted while the others keep streaming; shutdown is not held up by open streams.
import { mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { counterValue, createLogger, gaugeValue, MetricsRegistry } from '@tidemark/shared';
import { waitFor } from '@tidemark/shared/testing';
import type { BucketRecord } from '../aggregate/aggregate-store.js';
import type { BucketUpdateListener } from '../aggregate/aggregator.js';
import { addValue, emptyStats } from '../aggregate/bucket-stats.js';
import { SqliteAggregateStore } from '../aggregate/sqlite-aggregate-store.js';
import { SqliteDeviceRegistry } from '../ingest/device-registry.js';
import { buildApi, type ApiOptions } from './server.js';
import type { BucketUpdateSource } from './stream-hub.js';
import { SseClient } from './testing/sse-client.js';

const MINUTE = 60_000;
const RESOLUTIONS = [
  { label: '1m', ms: MINUTE },
  { label: '1h', ms: 60 * MINUTE },
];
const LATENESS = 5 * MINUTE;
const T0 = Date.UTC(2026, 10, 27, 10);
const TOKEN = 'stream-token-0123456789';
const logger = createLogger({ name: 'stream-test', level: 'silent' });

/** Stands in for the Aggregator: the same onUpdate(listener) contract, driven by the test. */
class FakeSource implements BucketUpdateSource {
  private listeners: BucketUpdateListener[] = [];
  private gapListeners: ((reason: string) => void)[] = [];
  onUpdate(l: BucketUpdateListener): void {
    this.listeners.push(l);
  }
  onGap(l: (reason: string) => void): void {
    this.gapListeners.push(l);
  }
  emit(updates: BucketRecord[], watermarks: Record<string, number> = {}): void {
    for (const l of this.listeners) l(updates, new Map(Object.entries(watermarks)));
  }
  gap(reason: string): void {
    for (const l of this.gapListeners) l(reason);
  }
}

function bucket(device: string, sensor: string, resolution: string, start: number, values: number[], revision = 0): BucketRecord {
  const stats = emptyStats();
  values.forEach((v, i) => addValue(stats, start + i, v));
  return { device, sensor, resolution, start, stats, revision };
}

const dir = mkdtempSync(join(tmpdir(), 'tidemark-stream-'));
const aggregates = new SqliteAggregateStore(join(dir, 'aggregates.db'));
const devices = new SqliteDeviceRegistry(join(dir, 'devices.db'), logger);
beforeAll(async () => {
  await aggregates.start();
  await devices.start();
});
afterAll(async () => {
  await devices.stop();
  await aggregates.stop();
  rmSync(dir, { recursive: true, force: true });
});

interface Running {
  app: FastifyInstance;
  base: string;
  source: FakeSource;
  metrics: MetricsRegistry;
}
const apps: FastifyInstance[] = [];
const clients: SseClient[] = [];
afterEach(async () => {
  for (const c of clients.splice(0)) c.close();
  for (const a of apps.splice(0)) await a.close();
});

async function start(over: Partial<ApiOptions> = {}): Promise<Running> {
  const source = new FakeSource();
  const metrics = new MetricsRegistry('tidemark_cloud');
  const app = buildApi({
    listen: { host: '127.0.0.1', port: 0 },
    resolutions: RESOLUTIONS,
    allowedLatenessMs: LATENESS,
    maxPageSize: 1000,
    aggregates,
    devices,
    metrics,
    logger,
    updates: source,
    ...over,
  });
  apps.push(app);
  await app.listen({ host: '127.0.0.1', port: 0 });
  const addr = app.server.address();
  const base = `http://127.0.0.1:${typeof addr === 'object' && addr ? addr.port : 0}`;
  return { app, base, source, metrics };
}

async function connect(url: string, headers: Record<string, string> = {}): Promise<SseClient> {
  const c = await SseClient.connect(url, headers);
  clients.push(c);
  return c;
}

const clientsGauge = (r: Running) => gaugeValue(r.metrics.gauge('stream_clients', 'Clients connected to /api/v1/stream'));
const droppedCounter = (r: Running) => counterValue(r.metrics.counter('stream_dropped_total', 'Stream clients closed because they did not keep up (unsent data over the limit)'));

/** A client on a bare socket: sends the request, reads nothing until told. */
function rawRequest(r: Running, path: string): net.Socket {
  const socket = net.connect(Number(new URL(r.base).port), '127.0.0.1');
  socket.on('error', () => {});
  socket.pause();
  socket.write(`GET ${path} HTTP/1.1\r\nHost: localhost\r\nAccept: text/event-stream\r\n\r\n`);
  return socket;
}

/** Subscribing happens right after the headers are written: wait for the server to count the client. */
async function connected(r: Running, n: number): Promise<void> {
  await waitFor(async () => (await clientsGauge(r)) === n, { description: `${n} stream clients` });
}

describe('GET /api/v1/stream', () => {
  it('streams each committed bucket as the same item /api/v1/aggregates serves, with ids, event type and retry hint', async () => {
    const r = await start();
    const sse = await connect(`${r.base}/api/v1/stream?device=press-07&sensor=temp_c&resolution=1m`);
    expect(sse.response.status).toBe(200);
    expect(sse.response.headers.get('content-type')).toMatch(/^text\/event-stream/);
    expect(sse.response.headers.get('cache-control')).toContain('no-cache');
    await connected(r, 1);

    // What the aggregator would commit, then announce: the watermark makes the first bucket final.
    const updates = [bucket('press-07', 'temp_c', '1m', T0, [20, 22, 27]), bucket('press-07', 'temp_c', '1m', T0 + 7 * MINUTE, [30])];
    const watermark = T0 + 7 * MINUTE;
    await aggregates.commit({ offset: 2, buckets: updates, watermarks: new Map([['press-07', watermark]]), sensors: [], unaggregated: new Map() });
    r.source.emit(
      [...updates, bucket('press-07', 'temp_c', '1h', T0, [1]), bucket('press-07', 'flow', '1m', T0, [1]), bucket('oven-02', 'temp_c', '1m', T0, [1])],
      { 'press-07': watermark },
    );
    await sse.until((ev) => ev.length >= 3, 'two bucket events and the watermark');
    expect(sse.retry).toBe(3000);
    expect(sse.events.map((e) => e.event)).toEqual(['bucket', 'bucket', 'watermark']);
    expect(JSON.parse(sse.events[2]!.data)).toEqual({ device: 'press-07', watermark: new Date(watermark).toISOString(), allowed_lateness_ms: LATENESS });
    const ids = sse.events.map((e) => e.id!);
    expect(ids[0]).toMatch(/^[0-9a-f]+-\d+$/);
    expect(new Set(ids).size).toBe(ids.length);

    const q = new URLSearchParams({ device: 'press-07', sensor: 'temp_c', resolution: '1m', from: new Date(T0).toISOString(), to: new Date(T0 + 3_600_000).toISOString() });
    const page = (await (await fetch(`${r.base}/api/v1/aggregates?${q}`)).json()) as { items: unknown[] };
    expect(page.items).toHaveLength(2);
    expect(sse.buckets()).toEqual(page.items);
    expect(sse.buckets<{ final: boolean; count: number }>().map((b) => [b.final, b.count])).toEqual([
      [true, 3],
      [false, 1],
    ]);
  });

  it('filters are optional: none = every device, sensor and resolution', async () => {
    const r = await start();
    const all = await connect(`${r.base}/api/v1/stream`);
    const oneRes = await connect(`${r.base}/api/v1/stream?resolution=1h`);
    const oneSensor = await connect(`${r.base}/api/v1/stream?sensor=flow`);
    await connected(r, 3);
    r.source.emit([bucket('a', 'temp_c', '1m', T0, [1]), bucket('a', 'flow', '1h', T0, [2]), bucket('b', 'flow', '1m', T0, [3])]);
    await all.until((ev) => ev.length === 3, 'every update');
    await oneRes.until((ev) => ev.length === 1, 'the 1h update');
    await oneSensor.until((ev) => ev.length === 2, 'the flow updates');
    expect(oneRes.buckets()).toMatchObject([{ device: 'a', sensor: 'flow', resolution: '1h' }]);
    expect(oneSensor.buckets().map((b) => b.device)).toEqual(['a', 'b']);
  });

  // [query, parameter at fault, code]
  const bad: Array<[string, string, string]> = [
    ['device=has%20space', 'device', 'invalid_parameter'],
    ['device=', 'device', 'invalid_parameter'],
    ['device=a&device=b', 'device', 'invalid_parameter'],
    ['sensor=a%2Fb', 'sensor', 'invalid_parameter'],
    ['sensor=', 'sensor', 'invalid_parameter'],
    ['resolution=5m', 'resolution', 'invalid_parameter'],
    ['resolution=', 'resolution', 'invalid_parameter'],
    ['from=2026-11-27', 'from', 'unknown_parameter'],
    ['devices=press-07', 'devices', 'unknown_parameter'],
  ];
  it.each(bad)('400 for %s, naming %s', async (query, name, code) => {
    const r = await start();
    const res = await fetch(`${r.base}/api/v1/stream?${query}`);
    expect(res.status).toBe(400);
    const body = (await res.json()) as { error: { code: string; message: string } };
    expect(body.error.code).toBe(code);
    expect(body.error.message.startsWith(`${name}:`), body.error.message).toBe(true);
    expect(await clientsGauge(r)).toBe(0);
  });

  it('needs a bearer token when tokens are set, like the rest of /api/*', async () => {
    const r = await start({ tokens: [{ name: 'ops', token: TOKEN }] });
    expect((await fetch(`${r.base}/api/v1/stream`)).status).toBe(401);
    const sse = await connect(`${r.base}/api/v1/stream?device=a`, { authorization: `Bearer ${TOKEN}` });
    expect(sse.response.status).toBe(200);
    await connected(r, 1);
    r.source.emit([bucket('a', 's', '1m', T0, [1])]);
    await sse.until((ev) => ev.length === 1, 'an event');
  });

  it('answers 501 when the process has no source of updates', async () => {
    const r = await start({ updates: undefined });
    const res = await fetch(`${r.base}/api/v1/stream`);
    expect(res.status).toBe(501);
    expect(((await res.json()) as { error: { code: string } }).error.code).toBe('not_available');
  });

  it('sends a `: ping` comment every heartbeat interval', async () => {
    const r = await start({ stream: { heartbeatMs: 20 } });
    const sse = await connect(`${r.base}/api/v1/stream`);
    await waitFor(() => sse.comments.filter((c) => c === 'ping').length >= 3, { description: 'three pings' });
    expect(sse.events).toHaveLength(0);
  });

  it('releases the subscription and the heartbeat timer of every client that disconnects', async () => {
    const HEARTBEAT = 61_234;
    const r = await start({ stream: { heartbeatMs: HEARTBEAT } });
    const set = vi.spyOn(globalThis, 'setInterval');
    const clear = vi.spyOn(globalThis, 'clearInterval');
    try {
      // Raw sockets: the client goes away exactly when the test says so.
      const many = Array.from({ length: 5 }, () => rawRequest(r, '/api/v1/stream'));
      await connected(r, 5);
      const heartbeats = set.mock.calls.flatMap((call, i) => (call[1] === HEARTBEAT ? [set.mock.results[i]!.value as unknown] : []));
      expect(heartbeats).toHaveLength(5);
      for (const c of many) c.destroy();
      await connected(r, 0);
      const cleared = new Set(clear.mock.calls.map((call) => call[0] as unknown));
      expect(heartbeats.every((h) => cleared.has(h))).toBe(true);
    } finally {
      set.mockRestore();
      clear.mockRestore();
    }
    // Publishing to nobody is harmless; a new client still works.
    r.source.emit([bucket('a', 's', '1m', T0, [1])]);
    const again = await connect(`${r.base}/api/v1/stream`);
    await connected(r, 1);
    r.source.emit([bucket('a', 's', '1m', T0, [1, 2])]);
    await again.until((ev) => ev.length === 1, 'an event after reconnecting');
    expect(again.buckets()[0]).toMatchObject({ count: 2 });
  });

  it('drops a client that stops reading once its unsent data passes the limit, and keeps serving the others', async () => {
    const r = await start({ stream: { maxBufferedBytes: 64 * 1024 } });
    const healthy = await connect(`${r.base}/api/v1/stream?device=calm`);
    // A client that sends its request and never reads: the socket buffers fill up behind it.
    const stalled = rawRequest(r, '/api/v1/stream?device=flood');
    await connected(r, 2);
    const closed = new Promise<void>((resolve) => stalled.on('close', () => resolve()));

    const flood = Array.from({ length: 1000 }, (_, i) => bucket('flood', `s${i}`, '1m', T0, [i]));
    await waitFor(
      async () => {
        r.source.emit(flood);
        return (await droppedCounter(r)) === 1;
      },
      { timeoutMs: 30_000, intervalMs: 1, description: 'the stalled client dropped' },
    );
    await connected(r, 1);
    stalled.resume(); // let the socket see the server's reset
    await closed;

    r.source.emit([bucket('calm', 't', '1m', T0, [1])]);
    await healthy.until((ev) => ev.length === 1, 'the healthy client still served');
    expect(healthy.ended).toBe(false);
    const text = await r.metrics.metrics();
    expect(text).toContain('tidemark_cloud_stream_dropped_total 1');
    expect(text).toContain('tidemark_cloud_stream_clients 1');
  });

  it('accepts one commit larger than the limit for a client that keeps reading', async () => {
    const r = await start({ stream: { maxBufferedBytes: 16 * 1024 } });
    const sse = await connect(`${r.base}/api/v1/stream`);
    await connected(r, 1);
    r.source.emit(Array.from({ length: 2000 }, (_, i) => bucket('burst', `s${i}`, '1m', T0, [i]))); // ~700 KB
    await sse.until((ev) => ev.length === 2000, 'the whole burst');
    r.source.emit([bucket('burst', 'after', '1m', T0, [1])]);
    await sse.until((ev) => ev.length === 2001, 'the next commit');
    expect(await droppedCounter(r)).toBe(0);
  });

  it('resumes from Last-Event-ID with exactly the missed matching events, and resets when it cannot', async () => {
    const r = await start({ stream: { replayEvents: 5 } });
    const first = await connect(`${r.base}/api/v1/stream?device=a`);
    await connected(r, 1);
    r.source.emit([bucket('a', 's', '1m', T0, [1]), bucket('b', 's', '1m', T0, [1])]);
    await first.until((ev) => ev.length === 1, 'first event');
    const lastId = first.events[0]!.id!;
    first.close();
    await connected(r, 0);

    r.source.emit([bucket('a', 's', '1m', T0, [1, 2]), bucket('b', 's', '1m', T0, [1, 2])]);
    r.source.emit([bucket('a', 's', '1m', T0, [1, 2, 3])]);
    const resumed = await connect(`${r.base}/api/v1/stream?device=a`, { 'last-event-id': lastId });
    await resumed.until((ev) => ev.length === 2, 'the two missed events');
    expect(resumed.events.map((e) => e.event)).toEqual(['bucket', 'bucket']);
    expect(resumed.buckets().map((b) => b.count)).toEqual([2, 3]);
    await connected(r, 1);
    r.source.emit([bucket('a', 's', '1m', T0, [1, 2, 3, 4])]);
    await resumed.until((ev) => ev.length === 3, 'then live events');
    resumed.close();

    // Push the first client's position out of the 5-event window.
    r.source.emit(Array.from({ length: 6 }, (_, i) => bucket('b', `s${i}`, '1m', T0, [1])));

    // Older than the window (5 events kept), or from another process: a reset with a fresh resume point.
    for (const id of [lastId, 'ffffffff-1', 'garbage']) {
      const c = await connect(`${r.base}/api/v1/stream?device=a`, { 'last-event-id': id });
      const [reset] = await c.until((ev) => (ev.length > 0 ? ev : undefined), `a reset for ${id}`);
      expect(reset!.event).toBe('reset');
      expect(JSON.parse(reset!.data).reason).toMatch(/Last-Event-ID/);
      const fresh = await connect(`${r.base}/api/v1/stream?device=a`, { 'last-event-id': reset!.id! });
      r.source.emit([bucket('a', 's', '1m', T0, [9])]);
      await fresh.until((ev) => ev.length === 1, 'resumed after reset');
      expect(fresh.events[0]!.event).toBe('bucket');
    }
  });

  it('tells connected clients when updates were lost upstream', async () => {
    const r = await start();
    const sse = await connect(`${r.base}/api/v1/stream`);
    await connected(r, 1);
    r.source.gap('stream records were trimmed');
    const [reset] = await sse.until((ev) => (ev.length > 0 ? ev : undefined), 'a reset');
    expect(reset).toMatchObject({ event: 'reset', data: JSON.stringify({ reason: 'stream records were trimmed' }) });
  });

  it('does not hold up shutdown: open streams are ended when the server closes', async () => {
    const r = await start();
    const sse = await connect(`${r.base}/api/v1/stream`);
    await connected(r, 1);
    const t = Date.now();
    await r.app.close();
    apps.splice(apps.indexOf(r.app), 1);
    expect(Date.now() - t).toBeLessThan(2000);
    await waitFor(() => sse.ended, { description: 'the stream ended' });
    // The aggregator may still call the old listener: it must be a no-op.
    expect(() => r.source.emit([bucket('a', 's', '1m', T0, [1])])).not.toThrow();
  });

  it('does not wait for connections that never sent a request (Node counts them busy for 60 s)', async () => {
    const r = await start();
    const silent = net.connect(Number(new URL(r.base).port), '127.0.0.1');
    silent.on('error', () => {});
    await new Promise((resolve) => silent.once('connect', resolve));
    const closed = new Promise((resolve) => silent.once('close', resolve));
    const t = Date.now();
    await r.app.close();
    apps.splice(apps.indexOf(r.app), 1);
    expect(Date.now() - t).toBeLessThan(5000);
    await closed;
  });
});
