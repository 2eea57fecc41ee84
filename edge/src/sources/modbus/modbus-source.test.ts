// The Modbus source against real Modbus TCP servers (modbus-serial's ServerTCP on loopback).
import { validateConfig } from '@tidemark/shared/config';
import { sampleSum, waitFor } from '@tidemark/shared/testing';
import { afterEach, describe, expect, it } from 'vitest';
import { recordingContext, type RecordingContext } from '../testing/source-contract.js';
import { modbusSourceSchema, type ModbusTcpConfig } from './config.js';
import { ModbusSource } from './modbus-source.js';
import { ModbusSerialBus } from './modbus-bus.js';
import { SlavePoller } from './slave-poller.js';
import { putValue, simulatedSlave, startTcpServer, type TestModbusServer } from './test-support/modbus-test-server.js';

function tcpConfig(port: number, slaves: unknown[], extra: Record<string, unknown> = {}): ModbusTcpConfig {
  return validateConfig({ type: 'modbus', name: 'plc', transport: 'tcp', host: '127.0.0.1', port, reconnect_min_ms: 50, reconnect_max_ms: 200, slaves, ...extra }, modbusSourceSchema) as ModbusTcpConfig;
}

const metric = async (ctx: RecordingContext, name: string, labels = '') => sampleSum(await ctx.metrics.metrics(), name, labels);

describe('modbus source (TCP)', () => {
  const cleanup: (() => Promise<void>)[] = [];
  afterEach(async () => {
    for (const c of cleanup.splice(0).reverse()) await c();
  });
  async function serve(slaves: Map<number, ReturnType<typeof simulatedSlave>>, port?: number): Promise<TestModbusServer & { port: number }> {
    const server = await startTcpServer(slaves, port);
    cleanup.push(() => server.close());
    return server;
  }
  function run(config: ModbusTcpConfig, ctx: RecordingContext): ModbusSource {
    const source = new ModbusSource(config, ctx);
    cleanup.push(() => source.stop());
    return source;
  }

  it('reads every type and word order with scale and offset, stamped with the poll time, in coalesced requests', async () => {
    const s = simulatedSlave();
    const registers: unknown[] = [];
    const expected = new Map<string, number>();
    let address = 0;
    const cases: [string, number | bigint][] = [
      ['int16', -1234],
      ['uint16', 65000],
      ['int32', -123_456_789],
      ['uint32', 4_000_000_000],
      ['int64', -(2n ** 40n) - 5n],
      ['uint64', 2n ** 52n + 3n],
      ['float32', Math.fround(-12.625)],
      ['float64', 98765.4321],
      ['bool', 1],
    ];
    for (const order of ['ABCD', 'CDAB', 'BADC', 'DCBA'] as const) {
      for (const [type, v] of cases) {
        const name = `${type}_${order}`;
        putValue(s.holding, address, v, type as never, order);
        registers.push({ name, table: 'holding', address, type, word_order: order, scale: 0.5, offset: 3 });
        expected.set(name, Number(v) * 0.5 + 3);
        address += type.endsWith('64') ? 4 : type.endsWith('32') ? 2 : 1;
      }
    }
    s.input.set(7, 1500);
    s.coils.set(0, true);
    s.discrete.set(3, false);
    registers.push({ name: 'rpm', table: 'input', address: 7, scale: 0.1 });
    registers.push({ name: 'running', table: 'coil', address: 0 });
    registers.push({ name: 'door', table: 'discrete', address: 3 });
    expected.set('rpm', 150).set('running', 1).set('door', 0);
    const server = await serve(new Map([[3, s]]));
    const ctx = recordingContext();
    const source = run(tcpConfig(server.port, [{ id: 3, poll_interval: '100ms', registers }]), ctx);
    const before = Date.now();
    await source.start();
    await waitFor(() => ctx.readings.length >= expected.size, { description: 'one full poll' });
    const after = Date.now();
    await source.stop();
    const first = ctx.readings.slice(0, expected.size);
    expect(new Map(first.map((r) => [r.sensor, r.value]))).toEqual(expected);
    // One poll, one time, taken when the poll began.
    expect(new Set(first.map((r) => r.ts)).size).toBe(1);
    expect(first[0]!.ts).toBeGreaterThanOrEqual(before);
    expect(first[0]!.ts).toBeLessThanOrEqual(after);
    // 88 holding registers in one request, plus one each for the input, coil and discrete tables.
    // (A poll cut short by stop() may have sent part of its requests, and stop() closes the connection at
    // once, so the last request counted may never have reached the server.)
    const polls = await metric(ctx, 'tidemark_edge_modbus_polls_total', 'slave="3"');
    const requests = await metric(ctx, 'tidemark_edge_modbus_requests_total', 'slave="3"');
    expect(polls).toBeGreaterThanOrEqual(1);
    expect(requests).toBeGreaterThanOrEqual(polls * 4);
    expect(requests).toBeLessThan((polls + 1) * 4);
    expect(server.requests.get(3)).toBeGreaterThanOrEqual(polls * 4);
    expect(server.requests.get(3)).toBeLessThanOrEqual(requests);
  });

  it('names the register behind an illegal data address and keeps reading the others', async () => {
    const s = simulatedSlave();
    s.holding.set(10, 1).set(12, 3);
    const server = await serve(new Map([[1, s]]));
    const config = tcpConfig(server.port, [
      {
        id: 1,
        max_gap: 1,
        registers: [
          { name: 'a', table: 'holding', address: 10 },
          { name: 'ghost', table: 'holding', address: 11 },
          { name: 'c', table: 'holding', address: 12 },
        ],
      },
    ]);
    const ctx = recordingContext();
    const bus = new ModbusSerialBus(config);
    await bus.open();
    cleanup.push(() => bus.close());
    const poller = new SlavePoller(config.slaves[0]!, 0, { source: 'plc', logger: ctx.logger, metrics: ctx.metrics, now: Date.now });
    expect(poller.requestCount).toBe(1);
    const first = await poller.poll(bus);
    expect(first.outcome).toBe('answered');
    expect(first.readings.map((r) => [r.sensor, r.value])).toEqual([
      ['a', 1],
      ['c', 3],
    ]);
    expect(first.problems).toEqual([
      'register ghost (slaves[0].registers[1], holding 11, slave 1): the slave answered exception 2 (illegal data address): it has no holding 11',
    ]);
    expect(poller.requestCount).toBe(3);
    // The coalesced request and the single one for ghost were refused: two exceptions with code 2.
    expect(await metric(ctx, 'tidemark_edge_modbus_exceptions_total', 'code="2"')).toBe(2);
    const second = await poller.poll(bus);
    expect(second.readings.map((r) => r.sensor)).toEqual(['a', 'c']);
  });

  it('a silent slave and one answering with exceptions never stall the others', async () => {
    const good = simulatedSlave();
    good.holding.set(0, 42);
    const server = await serve(
      new Map([
        [1, good],
        [2, simulatedSlave({ silent: true })],
        [3, simulatedSlave({ exception: 4 })],
      ]),
    );
    const reg = (name: string) => [{ name, table: 'holding', address: 0 }];
    const ctx = recordingContext();
    const source = run(
      tcpConfig(server.port, [
        { id: 1, poll_interval: '100ms', timeout: '200ms', retries: 1, registers: reg('good') },
        { id: 2, poll_interval: '100ms', timeout: '200ms', retries: 1, registers: reg('dead') },
        { id: 3, poll_interval: '100ms', timeout: '200ms', retries: 1, registers: reg('broken') },
      ]),
      ctx,
    );
    const started = Date.now();
    await source.start();
    await waitFor(() => Date.now() - started > 2000, { timeoutMs: 5000, intervalMs: 100, description: '2 s of polling' });
    await source.stop();
    const elapsed = Date.now() - started;
    const goodPolls = ctx.readings.filter((r) => r.sensor === 'good').length;
    // Without backoff the dead slave alone would take 400 ms of every 100 ms round.
    expect(goodPolls).toBeGreaterThanOrEqual(Math.floor((elapsed / 100) * 0.6));
    expect(ctx.readings.every((r) => r.sensor === 'good')).toBe(true);
    expect(await metric(ctx, 'tidemark_edge_modbus_timeouts_total', 'slave="2"')).toBeGreaterThanOrEqual(2);
    // Backed off: first poll 2 attempts, then single probes after 200, 400, 800 ms …
    expect(await metric(ctx, 'tidemark_edge_modbus_requests_total', 'slave="2"')).toBeLessThanOrEqual(6);
    expect(await metric(ctx, 'tidemark_edge_modbus_exceptions_total', 'slave="3",code="4"')).toBeGreaterThanOrEqual(10);
    expect(await metric(ctx, 'tidemark_edge_modbus_slave_up', 'slave="2"')).toBe(0);
    expect(await metric(ctx, 'tidemark_edge_modbus_slave_up', 'slave="1"')).toBe(1);
  });

  it('a silent slave that comes back is polled at its rate again', async () => {
    const s = simulatedSlave({ silent: true });
    s.holding.set(0, 5);
    const server = await serve(new Map([[1, s]]));
    const ctx = recordingContext();
    const source = run(tcpConfig(server.port, [{ id: 1, poll_interval: '50ms', timeout: '50ms', retries: 0, registers: [{ name: 'v', table: 'holding', address: 0 }] }]), ctx);
    await source.start();
    await waitFor(async () => (await metric(ctx, 'tidemark_edge_modbus_timeouts_total', 'slave="1"')) >= 3, { description: 'three silent polls' });
    s.silent = false;
    await waitFor(() => ctx.readings.length > 0, { timeoutMs: 5000, description: 'first answer after the silence' });
    const back = Date.now();
    await waitFor(() => ctx.readings.length >= 10, { timeoutMs: 5000, description: 'ten polls after it came back' });
    // Ten polls at 50 ms: the backoff is gone (with it, the next poll would be 800 ms or more away).
    expect(Date.now() - back).toBeLessThan(1500);
    expect(await metric(ctx, 'tidemark_edge_modbus_slave_up', 'slave="1"')).toBe(1);
  });

  it('stops at once even while a request waits out a long timeout', async () => {
    const server = await serve(new Map([[1, simulatedSlave({ silent: true })]]));
    const ctx = recordingContext();
    const source = run(tcpConfig(server.port, [{ id: 1, timeout: '30s', registers: [{ name: 'v', table: 'holding', address: 0 }] }]), ctx);
    await source.start();
    await waitFor(() => (server.requests.get(1) ?? 0) > 0, { description: 'request in flight' });
    const t = Date.now();
    await source.stop();
    expect(Date.now() - t).toBeLessThan(2000);
    expect(source.connected).toBe(false);
  });

  it('waits pause_after_connect before the first request', async () => {
    const s = simulatedSlave();
    s.holding.set(0, 1);
    const server = await serve(new Map([[1, s]]));
    const ctx = recordingContext();
    const source = run(tcpConfig(server.port, [{ id: 1, poll_interval: '50ms', registers: [{ name: 'v', table: 'holding', address: 0 }] }], { pause_after_connect: '400ms' }), ctx);
    await source.start();
    const connected = Date.now();
    expect(source.connected).toBe(true);
    await waitFor(() => (server.requests.get(1) ?? 0) > 0, { description: 'first request' });
    expect(Date.now() - connected).toBeGreaterThanOrEqual(390);
  });

  it('reconnects after the TCP server goes away, and reports the link in source_connected', async () => {
    const s = simulatedSlave();
    s.holding.set(0, 7);
    const slaves = new Map([[1, s]]);
    const server = await startTcpServer(slaves);
    const ctx = recordingContext();
    const source = run(tcpConfig(server.port, [{ id: 1, poll_interval: '50ms', timeout: '200ms', registers: [{ name: 'v', table: 'holding', address: 0 }] }], { pause_after_connect: '20ms' }), ctx);
    await source.start();
    expect(source.connected).toBe(true);
    expect(await metric(ctx, 'tidemark_edge_source_connected', 'source="plc"')).toBe(1);
    expect(await metric(ctx, 'tidemark_edge_source_reconnects_total', 'source="plc"')).toBe(0);
    await waitFor(() => ctx.readings.length >= 2, { description: 'readings before the outage' });
    await server.close();
    await waitFor(async () => !source.connected && (await metric(ctx, 'tidemark_edge_source_connected', 'source="plc"')) === 0, {
      description: 'link reported down',
    });
    const before = ctx.readings.length;
    s.holding.set(0, 8);
    await serve(slaves, server.port);
    await waitFor(() => ctx.readings.slice(before).some((r) => r.value === 8), { timeoutMs: 10_000, description: 'readings after reconnect' });
    expect(source.connected).toBe(true);
    expect(await metric(ctx, 'tidemark_edge_source_connected', 'source="plc"')).toBe(1);
    expect(await metric(ctx, 'tidemark_edge_source_reconnects_total', 'source="plc"')).toBe(1);
  });
});
