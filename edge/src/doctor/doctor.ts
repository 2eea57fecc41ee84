// `tidemark-edge doctor`: checks config, storage, each source, the broker and the clock, and reports a
// pass / warn / fail line per item. It asks a running agent first (status.listen) so that it never opens a
// serial port or an MQTT session the agent is using. Independent groups run concurrently; the report order
// is fixed.
import type { EdgeConfig, SourceConfig } from '../config.js';
import { agentCheck, probeAgent, type AgentProbe } from './agent-probe.js';
import { brokerChecks, type AuthCheckMode } from './broker-check.js';
import { clockCheck } from './clock-check.js';
import { describeError } from './error-text.js';
import { gpioCheck } from './gpio-check.js';
import { modbusChecks } from './modbus-check.js';
import { fail, pass, warn, type DoctorCheck, type DoctorReport } from './report.js';
import { serialChecks } from './serial-check.js';
import { storageChecks } from './storage-checks.js';

export interface DoctorOptions {
  /** Bound on each network step (status endpoint, TCP, TLS, CONNACK). Default 5000 ms. */
  timeoutMs?: number;
  /**
   * Whether to CONNECT to the broker as the device to test its credentials. Default `auto`: only when
   * status.listen is configured and no agent answers there. `true` (--auth-check): unless an agent answers.
   * `false`: never. See broker-check.ts for why.
   */
  authCheck?: AuthCheckMode;
  /** How long each serial port is listened to. Default 3000 ms. */
  serialListenMs?: number;
  /** Shown in the config line. */
  configPath?: string;
  /** Injected for tests: NTP sync state (default: timedatectl). */
  clockProbe?: () => Promise<boolean | undefined>;
  now?: () => number;
}

export async function runDoctor(config: EdgeConfig, opts: DoctorOptions = {}): Promise<DoctorReport> {
  const timeoutMs = opts.timeoutMs ?? 5000;
  const now = opts.now ?? Date.now;
  const agent = await probeAgent(config, timeoutMs).catch((err): AgentProbe => ({ state: 'unknown', url: '?', reason: describeError(err) }));

  const [storage, sources, broker, clock] = await Promise.all([
    guard('storage', () => storageChecks(config, { now })),
    Promise.all(config.sources.map((s) => guard(`source ${s.name}`, () => sourceChecks(s, agent, opts, timeoutMs)))),
    guard('broker', () => brokerChecks(config, { timeoutMs, authCheck: opts.authCheck ?? 'auto', agent, now })),
    guard('clock', async () => [await clockCheck(config, opts.clockProbe, now)]),
  ]);
  const agentLine = agentCheck(agent);
  return {
    device: config.device.id,
    checks: [configCheck(config, opts.configPath), ...(agentLine ? [agentLine] : []), ...storage, ...sources.flat(), ...broker, ...clock],
  };
}

function configCheck(config: EdgeConfig, path: string | undefined): DoctorCheck {
  const kinds = config.sources.map((s) => `${s.type} ${s.name}`).join(', ');
  return pass('config', `${path ? `${path} loaded: ` : ''}device ${config.device.id}; sources: ${kinds}; uplink ${config.uplink.url}`);
}

async function sourceChecks(src: SourceConfig, agent: AgentProbe, opts: DoctorOptions, timeoutMs: number): Promise<DoctorCheck[]> {
  switch (src.type) {
    case 'serial':
      return serialChecks(src, { agent, timeoutMs, ...(opts.serialListenMs !== undefined ? { listenMs: opts.serialListenMs } : {}) });
    case 'gpio':
      return [await gpioCheck(src, { timeoutMs })];
    case 'modbus':
      return modbusChecks(src, { agent });
    case 'simulated':
      return [warn(`simulated ${src.name}`, `synthetic readings (${src.sensors.map((s) => s.name).join(', ')}), not a sensor`, 'fine for demos; replace with a serial or gpio source on a real gateway')];
  }
}

/** A bug or surprise in one group becomes a failed line, not a crashed doctor. */
async function guard(group: string, run: () => Promise<DoctorCheck[]>): Promise<DoctorCheck[]> {
  try {
    return await run();
  } catch (err) {
    return [fail(group, `check crashed: ${describeError(err)}`)];
  }
}
