// SlavePoller against a real Modbus TCP server: what one poll costs and counts.
import { validateConfig } from '@tidemark/shared/config';
import { sampleSum } from '@tidemark/shared/testing';
import { afterEach, describe, expect, it } from 'vitest';
import { recordingContext } from '../testing/source-contract.js';
import { modbusSourceSchema, type ModbusTcpConfig } from './config.js';
import { classifyError, ModbusSerialBus } from './modbus-bus.js';
import { SlavePoller } from './slave-poller.js';
import { simulatedSlave, startTcpServer, type SimulatedSlave } from './test-support/modbus-test-server.js';

const cleanup: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanup.splice(0).reverse()) await c();
});

/** A bus to a server with one slave (id 1), and a poller for it with two requests per poll (holding, coil). */
async function setup(slave: SimulatedSlave, retries: number) {
  const server = await startTcpServer(new Map([[1, slave]]));
  cleanup.push(() => server.close());
  const config = validateConfig(
    {
      type: 'modbus',
      name: 'plc',
      transport: 'tcp',
      host: '127.0.0.1',
      port: server.port,
      slaves: [{ id: 1, timeout: '100ms', retries, registers: [{ name: 'a', table: 'holding', address: 0 }, { name: 'b', table: 'coil', address: 0 }] }],
    },
    modbusSourceSchema,
  ) as ModbusTcpConfig;
  const bus = new ModbusSerialBus(config);
  await bus.open();
  cleanup.push(() => bus.close());
  const ctx = recordingContext();
  const poller = new SlavePoller(config.slaves[0]!, 0, { source: 'plc', logger: ctx.logger, metrics: ctx.metrics, now: Date.now });
  const metric = async (name: string, labels = '') => sampleSum(await ctx.metrics.metrics(), `tidemark_edge_${name}`, labels);
  return { server, bus, poller, metric };
}

describe('slave poller', () => {
  it('a silent slave costs one request per attempt, and the poll ends at the first silent request', async () => {
    const { server, bus, poller, metric } = await setup(simulatedSlave({ silent: true }), 2);
    const full = await poller.poll(bus);
    expect(full).toMatchObject({ outcome: 'silent', readings: [], requests: 3, problems: ['holding 0: no answer within 100 ms × 3 attempts'] });
    const probe = await poller.poll(bus, true);
    expect(probe).toMatchObject({ outcome: 'silent', requests: 1, problems: ['holding 0: no answer within 100 ms × 1 attempt'] });
    expect(server.requests.get(1)).toBe(4);
    expect(await metric('modbus_timeouts_total', 'slave="1"')).toBe(4);
    expect(await metric('modbus_requests_total', 'slave="1"')).toBe(4);
    expect(await metric('modbus_polls_total', 'slave="1"')).toBe(0);
  });

  it('retries exception 6 (busy), not other exceptions; both count as answers', async () => {
    const busy = await setup(simulatedSlave({ exception: 6 }), 2);
    const r = await busy.poller.poll(busy.bus);
    expect(r.outcome).toBe('answered');
    // Two requests (holding, coil), each tried 3 times.
    expect(r.requests).toBe(6);
    expect(await busy.metric('modbus_exceptions_total', 'slave="1",code="6"')).toBe(6);
    expect(r.problems).toEqual(['holding 0 (a): exception 6 (slave device busy)', 'coil 0 (b): exception 6 (slave device busy)']);

    const failing = await setup(simulatedSlave({ exception: 4 }), 2);
    const f = await failing.poller.poll(failing.bus);
    expect(f).toMatchObject({ outcome: 'answered', requests: 2 });
    expect(await failing.metric('modbus_exceptions_total', 'slave="1",code="4"')).toBe(2);
    expect(await failing.metric('modbus_polls_total', 'slave="1"')).toBe(1);
  });
});

describe('classifyError', () => {
  it('sorts modbus-serial errors into outcomes', () => {
    expect(classifyError(Object.assign(new Error('Modbus exception 2: Illegal data address'), { modbusCode: 2 }))).toEqual({
      kind: 'exception',
      code: 2,
      message: 'Modbus exception 2: Illegal data address',
    });
    expect(classifyError({ name: 'TransactionTimedOutError', message: 'Timed out', errno: 'ETIMEDOUT' })).toEqual({ kind: 'timeout' });
    expect(classifyError({ name: 'PortNotOpenError', message: 'Port Not Open' })).toMatchObject({ kind: 'disconnected' });
    expect(classifyError(new Error('CRC error'))).toEqual({ kind: 'bad_response', message: 'CRC error' });
  });
});
