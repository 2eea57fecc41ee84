// Modbus polling under a dead slave (issue 12): 10 slaves × 50 holding registers polled at 1 Hz on ONE bus,
// one slave never answering (timeout 300 ms, 1 retry). Reports the poll rate each slave achieved and the
// longest gap between its polls, per transport: Modbus TCP on loopback, and RTU on a socat pty pair.
// A pty has no line speed, so the RTU slaves answer after the wire time a real 19200-baud 8E1 line would
// take for the request and the answer (≈65 ms for 50 registers): the bus is ~60% busy with the live slaves.
// The slaves are modbus-serial servers in this process; the source is the agent's ModbusSource.
// One JSON line per result. Run: npx tsx scripts/bench/modbus.bench.ts (BENCH_SECONDS, default 60).
import { createLogger, MetricsRegistry } from '../../shared/src/index.js';
import { openPtyPair, requireTool } from '../../shared/src/testing/index.js';
import { validateConfig } from '../../shared/src/config/index.js';
import { modbusSourceSchema } from '../../edge/src/sources/modbus/config.js';
import { ModbusSource } from '../../edge/src/sources/modbus/modbus-source.js';
import type { SourceReading } from '../../edge/src/sources/source.js';
import { simulatedSlave, startSerialServer, startTcpServer, type SimulatedSlave, type TestModbusServer } from '../../edge/src/sources/modbus/test-support/modbus-test-server.js';

const SECONDS = Number(process.env.BENCH_SECONDS ?? 60);
const SLAVES = 10;
const REGISTERS = 50;
const DEAD = 10;
const BAUD = 19_200;

function emit(line: Record<string, unknown>): void {
  process.stdout.write(`${JSON.stringify(line)}\n`);
}

/** Wire time (ms) of one FC3 read of n registers at `baud`, 8E1 (11 bits per character). */
function wireMs(n: number, baud: number): number {
  const bytes = 8 + (5 + 2 * n);
  return (bytes * 11 * 1000) / baud;
}

function slaves(delayMs: number): Map<number, SimulatedSlave> {
  const out = new Map<number, SimulatedSlave>();
  for (let id = 1; id <= SLAVES; id++) {
    const s = simulatedSlave({ silent: id === DEAD, responseDelayMs: delayMs });
    for (let a = 0; a < REGISTERS; a++) s.holding.set(a, (id * 1000 + a) & 0xffff);
    out.set(id, s);
  }
  return out;
}

function slaveConfigs() {
  return Array.from({ length: SLAVES }, (_, i) => ({
    id: i + 1,
    poll_interval: '1s',
    timeout: '300ms',
    retries: 1,
    registers: Array.from({ length: REGISTERS }, (_, a) => ({ name: `s${i + 1}_r${a}`, table: 'holding', address: a })),
  }));
}

async function run(transport: 'tcp' | 'rtu'): Promise<void> {
  let server: TestModbusServer;
  let bus: Record<string, unknown>;
  let closePty = async () => undefined as void;
  const delay = transport === 'rtu' ? wireMs(REGISTERS, BAUD) : 0;
  if (transport === 'tcp') {
    const tcp = await startTcpServer(slaves(0));
    server = tcp;
    bus = { transport: 'tcp', host: '127.0.0.1', port: tcp.port };
  } else {
    requireTool('socat', 'socat');
    const pty = await openPtyPair();
    closePty = () => pty.close();
    server = await startSerialServer(slaves(delay), pty.b, BAUD);
    bus = { transport: 'rtu', path: pty.a, baud_rate: BAUD };
  }
  const config = validateConfig({ type: 'modbus', name: 'bench', ...bus, slaves: slaveConfigs() }, modbusSourceSchema);
  const polls = new Map<number, number[]>();
  const metrics = new MetricsRegistry('tidemark_edge');
  const source = new ModbusSource(config, {
    sink: (readings: readonly SourceReading[]) => {
      // One poll = one sink call of one slave's readings; its time is the poll's start.
      const id = Number(/^s(\d+)_/.exec(readings[0]!.sensor)![1]);
      const list = polls.get(id) ?? [];
      list.push(readings[0]!.ts!);
      polls.set(id, list);
    },
    logger: createLogger({ name: 'bench', level: 'silent' }),
    metrics,
    now: () => Date.now(),
  });
  const started = Date.now();
  await source.start();
  await new Promise((r) => setTimeout(r, SECONDS * 1000));
  await source.stop();
  const elapsed = (Date.now() - started) / 1000;
  await server.close();
  await closePty();

  const text = await metrics.metrics();
  const sample = (name: string, slave: number) => {
    const m = new RegExp(`^tidemark_edge_${name}\\{source="bench",slave="${slave}"\\} (\\S+)$`, 'm').exec(text);
    return m ? Number(m[1]) : 0;
  };
  const rates: number[] = [];
  for (let id = 1; id <= SLAVES; id++) {
    const ts = polls.get(id) ?? [];
    let maxGap = 0;
    for (let k = 1; k < ts.length; k++) maxGap = Math.max(maxGap, ts[k]! - ts[k - 1]!);
    // Achieved rate: polls per second between this slave's first and last poll.
    const rate = ts.length > 1 ? (ts.length - 1) / ((ts.at(-1)! - ts[0]!) / 1000) : 0;
    if (id !== DEAD) rates.push(rate);
    emit({
      bench: 'modbus',
      transport,
      slave: id,
      dead: id === DEAD,
      polls: ts.length,
      rate_hz: Number(rate.toFixed(3)),
      max_gap_ms: maxGap,
      requests: sample('modbus_requests_total', id),
      timeouts: sample('modbus_timeouts_total', id),
    });
  }
  emit({
    bench: 'modbus',
    transport,
    summary: true,
    slaves: SLAVES,
    registers_per_slave: REGISTERS,
    poll_interval_ms: 1000,
    dead_slave: DEAD,
    timeout_ms: 300,
    retries: 1,
    simulated_wire_ms_per_read: Number(delay.toFixed(1)),
    seconds: Number(elapsed.toFixed(1)),
    live_rate_hz_min: Number(Math.min(...rates).toFixed(3)),
    live_rate_hz_mean: Number((rates.reduce((a, b) => a + b, 0) / rates.length).toFixed(3)),
    target_hz: 1,
  });
}

await run('tcp');
await run('rtu');
