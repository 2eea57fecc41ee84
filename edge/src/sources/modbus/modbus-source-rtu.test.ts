// The Modbus source on a real RTU line: a socat pty pair whose device end is a stable symlink (like
// /dev/serial/by-id/…), answered by modbus-serial's ServerSerial. The "adapter" is unplugged and plugged back.
import { join } from 'node:path';
import { validateConfig } from '@tidemark/shared/config';
import { makeTempDir, openPtyAtPath, openPtyPair, requireTool, sampleSum, useProcessReaper, waitFor } from '@tidemark/shared/testing';
import { afterEach, describe, expect, it } from 'vitest';
import { recordingContext } from '../testing/source-contract.js';
import { modbusSourceSchema, type ModbusRtuConfig } from './config.js';
import { ModbusSerialBus } from './modbus-bus.js';
import { ModbusSource } from './modbus-source.js';
import { SlavePoller } from './slave-poller.js';
import { simulatedSlave, startSerialServer } from './test-support/modbus-test-server.js';

requireTool('socat', 'socat');
useProcessReaper();

describe('modbus source (RTU over a pty)', () => {
  const cleanup: (() => Promise<void>)[] = [];
  afterEach(async () => {
    for (const c of cleanup.splice(0).reverse()) await c();
  });

  it('reads a bus shared by several slaves, and reopens the line after an unplug', async () => {
    const dir = await makeTempDir('tidemark-modbus-rtu-');
    const device = join(dir, 'usb-RS485-if00');
    const slaves = new Map([
      [1, simulatedSlave()],
      [2, simulatedSlave()],
    ]);
    slaves.get(1)!.holding.set(0, 11);
    slaves.get(2)!.input.set(0, 22);
    let pty = await openPtyAtPath(device);
    let server = await startSerialServer(slaves, pty.peer);
    cleanup.push(async () => {
      await server.close();
      await pty.close();
    });
    const ctx = recordingContext();
    const config = validateConfig(
      {
        type: 'modbus',
        name: 'line',
        transport: 'rtu',
        path: device,
        reconnect_min_ms: 50,
        reconnect_max_ms: 200,
        slaves: [
          { id: 1, poll_interval: '50ms', timeout: '200ms', registers: [{ name: 'one', table: 'holding', address: 0 }] },
          { id: 2, poll_interval: '50ms', timeout: '200ms', registers: [{ name: 'two', table: 'input', address: 0 }] },
        ],
      },
      modbusSourceSchema,
    );
    const source = new ModbusSource(config, ctx);
    cleanup.push(() => source.stop());
    await source.start();
    await waitFor(() => ctx.readings.some((r) => r.sensor === 'one') && ctx.readings.some((r) => r.sensor === 'two'), { description: 'both slaves read' });
    expect(ctx.readings.find((r) => r.sensor === 'one')!.value).toBe(11);
    expect(ctx.readings.find((r) => r.sensor === 'two')!.value).toBe(22);

    // Unplug: the device path vanishes.
    await server.close();
    await pty.close();
    await waitFor(async () => !source.connected && sampleSum(await ctx.metrics.metrics(), 'tidemark_edge_source_connected', 'source="line"') === 0, {
      timeoutMs: 10_000,
      description: 'line reported down',
    });
    slaves.get(1)!.holding.set(0, 12);
    pty = await openPtyAtPath(device);
    server = await startSerialServer(slaves, pty.peer);
    await waitFor(() => ctx.readings.some((r) => r.sensor === 'one' && r.value === 12), { timeoutMs: 10_000, description: 'readings after replug' });
    expect(source.connected).toBe(true);
  });

  it('keeps the inter-frame silence before every request', async () => {
    const pty = await openPtyPair();
    const s = simulatedSlave();
    s.holding.set(0, 1);
    s.coils.set(0, true);
    const server = await startSerialServer(new Map([[1, s]]), pty.b);
    cleanup.push(async () => {
      await server.close();
      await pty.close();
    });
    const config = (delay: string) =>
      validateConfig(
        {
          type: 'modbus',
          name: 'line',
          transport: 'rtu',
          path: pty.a,
          inter_frame_delay: delay,
          slaves: [{ id: 1, registers: [{ name: 'a', table: 'holding', address: 0 }, { name: 'b', table: 'coil', address: 0 }] }],
        },
        modbusSourceSchema,
      ) as ModbusRtuConfig;
    const timed = async (delay: string) => {
      const c = config(delay);
      const bus = new ModbusSerialBus(c);
      await bus.open();
      try {
        const poller = new SlavePoller(c.slaves[0]!, 0, { source: 'line', ...recordingContext(), now: Date.now });
        const t = performance.now();
        const result = await poller.poll(bus);
        expect(result.readings.map((r) => r.value)).toEqual([1, 1]);
        return performance.now() - t;
      } finally {
        await bus.close();
      }
    };
    // Two requests, each after 150 ms of silence (the first counts from the open).
    expect(await timed('150ms')).toBeGreaterThanOrEqual(290);
    expect(await timed('0ms')).toBeLessThan(290);
  });
});
