// Modbus sources: the bus (RTU device path and port settings, or the TCP connection), then one poll of each
// slave with the source's own request plan, printing the values it read (scale and offset applied) or why
// it read nothing. An RTU line held by a running agent is never opened (two masters on one RS-485 bus
// collide); over TCP doctor makes its own short connection.
import { createLogger, MetricsRegistry } from '@tidemark/shared';
import type { ModbusSourceConfig } from '../config.js';
import { ModbusSerialBus, type ModbusBus } from '../sources/modbus/modbus-bus.js';
import { SlavePoller } from '../sources/modbus/slave-poller.js';
import { agentSource, isHealthySource, type AgentProbe } from './agent-probe.js';
import { describeError } from './error-text.js';
import { fail, pass, warn, type DoctorCheck } from './report.js';
import { deviceCheck } from './serial-check.js';

export interface ModbusCheckOptions {
  agent?: AgentProbe;
  /** Injected for tests; default the real bus of the config. */
  bus?: ModbusBus;
  now?: () => number;
}

const STOP_HINT = 'to poll the slaves from doctor, stop the agent first: sudo systemctl stop tidemark-edge';
const SHOWN_VALUES = 12;

export async function modbusChecks(src: ModbusSourceConfig, opts: ModbusCheckOptions = {}): Promise<DoctorCheck[]> {
  const prefix = `modbus ${src.name}`;
  const checks: DoctorCheck[] = [];
  if (src.transport === 'rtu') {
    const device = deviceCheck(`${prefix}: device`, src.path);
    checks.push(device);
    if (device.status === 'fail') return checks;
    const running = opts.agent?.state === 'running' ? opts.agent : undefined;
    if (running) {
      const s = agentSource(running, src.name);
      checks.push(
        s === undefined
          ? warn(`${prefix}: bus`, 'not opened: an agent is running and may hold the line (its /status does not list this source)', STOP_HINT)
          : isHealthySource(s)
            ? pass(`${prefix}: bus`, `in use by the running agent, which reports state "${s.state}" (not polled by doctor)`)
            : warn(`${prefix}: bus`, `the running agent reports state "${s.state}"`, `journalctl -u tidemark-edge -n 50; ${STOP_HINT}`),
      );
      return checks;
    }
  }
  const bus = opts.bus ?? new ModbusSerialBus(src);
  try {
    await bus.open();
  } catch (err) {
    const hint =
      src.transport === 'tcp'
        ? `is ${src.host}:${src.port} reachable (ping, nc -vz ${src.host} ${src.port}) and does the device accept another client?`
        : 'check the port settings (baud_rate, parity, stop_bits) and that no other program holds the line (sudo fuser -v PATH)';
    checks.push(fail(`${prefix}: bus`, `${bus.describe()} does not open: ${describeError(err)}`, hint));
    return checks;
  }
  checks.push(pass(`${prefix}: bus`, `${bus.describe()} open`));
  try {
    if (src.pause_after_connect > 0) await new Promise((r) => setTimeout(r, src.pause_after_connect));
    const now = opts.now ?? Date.now;
    const metrics = new MetricsRegistry('tidemark_edge');
    const logger = createLogger({ name: 'doctor', level: 'silent' });
    // One slave after another: one request at a time on the bus, as the agent does.
    for (let i = 0; i < src.slaves.length; i++) {
      const poller = new SlavePoller(src.slaves[i]!, i, { source: src.name, logger, metrics, now });
      const started = performance.now();
      const result = await poller.poll(bus);
      const ms = Math.round(performance.now() - started);
      checks.push(slaveCheck(`${prefix}: slave ${poller.id}`, src, i, result, ms));
    }
  } finally {
    await bus.close();
  }
  return checks;
}

function slaveCheck(name: string, src: ModbusSourceConfig, i: number, result: Awaited<ReturnType<SlavePoller['poll']>>, ms: number): DoctorCheck {
  const slave = src.slaves[i]!;
  const values = result.readings.map((r) => `${r.sensor}=${formatValue(r.value)}`);
  const shown = values.length > SHOWN_VALUES ? [...values.slice(0, SHOWN_VALUES), `… ${values.length - SHOWN_VALUES} more`] : values;
  const read = `read ${values.length}/${slave.registers.length} values in ${result.requests} request${result.requests === 1 ? '' : 's'} (${ms} ms)`;
  const detail = shown.length > 0 ? `${read}: ${shown.join(', ')}` : read;
  if (result.outcome === 'bus_down') return fail(name, `${detail}; the bus went down: ${result.problems.join('; ')}`, 'check the cable or network');
  if (result.outcome === 'silent') {
    const hint =
      src.transport === 'rtu'
        ? `check the slave id (${slave.id}), the A/B wiring and termination, and that baud_rate ${src.baud_rate} / parity ${src.parity} / stop_bits ${src.stop_bits} match the device`
        : `check the unit id (${slave.id}): a TCP gateway forwards it to the serial device behind it`;
    return fail(name, `no answer: ${result.problems.join('; ')}`, hint);
  }
  if (result.problems.length > 0) {
    return warn(name, `${detail}; ${result.problems.join('; ')}`, 'addresses are 0-based register numbers within their table; compare with the device manual (docs/configuration.md, Modbus)');
  }
  return pass(name, detail);
}

function formatValue(v: number): string {
  return Number.isInteger(v) ? String(v) : String(Number(v.toPrecision(7)));
}
