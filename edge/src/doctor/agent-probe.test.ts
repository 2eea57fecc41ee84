import http from 'node:http';
import type net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { createLogger, MetricsRegistry } from '@tidemark/shared';
import { freePort } from '@tidemark/shared/testing';
import { StatusServer } from '../status/status-server.js';
import { agentCheck, probeAgent, statusUrl } from './agent-probe.js';
import { doctorConfig } from './test-support/doctor-config.js';

const cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0)) await c();
});

async function agentServing(doc: unknown): Promise<number> {
  const server = new StatusServer({
    listen: { host: '127.0.0.1', port: 0 },
    metrics: new MetricsRegistry('tidemark_edge'),
    status: () => doc,
    logger: createLogger({ name: 'test', level: 'silent' }),
  });
  await server.start();
  cleanups.push(() => server.stop());
  return server.boundPort;
}

const configOn = (port: number) => doctorConfig('/tmp', { status: { listen: `127.0.0.1:${port}` } });

describe('probeAgent / agentCheck', () => {
  it('without status.listen there is nothing to ask and no report line', async () => {
    const probe = await probeAgent(doctorConfig('/tmp'), 1000);
    expect(probe).toEqual({ state: 'not_configured' });
    expect(agentCheck(probe)).toBeUndefined();
  });

  it('a running, connected agent passes with its backlog', async () => {
    const port = await agentServing({
      device: 'press-07',
      agent_version: '0.1.0',
      connected: true,
      backlog_readings: 120,
      oldest_buffered_time: '2025-01-01T00:00:00.000Z',
      clock_synced: true,
      sources: [{ name: 'plc', type: 'serial', state: 'open' }],
    });
    const probe = await probeAgent(configOn(port), 2000);
    expect(probe.state).toBe('running');
    expect(agentCheck(probe)).toEqual({
      name: 'agent',
      status: 'pass',
      detail: 'running (v0.1.0); connected to the collector; backlog 120 readings (oldest 2025-01-01T00:00:00.000Z)',
    });
  });

  it('warns when the agent is not connected, or a source is not reading', async () => {
    let port = await agentServing({ device: 'press-07', connected: false, backlog_readings: 1, clock_synced: true, sources: [] });
    expect(agentCheck(await probeAgent(configOn(port), 2000))).toMatchObject({ status: 'warn', detail: 'running; NOT connected to the collector; backlog 1 reading' });
    port = await agentServing({ device: 'press-07', connected: true, clock_synced: false, sources: [{ name: 'plc', type: 'serial', state: 'disconnected' }] });
    expect(agentCheck(await probeAgent(configOn(port), 2000))).toMatchObject({
      status: 'warn',
      detail: 'running; connected to the collector; clock NOT synced; sources not reading: plc (disconnected)',
    });
  });

  it('nothing listening means not running: a warning', async () => {
    const port = await freePort();
    const probe = await probeAgent(configOn(port), 2000);
    expect(probe).toEqual({ state: 'not_running', url: `http://127.0.0.1:${port}/status`, reason: 'connection refused' });
    expect(agentCheck(probe)).toMatchObject({ status: 'warn', hint: expect.stringContaining('systemctl status tidemark-edge') });
  });

  it('another program on the port, or another device\'s agent, is a failure and not "running"', async () => {
    const other = http.createServer((_req, res) => res.writeHead(200, { 'content-type': 'text/html' }).end('<html>router</html>'));
    await new Promise<void>((resolve) => other.listen(0, '127.0.0.1', resolve));
    cleanups.push(() => new Promise((resolve) => other.close(resolve)));
    const probe = await probeAgent(configOn((other.address() as net.AddressInfo).port), 2000);
    expect(probe).toMatchObject({ state: 'unknown', reason: expect.stringContaining('not JSON') });
    expect(agentCheck(probe)!.status).toBe('fail');

    const port = await agentServing({ device: 'press-99', connected: true });
    expect(await probeAgent(configOn(port), 2000)).toMatchObject({ state: 'unknown', reason: 'the agent there runs device "press-99", not "press-07"' });
  });

  it('asks the loopback address when the agent listens on every interface', () => {
    expect(statusUrl({ host: '0.0.0.0', port: 9101 })).toBe('http://127.0.0.1:9101/status');
    expect(statusUrl({ host: '::', port: 9101 })).toBe('http://[::1]:9101/status');
    expect(statusUrl({ host: '10.0.0.5', port: 80 })).toBe('http://10.0.0.5:80/status');
  });
});
