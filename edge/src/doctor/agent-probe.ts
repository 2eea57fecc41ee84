// Is an agent running for this config? Asked once, first: its answer decides what doctor may touch (a
// serial port or MQTT session in use by the agent is left alone) and shows the agent's live state.
import http from 'node:http';
import type { EdgeConfig } from '../config.js';
import { HEALTHY_SOURCE_STATES, type AgentStatusDocument, type SourceStatus } from '../status/status-document.js';
import { describeError, errorCode } from './error-text.js';
import { fail, pass, warn, type DoctorCheck } from './report.js';

export type AgentProbe =
  /** status.listen is not configured: doctor cannot tell whether an agent runs. */
  | { state: 'not_configured' }
  | { state: 'running'; url: string; status: Partial<AgentStatusDocument> }
  /** Nothing listens on the status port. */
  | { state: 'not_running'; url: string; reason: string }
  /** Something answered, but not (recognisably) this device's agent, or not in time. */
  | { state: 'unknown'; url: string; reason: string };

export function statusUrl(listen: { host: string; port: number }): string {
  const host = listen.host === '0.0.0.0' || listen.host === '' ? '127.0.0.1' : listen.host === '::' ? '::1' : listen.host;
  return `http://${host.includes(':') ? `[${host}]` : host}:${listen.port}/status`;
}

export async function probeAgent(config: EdgeConfig, timeoutMs: number): Promise<AgentProbe> {
  if (!config.status) return { state: 'not_configured' };
  const url = statusUrl(config.status.listen);
  let res: { status: number; body: string };
  try {
    res = await httpGet(url, timeoutMs);
  } catch (err) {
    const code = errorCode(err);
    if (code === 'ECONNREFUSED') return { state: 'not_running', url, reason: 'connection refused' };
    if (code === 'ETIMEDOUT') return { state: 'unknown', url, reason: `no answer within ${timeoutMs} ms` };
    return { state: 'unknown', url, reason: describeError(err) };
  }
  let body: unknown;
  try {
    body = JSON.parse(res.body);
  } catch {
    return { state: 'unknown', url, reason: `HTTP ${res.status} with a body that is not JSON (another program on this port?)` };
  }
  if (res.status !== 200 || typeof body !== 'object' || body === null) return { state: 'unknown', url, reason: `HTTP ${res.status} (another program on this port?)` };
  const status = body as Partial<AgentStatusDocument>;
  if (typeof status.device === 'string' && status.device !== config.device.id) {
    return { state: 'unknown', url, reason: `the agent there runs device "${status.device}", not "${config.device.id}"` };
  }
  return { state: 'running', url, status };
}

/**
 * One GET without keep-alive (fetch's pooled connection would hold a short CLI run open for seconds).
 * Bodies are capped: a status document is small, anything big is not our agent.
 */
function httpGet(url: string, timeoutMs: number): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.get(url, { agent: false, timeout: timeoutMs, headers: { accept: 'application/json' } }, (res) => {
      const chunks: Buffer[] = [];
      let size = 0;
      // guard-audit: doctor is a one-shot check; this callback only settles its probe (destroy, resolve, format a result)
      res.on('data', (c: Buffer) => {
        size += c.length;
        if (size > 1_000_000) req.destroy(new Error('response too large'));
        else chunks.push(c);
      });
      // guard-audit: doctor is a one-shot check; this callback only settles its probe (destroy, resolve, format a result)
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }));
      res.on('error', reject);
    });
    // guard-audit: doctor is a one-shot check; this callback only settles its probe (destroy, resolve, format a result)
    req.on('timeout', () => req.destroy(Object.assign(new Error(`no answer within ${timeoutMs} ms`), { code: 'ETIMEDOUT' })));
    req.on('error', reject);
  });
}

/** The `agent` line of the report; undefined when status.listen is not configured. */
export function agentCheck(probe: AgentProbe): DoctorCheck | undefined {
  const name = 'agent';
  switch (probe.state) {
    case 'not_configured':
      return undefined;
    case 'not_running':
      return warn(name, `no agent answers at ${probe.url} (${probe.reason}): not running?`, 'sudo systemctl status tidemark-edge; journalctl -u tidemark-edge -n 50');
    case 'unknown':
      return fail(name, `${probe.url}: ${probe.reason}`, 'status.listen must be a port only the agent uses');
    case 'running': {
      const s = probe.status;
      const parts = [`running${s.agent_version ? ` (v${s.agent_version})` : ''}`];
      parts.push(s.connected === true ? 'connected to the collector' : s.connected === false ? 'NOT connected to the collector' : 'link state unknown');
      if (typeof s.backlog_readings === 'number') {
        parts.push(`backlog ${s.backlog_readings} reading${s.backlog_readings === 1 ? '' : 's'}${s.oldest_buffered_time ? ` (oldest ${s.oldest_buffered_time})` : ''}`);
      }
      if (s.clock_synced === false) parts.push('clock NOT synced');
      const unhealthy = (s.sources ?? []).filter((src) => !isHealthySource(src));
      if (unhealthy.length > 0) parts.push(`sources not reading: ${unhealthy.map((src) => `${src.name} (${src.state})`).join(', ')}`);
      const detail = parts.join('; ');
      if (s.connected === false) return warn(name, detail, 'see the broker checks below and journalctl -u tidemark-edge -n 50');
      if (s.clock_synced === false || unhealthy.length > 0) return warn(name, detail, 'see the clock and source checks below');
      return pass(name, detail);
    }
  }
}

export function agentSource(probe: AgentProbe, name: string): SourceStatus | undefined {
  if (probe.state !== 'running') return undefined;
  return probe.status.sources?.find((s) => s.name === name);
}

export function isHealthySource(s: SourceStatus): boolean {
  return HEALTHY_SOURCE_STATES.has(s.state);
}
