import net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { createLogger, MetricsRegistry, PortInUseError } from '@tidemark/shared';
import { StatusServer, type StatusServerOptions } from './status-server.js';

const logger = createLogger({ name: 'test', level: 'silent' });
const servers: StatusServer[] = [];

async function start(overrides: Partial<StatusServerOptions> = {}): Promise<{ server: StatusServer; base: string; metrics: MetricsRegistry }> {
  const metrics = new MetricsRegistry('tidemark_edge');
  const server = new StatusServer({ listen: { host: '127.0.0.1', port: 0 }, metrics, status: () => ({}), logger, ...overrides });
  servers.push(server);
  await server.start();
  return { server, base: `http://127.0.0.1:${server.boundPort}`, metrics };
}

afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => s.stop()));
});

describe('StatusServer', () => {
  it('binds port 0 to a real port and reports it', async () => {
    const { server } = await start();
    expect(server.boundPort).toBeGreaterThan(0);
    expect(server.name).toBe('status');
  });

  it('/healthz follows the healthy callback', async () => {
    let healthy = true;
    const { base } = await start({ healthy: () => healthy });
    let res = await fetch(`${base}/healthz`);
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ status: 'ok' });
    healthy = false;
    res = await fetch(`${base}/healthz`);
    expect(res.status).toBe(503);
    expect(await res.json()).toEqual({ status: 'unhealthy' });
  });

  it('/healthz is ok without a healthy callback', async () => {
    const { base } = await start();
    expect((await fetch(`${base}/healthz`)).status).toBe(200);
  });

  it('/metrics serves the registry in Prometheus text format', async () => {
    const { base, metrics } = await start();
    metrics.counter('readings_received_total', 'Readings accepted', ['source']).inc({ source: 'plc' }, 3);
    const res = await fetch(`${base}/metrics`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toContain('text/plain');
    expect(await res.text()).toContain('tidemark_edge_readings_received_total{source="plc"} 3');
  });

  it('/status serves what the callback returns, sync or async, fresh on every request', async () => {
    let backlog = 5;
    const { base } = await start({ status: async () => ({ device: 'press-07', connected: true, backlog_readings: backlog }) });
    expect(await (await fetch(`${base}/status`)).json()).toEqual({ device: 'press-07', connected: true, backlog_readings: 5 });
    backlog = 6;
    const res = await fetch(`${base}/status`);
    expect(res.headers.get('cache-control')).toBe('no-store');
    expect(await res.json()).toMatchObject({ backlog_readings: 6 });
  });

  it('a failing status callback is a 500 with a JSON error, and the server keeps serving', async () => {
    const { base } = await start({
      status: () => {
        throw new Error('buffer closed');
      },
    });
    const res = await fetch(`${base}/status`);
    expect(res.status).toBe(500);
    expect(await res.json()).toEqual({ error: { code: 'internal', message: 'buffer closed' } });
    expect((await fetch(`${base}/healthz`)).status).toBe(200);
  });

  it('unknown paths are a 404 with a JSON error', async () => {
    const { base } = await start();
    const res = await fetch(`${base}/nope?x=1`);
    expect(res.status).toBe(404);
    expect(await res.json()).toEqual({ error: { code: 'not_found', message: 'no route for GET /nope' } });
  });

  it('a port in use is a PortInUseError naming the port and the setting', async () => {
    const blocker = net.createServer();
    await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve));
    const port = (blocker.address() as net.AddressInfo).port;
    try {
      const server = new StatusServer({ listen: { host: '127.0.0.1', port }, metrics: new MetricsRegistry('tidemark_edge'), status: () => ({}), logger });
      const err = await server.start().catch((e: unknown) => e);
      expect(err).toBeInstanceOf(PortInUseError);
      expect((err as PortInUseError).port).toBe(port);
      expect((err as Error).message).toContain('status.listen');
    } finally {
      await new Promise((resolve) => blocker.close(resolve));
    }
  });

  it('stop() closes the listener and is idempotent; start() after stop() listens again', async () => {
    const { server, base } = await start();
    await server.stop();
    await expect(fetch(`${base}/healthz`)).rejects.toThrow();
    await server.stop();
    await server.start();
    expect((await fetch(`http://127.0.0.1:${server.boundPort}/healthz`)).status).toBe(200);
  });
});
