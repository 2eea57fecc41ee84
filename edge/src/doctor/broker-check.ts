// The uplink to the collector, in three steps so the report says which one breaks: TCP reachability, the
// TLS handshake (mqtts only) and the MQTT CONNECT with the device's credentials.
//
// Safety: the broker requires client id = username = device id, and a second CONNECT with a client id
// takes the session over: it would disconnect a running agent (whose will then marks the device offline).
// So doctor sends a CONNECT only when it is known that no agent runs — `auto` (default): status.listen is
// configured and nothing answers there; `true` (--auth-check): unless an agent answers there; `false`: never.
// When the agent is running, its own link state is the verdict.
import { readFileSync } from 'node:fs';
import net from 'node:net';
import tls from 'node:tls';
import { connect, type IClientOptions } from 'mqtt';
import type { EdgeConfig } from '../config.js';
import type { AgentProbe } from './agent-probe.js';
import { describeError, errorCode } from './error-text.js';
import { fail, pass, warn, type DoctorCheck } from './report.js';

export type AuthCheckMode = boolean | 'auto';

export interface BrokerCheckOptions {
  timeoutMs: number;
  authCheck: AuthCheckMode;
  agent: AgentProbe;
  /** For the certificate expiry warning. */
  now?: () => number;
}

interface Endpoint {
  host: string;
  port: number;
  secure: boolean;
}

interface TlsFiles {
  ca?: Buffer;
  cert?: Buffer;
  key?: Buffer;
  rejectUnauthorized: boolean;
}

const CERT_WARN_DAYS = 14;

export function brokerEndpoint(url: string): Endpoint {
  const u = new URL(url);
  const secure = u.protocol === 'mqtts:';
  const host = u.hostname.replace(/^\[(.*)\]$/, '$1');
  return { host, port: u.port === '' ? (secure ? 8883 : 1883) : Number(u.port), secure };
}

export async function brokerChecks(config: EdgeConfig, opts: BrokerCheckOptions): Promise<DoctorCheck[]> {
  const ep = brokerEndpoint(config.uplink.url);
  const where = `${ep.host}:${ep.port}`;
  const checks: DoctorCheck[] = [];

  const tcp = await tcpCheck(ep, opts.timeoutMs);
  checks.push(tcp);
  if (tcp.status === 'fail') {
    checks.push(warn('broker auth', 'not tested: the broker is not reachable'));
    return checks;
  }

  let files: TlsFiles | undefined;
  if (ep.secure) {
    const loaded = loadTlsFiles(config.uplink.tls);
    if (typeof loaded === 'string') {
      checks.push(fail('broker tls', loaded, 'fix the path under uplink.tls, or make the file readable by the agent\'s user'));
      return checks;
    }
    files = loaded;
    const handshake = await tlsCheck(ep, files, opts.timeoutMs, opts.now ?? Date.now);
    checks.push(handshake);
    if (handshake.status === 'fail') {
      checks.push(warn('broker auth', 'not tested: the TLS handshake failed'));
      return checks;
    }
  }

  checks.push(await authCheck(config, ep, files, opts, where));
  return checks;
}

async function tcpCheck(ep: Endpoint, timeoutMs: number): Promise<DoctorCheck> {
  const name = 'broker tcp';
  const where = `${ep.host}:${ep.port}`;
  const started = Date.now();
  try {
    await new Promise<void>((resolve, reject) => {
      const socket = net.connect({ host: ep.host, port: ep.port });
      // guard-audit: doctor is a one-shot check; this callback only settles its probe (destroy, resolve, format a result)
      socket.setTimeout(timeoutMs, () => socket.destroy(Object.assign(new Error(`no answer within ${timeoutMs} ms`), { code: 'ETIMEDOUT' })));
      // guard-audit: doctor is a one-shot check; this callback only settles its probe (destroy, resolve, format a result)
      socket.once('connect', () => {
        socket.destroy();
        resolve();
      });
      socket.once('error', reject);
    });
  } catch (err) {
    const code = errorCode(err);
    switch (code) {
      case 'ECONNREFUSED':
        return fail(name, `${where}: connection refused (nothing listens there)`, 'is the collector running, and is the port in uplink.url right?');
      case 'ENOTFOUND':
      case 'EAI_AGAIN':
        return fail(name, `cannot resolve ${ep.host}`, 'check the host name in uplink.url and the gateway\'s DNS (resolvectl status)');
      case 'ETIMEDOUT':
        return fail(name, `${where}: no answer within ${timeoutMs} ms`, 'a firewall may drop the connection, or the address is wrong');
      case 'EHOSTUNREACH':
      case 'ENETUNREACH':
        return fail(name, `${where}: ${code === 'EHOSTUNREACH' ? 'host' : 'network'} unreachable`, 'check the gateway\'s network connection and route (ip route)');
      default:
        return fail(name, `${where}: ${describeError(err)}`);
    }
  }
  return pass(name, `${where} reachable (${Date.now() - started} ms)`);
}

function loadTlsFiles(cfg: EdgeConfig['uplink']['tls']): TlsFiles | string {
  const out: TlsFiles = { rejectUnauthorized: cfg?.reject_unauthorized ?? true };
  for (const key of ['ca', 'cert', 'key'] as const) {
    const path = cfg?.[key];
    if (path === undefined) continue;
    try {
      out[key] = readFileSync(path);
    } catch (err) {
      return `cannot read uplink.tls.${key} ${path}: ${errorCode(err) ?? describeError(err)}`;
    }
  }
  return out;
}

function tlsCheck(ep: Endpoint, files: TlsFiles, timeoutMs: number, now: () => number): Promise<DoctorCheck> {
  const name = 'broker tls';
  return new Promise((resolve) => {
    const socket = tls.connect({
      host: ep.host,
      port: ep.port,
      ...(net.isIP(ep.host) === 0 ? { servername: ep.host } : {}),
      ca: files.ca,
      cert: files.cert,
      key: files.key,
      rejectUnauthorized: files.rejectUnauthorized,
    });
    const finish = (check: DoctorCheck) => {
      socket.destroy();
      resolve(check);
    };
    // guard-audit: doctor is a one-shot check; this callback only settles its probe (destroy, resolve, format a result)
    socket.setTimeout(timeoutMs, () => finish(fail(name, `no TLS handshake within ${timeoutMs} ms`, 'is this a TLS port? mqtts:// usually listens on 8883')));
    // guard-audit: doctor is a one-shot check; this callback only settles its probe (destroy, resolve, format a result)
    socket.once('secureConnect', () => {
      const cert = socket.getPeerCertificate();
      const subject = cert.subject?.CN ?? 'unnamed';
      const until = cert.valid_to ? new Date(cert.valid_to) : undefined;
      const days = until ? Math.floor((until.getTime() - now()) / 86_400_000) : undefined;
      const detail = `${socket.getProtocol() ?? 'TLS'}, server certificate CN=${subject}${until ? ` valid until ${until.toISOString().slice(0, 10)}` : ''}`;
      if (!socket.authorized) {
        return finish(warn(name, `${detail}, NOT verified (${String(socket.authorizationError)}); accepted because uplink.tls.reject_unauthorized is false`, 'set uplink.tls.ca to the collector\'s CA and remove reject_unauthorized: false'));
      }
      if (days !== undefined && days < CERT_WARN_DAYS) return finish(warn(name, `${detail}, verified: expires in ${days} days`, 'renew the collector\'s certificate'));
      finish(pass(name, `${detail}, verified`));
    });
    // guard-audit: doctor is a one-shot check; this callback only settles its probe (destroy, resolve, format a result)
    socket.once('error', (err) => finish(tlsFailure(name, err)));
  });
}

function tlsFailure(name: string, err: unknown): DoctorCheck {
  const code = errorCode(err) ?? '';
  const msg = describeError(err);
  const detail = `TLS handshake failed: ${msg}${code && !msg.includes(code) ? ` (${code})` : ''}`;
  if (/SELF_SIGNED|UNABLE_TO_VERIFY|UNABLE_TO_GET_ISSUER|CERT_UNTRUSTED/.test(code)) {
    return fail(name, detail, 'the server certificate is not signed by a CA this gateway trusts: set uplink.tls.ca to the collector\'s CA file');
  }
  if (code === 'ERR_TLS_CERT_ALTNAME_INVALID') return fail(name, detail, 'the certificate does not name this host: use the host name it was issued for in uplink.url');
  if (code === 'CERT_HAS_EXPIRED' || code === 'CERT_NOT_YET_VALID') return fail(name, detail, 'renew the certificate, or fix the gateway clock (see the clock check)');
  if (code === 'ECONNRESET' || /wrong version number|packet length too long|unexpected eof/i.test(msg)) {
    return fail(name, detail, 'the port does not speak TLS (plain MQTT is mqtt://), or the broker wants a client certificate (uplink.tls.cert/key)');
  }
  return fail(name, detail);
}

async function authCheck(config: EdgeConfig, ep: Endpoint, files: TlsFiles | undefined, opts: BrokerCheckOptions, where: string): Promise<DoctorCheck> {
  const name = 'broker auth';
  const device = config.device.id;
  const agent = opts.agent;
  if (agent.state === 'running') {
    if (agent.status.connected === true) return pass(name, `the running agent is connected as ${device}: credentials accepted (not re-tested, so its session is left alone)`);
    const state = agent.status.connected === false ? 'is not connected' : 'does not say whether it is connected';
    return warn(
      name,
      `not tested: the running agent ${state}, and connecting as ${device} would take over its session`,
      'journalctl -u tidemark-edge -n 50 shows why the broker refuses it; or stop the agent and run doctor with --auth-check',
    );
  }
  if (opts.authCheck === false) return warn(name, 'not tested (--no-auth-check)');
  if (agent.state === 'unknown') {
    return warn(name, `not tested: cannot tell whether an agent runs (${agent.reason}); connecting as ${device} would take over its session`, 'stop the agent, then run doctor with --auth-check');
  }
  if (opts.authCheck === 'auto' && agent.state === 'not_configured') {
    return warn(
      name,
      `not tested: without status.listen doctor cannot tell whether an agent runs, and connecting as ${device} would disconnect it`,
      'stop the agent (sudo systemctl stop tidemark-edge) and run doctor with --auth-check, or set status.listen',
    );
  }
  return mqttConnect(config, ep, files, opts.timeoutMs, where);
}

/** One CONNECT as the device (clean session like the agent's, no will, nothing published), then DISCONNECT. */
async function mqttConnect(config: EdgeConfig, ep: Endpoint, files: TlsFiles | undefined, timeoutMs: number, where: string): Promise<DoctorCheck> {
  const name = 'broker auth';
  const device = config.device.id;
  const username = config.uplink.username ?? device;
  const options: IClientOptions = {
    clientId: device,
    username,
    password: config.uplink.password,
    protocolVersion: 4,
    clean: true,
    keepalive: 10,
    reconnectPeriod: 0,
    connectTimeout: timeoutMs,
    ...(files ? { ca: files.ca, cert: files.cert, key: files.key, rejectUnauthorized: files.rejectUnauthorized } : {}),
  };
  const client = connect(config.uplink.url, options);
  const outcome = await new Promise<{ ok: true } | { ok: false; err: unknown }>((resolve) => {
    // guard-audit: doctor is a one-shot check; this callback only settles its probe (destroy, resolve, format a result)
    const timer = setTimeout(() => resolve({ ok: false, err: Object.assign(new Error(`no CONNACK within ${timeoutMs} ms`), { code: 'ETIMEDOUT' }) }), timeoutMs + 500);
    const settle = (v: { ok: true } | { ok: false; err: unknown }) => {
      clearTimeout(timer);
      resolve(v);
    };
    client.once('connect', () => settle({ ok: true }));
    client.once('error', (err) => settle({ ok: false, err }));
    // guard-audit: doctor is a one-shot check; this callback only settles its probe (destroy, resolve, format a result)
    client.once('close', () => settle({ ok: false, err: Object.assign(new Error('connection closed before CONNACK'), { code: 'ECONNRESET' }) }));
  });
  await new Promise<void>((resolve) => client.end(!outcome.ok, {}, () => resolve()));
  const as = `as ${device}${username !== device ? ` (username ${username})` : ''}`;
  if (outcome.ok) {
    return pass(name, `CONNECT ${as} accepted (clean session, no will, disconnected at once)`);
  }
  return connectFailure(name, outcome.err, as, username !== device, where);
}

function connectFailure(name: string, err: unknown, as: string, usernameDiffers: boolean, where: string): DoctorCheck {
  const rc = typeof (err as { code?: unknown }).code === 'number' ? ((err as { code: number }).code) : undefined;
  const credsHint = `check uplink.password (e.g. TIDEMARK_PASSWORD)${usernameDiffers ? ' and uplink.username: it must equal device.id' : ''}; on the collector, tidemark-cloud device add <id> issues a new password`;
  switch (rc) {
    case 4:
      return fail(name, `bad credentials: the broker refused CONNECT ${as} with "bad username or password" (CONNACK 4)`, credsHint);
    case 5:
      return fail(name, `bad credentials or device not allowed: the broker refused CONNECT ${as} with "not authorized" (CONNACK 5)`, `${credsHint}; the device must be registered on the collector`);
    case 2:
      return fail(name, `client id rejected: the broker refused CONNECT ${as} (CONNACK 2)`, 'device.id must be a valid client id the broker accepts');
    case 3:
      return fail(name, `the broker answered "server unavailable" (CONNACK 3)`, 'the collector is up but not ready; try again, or check its logs');
    case 1:
      return fail(name, 'the broker does not accept MQTT 3.1.1 (CONNACK 1)');
  }
  const code = /connack timeout/i.test(describeError(err)) ? 'ETIMEDOUT' : errorCode(err);
  if (code === 'ETIMEDOUT') return fail(name, `${where} accepted TCP but sent no CONNACK within the timeout`, 'is this an MQTT port? (a TLS port needs mqtts://)');
  if (code && /CERT|SELF_SIGNED|UNABLE_TO|ERR_TLS|ERR_SSL/.test(code)) return tlsFailure(name, err);
  if (code === 'ECONNREFUSED' || code === 'ENOTFOUND' || code === 'EHOSTUNREACH' || code === 'ENETUNREACH') return fail(name, `broker unreachable: ${describeError(err)}`);
  return fail(name, `CONNECT ${as} failed: ${describeError(err)}`, 'is this an MQTT broker, and does it speak MQTT 3.1.1?');
}
