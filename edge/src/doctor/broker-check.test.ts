import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import net from 'node:net';
import { join } from 'node:path';
import tls from 'node:tls';
import { connectAsync, type MqttClient } from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort, makeTempDir, requireTool, startMosquitto, useProcessReaper, type MosquittoServer } from '@tidemark/shared/testing';
import type { AgentProbe } from './agent-probe.js';
import { brokerChecks, brokerEndpoint, type BrokerCheckOptions } from './broker-check.js';
import type { DoctorCheck } from './report.js';
import { doctorConfig } from './test-support/doctor-config.js';

const mosquittoPasswd = requireTool('mosquitto_passwd', 'mosquitto');
const openssl = requireTool('openssl', 'openssl');
useProcessReaper();

const PASSWORD = 's3cret-press-07';
let broker: MosquittoServer;
let dir: string;

beforeAll(async () => {
  dir = await makeTempDir('tidemark-doctor-broker-');
  const passwords = join(dir, 'passwords');
  execFileSync(mosquittoPasswd, ['-b', '-c', passwords, 'press-07', PASSWORD]);
  broker = await startMosquitto({ allowAnonymous: false, configLines: [`password_file ${passwords}`] });
}, 30_000);

const notConfigured: AgentProbe = { state: 'not_configured' };
const opts = (o: Partial<BrokerCheckOptions> = {}): BrokerCheckOptions => ({ timeoutMs: 3000, authCheck: true, agent: notConfigured, ...o });

function config(uplink: Record<string, unknown>) {
  return doctorConfig(dir, { uplink: uplink as { url: string } });
}

function byName(checks: DoctorCheck[]): Record<string, DoctorCheck> {
  return Object.fromEntries(checks.map((c) => [c.name, c]));
}

/** A connected "agent": the device's own MQTT session, as the real agent holds it. */
async function runningAgentSession(): Promise<{ client: MqttClient; kicked: () => boolean }> {
  const client = await connectAsync(broker.url, { clientId: 'press-07', username: 'press-07', password: PASSWORD, clean: false, reconnectPeriod: 0 });
  let closed = false;
  client.on('close', () => {
    closed = true;
  });
  return { client, kicked: () => closed };
}

describe('brokerChecks against mosquitto with a password file', { timeout: 30_000 }, () => {
  it('passes TCP and auth with the right password', async () => {
    const checks = byName(await brokerChecks(config({ url: broker.url, password: PASSWORD }), opts()));
    expect(Object.keys(checks)).toEqual(['broker tcp', 'broker auth']);
    expect(checks['broker tcp']).toMatchObject({ status: 'pass', detail: expect.stringMatching(new RegExp(`^127\\.0\\.0\\.1:${broker.port} reachable`)) });
    expect(checks['broker auth']).toMatchObject({ status: 'pass', detail: expect.stringContaining('CONNECT as press-07 accepted') });
  });

  it('fails auth with a wrong password, naming bad credentials', async () => {
    const checks = byName(await brokerChecks(config({ url: broker.url, password: 'wrong' }), opts()));
    expect(checks['broker tcp']!.status).toBe('pass');
    const auth = checks['broker auth']!;
    expect(auth.status).toBe('fail');
    expect(auth.detail).toMatch(/^bad credentials.*the broker refused CONNECT as press-07/);
    expect(auth.detail).toMatch(/CONNACK [45]/);
    expect(auth.hint).toContain('uplink.password');
  });

  it('fails auth without a password, and says the username must be the device id when it is not', async () => {
    const checks = byName(await brokerChecks(config({ url: broker.url, username: 'someone', password: PASSWORD }), opts()));
    expect(checks['broker auth']).toMatchObject({ status: 'fail', detail: expect.stringContaining('as press-07 (username someone)') });
    expect(checks['broker auth']!.hint).toContain('it must equal device.id');
  });

  it('fails TCP when nothing listens, and does not try to authenticate', async () => {
    const port = await freePort();
    const checks = byName(await brokerChecks(config({ url: `mqtt://127.0.0.1:${port}`, password: PASSWORD }), opts()));
    expect(checks['broker tcp']).toMatchObject({ status: 'fail', detail: `127.0.0.1:${port}: connection refused (nothing listens there)` });
    expect(checks['broker auth']).toMatchObject({ status: 'warn', detail: 'not tested: the broker is not reachable' });
  });

  it('by default (auto) never connects as the device when it cannot tell whether an agent runs', async () => {
    const agent = await runningAgentSession();
    try {
      const checks = byName(await brokerChecks(config({ url: broker.url, password: PASSWORD }), opts({ authCheck: 'auto' })));
      expect(checks['broker tcp']!.status).toBe('pass');
      expect(checks['broker auth']).toMatchObject({ status: 'warn', detail: expect.stringContaining('without status.listen doctor cannot tell') });
      expect(checks['broker auth']!.hint).toContain('--auth-check');
      expect(agent.kicked()).toBe(false);
    } finally {
      await agent.client.endAsync();
    }
  });

  it('takes the running agent\'s link state as the verdict and leaves its session alone, even with --auth-check', async () => {
    const agent = await runningAgentSession();
    try {
      const running: AgentProbe = { state: 'running', url: 'http://127.0.0.1:1/status', status: { connected: true } };
      for (const authCheck of [true, 'auto', false] as const) {
        const checks = byName(await brokerChecks(config({ url: broker.url, password: 'whatever' }), opts({ authCheck, agent: running })));
        expect(checks['broker auth']).toMatchObject({ status: 'pass', detail: expect.stringContaining('the running agent is connected as press-07') });
      }
      const offline: AgentProbe = { ...running, status: { connected: false } };
      const checks = byName(await brokerChecks(config({ url: broker.url, password: PASSWORD }), opts({ agent: offline })));
      expect(checks['broker auth']).toMatchObject({ status: 'warn', detail: expect.stringContaining('would take over its session') });
      expect(agent.kicked()).toBe(false);
    } finally {
      await agent.client.endAsync();
    }
  });

  it('auto connects when status.listen is configured and no agent answers there', async () => {
    const notRunning: AgentProbe = { state: 'not_running', url: 'http://127.0.0.1:1/status', reason: 'connection refused' };
    const checks = byName(await brokerChecks(config({ url: broker.url, password: PASSWORD }), opts({ authCheck: 'auto', agent: notRunning })));
    expect(checks['broker auth']!.status).toBe('pass');
    const never = byName(await brokerChecks(config({ url: broker.url, password: PASSWORD }), opts({ authCheck: false, agent: notRunning })));
    expect(never['broker auth']).toMatchObject({ status: 'warn', detail: 'not tested (--no-auth-check)' });
  });

  it('a TCP port that is not MQTT fails auth with "no CONNACK" rather than hanging', async () => {
    const silent = net.createServer(() => undefined);
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    const port = (silent.address() as net.AddressInfo).port;
    try {
      const checks = byName(await brokerChecks(config({ url: `mqtt://127.0.0.1:${port}`, password: PASSWORD }), opts({ timeoutMs: 500 })));
      expect(checks['broker tcp']!.status).toBe('pass');
      expect(checks['broker auth']).toMatchObject({ status: 'fail', detail: expect.stringContaining('sent no CONNACK') });
    } finally {
      silent.close();
    }
  });
});

describe('brokerChecks over TLS', { timeout: 30_000 }, () => {
  let server: tls.Server;
  let port: number;
  let caPath: string;

  beforeAll(async () => {
    caPath = join(dir, 'server.crt');
    const keyPath = join(dir, 'server.key');
    execFileSync(openssl, [
      'req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '10', '-subj', '/CN=tidemark-test-collector',
      '-addext', 'subjectAltName=IP:127.0.0.1', '-keyout', keyPath, '-out', caPath,
    ], { stdio: 'ignore' });
    server = tls.createServer({ cert: readFileSync(caPath), key: readFileSync(keyPath) }, (socket) => socket.on('error', () => undefined));
    server.on('tlsClientError', () => undefined);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    port = (server.address() as net.AddressInfo).port;
  });

  afterAll(async () => {
    await new Promise((resolve) => server?.close(resolve));
  });

  it('passes the handshake with the collector CA, naming the certificate', async () => {
    const monthAgo = () => Date.now() - 30 * 86_400_000;
    const checks = byName(await brokerChecks(config({ url: `mqtts://127.0.0.1:${port}`, tls: { ca: caPath } }), opts({ authCheck: false, now: monthAgo })));
    expect(checks['broker tcp']!.status).toBe('pass');
    expect(checks['broker tls']).toMatchObject({ status: 'pass', detail: expect.stringMatching(/^TLSv1\.[23], server certificate CN=tidemark-test-collector valid until \d{4}-\d\d-\d\d, verified$/) });
  });

  it('warns when the server certificate expires within two weeks', async () => {
    const checks = byName(await brokerChecks(config({ url: `mqtts://127.0.0.1:${port}`, tls: { ca: caPath } }), opts({ authCheck: false })));
    expect(checks['broker tls']).toMatchObject({ status: 'warn', detail: expect.stringMatching(/, verified: expires in (9|10) days$/) });
  });

  it('fails the handshake without the CA, with a hint to set uplink.tls.ca', async () => {
    const checks = byName(await brokerChecks(config({ url: `mqtts://127.0.0.1:${port}` }), opts()));
    expect(checks['broker tls']).toMatchObject({ status: 'fail', detail: expect.stringContaining('TLS handshake failed') });
    expect(checks['broker tls']!.hint).toContain('uplink.tls.ca');
    expect(checks['broker auth']).toMatchObject({ status: 'warn', detail: 'not tested: the TLS handshake failed' });
  });

  it('accepts an unverified certificate only as a warning when reject_unauthorized is false', async () => {
    const checks = byName(await brokerChecks(config({ url: `mqtts://127.0.0.1:${port}`, tls: { reject_unauthorized: false } }), opts({ authCheck: false })));
    expect(checks['broker tls']).toMatchObject({ status: 'warn', detail: expect.stringContaining('NOT verified') });
  });

  it('fails when the CA file cannot be read', async () => {
    const checks = byName(await brokerChecks(config({ url: `mqtts://127.0.0.1:${port}`, tls: { ca: join(dir, 'missing.crt') } }), opts()));
    expect(checks['broker tls']).toMatchObject({ status: 'fail', detail: `cannot read uplink.tls.ca ${join(dir, 'missing.crt')}: ENOENT` });
  });

  it('mqtts:// to a plain MQTT port fails the handshake', async () => {
    const checks = byName(await brokerChecks(config({ url: `mqtts://127.0.0.1:${broker.port}`, tls: { ca: caPath } }), opts({ timeoutMs: 2000 })));
    expect(checks['broker tls']!.status).toBe('fail');
  });
});

describe('brokerEndpoint', () => {
  it('defaults the port by scheme and strips IPv6 brackets', () => {
    expect(brokerEndpoint('mqtt://collector.example')).toEqual({ host: 'collector.example', port: 1883, secure: false });
    expect(brokerEndpoint('mqtts://collector.example')).toEqual({ host: 'collector.example', port: 8883, secure: true });
    expect(brokerEndpoint('mqtt://[::1]:1884')).toEqual({ host: '::1', port: 1884, secure: false });
  });
});
