import { validateConfig } from '@tidemark/shared/config';
import { freePort, openPtyPair, requireTool, useProcessReaper } from '@tidemark/shared/testing';
import { afterEach, describe, expect, it } from 'vitest';
import type { ModbusSourceConfig } from '../config.js';
import { modbusSourceSchema } from '../sources/modbus/config.js';
import { simulatedSlave, startSerialServer, startTcpServer } from '../sources/modbus/test-support/modbus-test-server.js';
import type { AgentProbe } from './agent-probe.js';
import { modbusChecks } from './modbus-check.js';
import type { DoctorCheck } from './report.js';

requireTool('socat', 'socat');
useProcessReaper();

const cleanup: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanup.splice(0).reverse()) await c();
});

const config = (doc: Record<string, unknown>) => validateConfig({ type: 'modbus', name: 'plc', ...doc }, modbusSourceSchema) as ModbusSourceConfig;
const lines = (checks: DoctorCheck[]) => checks.map((c) => `${c.status} ${c.name}: ${c.detail}`);

describe('doctor: modbus', () => {
  it('polls each slave once over TCP and prints what it read, or why not', async () => {
    const good = simulatedSlave();
    good.holding.set(100, 0x42f6).set(101, 0xe979);
    good.coils.set(0, true);
    const server = await startTcpServer(
      new Map([
        [1, good],
        [2, simulatedSlave({ silent: true })],
      ]),
    );
    cleanup.push(() => server.close());
    const checks = await modbusChecks(
      config({
        transport: 'tcp',
        host: '127.0.0.1',
        port: server.port,
        slaves: [
          { id: 1, registers: [{ name: 'oil_temp_c', table: 'holding', address: 100, type: 'float32' }, { name: 'running', table: 'coil', address: 0 }, { name: 'ghost', table: 'input', address: 3 }] },
          { id: 2, timeout: '100ms', retries: 0, registers: [{ name: 'dead', table: 'holding', address: 0 }] },
        ],
      }),
    );
    const got = lines(checks);
    expect(got[0]).toBe(`pass modbus plc: bus: tcp 127.0.0.1:${server.port} open`);
    expect(got[1]).toMatch(
      /^warn modbus plc: slave 1: read 2\/3 values in 3 requests \(\d+ ms\): oil_temp_c=123\.456, running=1; register ghost \(slaves\[0\]\.registers\[2\], input 3, slave 1\): the slave answered exception 2 \(illegal data address\): it has no input 3$/,
    );
    expect(got[2]).toBe('fail modbus plc: slave 2: no answer: holding 0: no answer within 100 ms × 1 attempt');
    expect(checks[2]!.hint).toMatch(/unit id \(2\)/);
  });

  it('says why a bus does not open', async () => {
    const port = await freePort();
    const checks = await modbusChecks(config({ transport: 'tcp', host: '127.0.0.1', port, connect_timeout: '1s', slaves: [{ id: 1, registers: [{ name: 'a', table: 'coil', address: 0 }] }] }));
    expect(checks).toHaveLength(1);
    expect(checks[0]).toMatchObject({ status: 'fail', name: 'modbus plc: bus' });
    expect(checks[0]!.detail).toMatch(new RegExp(`^tcp 127\\.0\\.0\\.1:${port} does not open: .*ECONNREFUSED`));
    const rtu = await modbusChecks(config({ transport: 'rtu', path: '/dev/does-not-exist-modbus', slaves: [{ id: 1, registers: [{ name: 'a', table: 'coil', address: 0 }] }] }));
    expect(lines(rtu)).toEqual(['fail modbus plc: device: /dev/does-not-exist-modbus does not exist']);
  });

  it('polls an RTU line, but leaves it alone while a running agent holds it', async () => {
    const pty = await openPtyPair();
    cleanup.push(() => pty.close());
    const s = simulatedSlave();
    s.input.set(7, 1500);
    const server = await startSerialServer(new Map([[3, s]]), pty.b);
    cleanup.push(() => server.close());
    const src = config({ transport: 'rtu', path: pty.a, slaves: [{ id: 3, registers: [{ name: 'motor_rpm', table: 'input', address: 7, scale: 0.1 }] }] });
    const polled = lines(await modbusChecks(src));
    expect(polled[1]).toBe(`pass modbus plc: bus: rtu ${pty.a} 19200 8E1 open`);
    expect(polled[2]).toMatch(/^pass modbus plc: slave 3: read 1\/1 values in 1 request \(\d+ ms\): motor_rpm=150$/);
    const agent: AgentProbe = { state: 'running', url: 'http://127.0.0.1:9101/status', status: { sources: [{ name: 'plc', type: 'modbus', state: 'open' }] } };
    const held = lines(await modbusChecks(src, { agent }));
    expect(held[1]).toBe('pass modbus plc: bus: in use by the running agent, which reports state "open" (not polled by doctor)');
    expect(held).toHaveLength(2);
  });
});
