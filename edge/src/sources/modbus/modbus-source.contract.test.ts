import { openPtyPair, requireTool, useProcessReaper } from '@tidemark/shared/testing';
import { validateConfig } from '@tidemark/shared/config';
import { describeSourceContract } from '../testing/source-contract.js';
import { modbusSourceSchema } from './config.js';
import { ModbusSource } from './modbus-source.js';
import { simulatedSlave, startSerialServer, startTcpServer } from './test-support/modbus-test-server.js';

requireTool('socat', 'socat');
useProcessReaper();

const registers = [
  { name: 'temp_c', table: 'holding', address: 0, type: 'int16', scale: 0.1 },
  { name: 'running', table: 'coil', address: 0 },
];

function slave() {
  const s = simulatedSlave();
  s.holding.set(0, 215);
  s.coils.set(0, true);
  return s;
}

// The source polls by itself: stimulating it means nothing more than letting a poll interval pass.
describeSourceContract('modbus tcp', async (ctx) => {
  const server = await startTcpServer(new Map([[1, slave()]]));
  const config = validateConfig(
    { type: 'modbus', name: 'plc', transport: 'tcp', host: '127.0.0.1', port: server.port, slaves: [{ id: 1, poll_interval: '50ms', registers }] },
    modbusSourceSchema,
  );
  return { source: new ModbusSource(config, ctx), stimulate: async () => undefined, cleanup: () => server.close() };
});

// RTU over a real pseudo-terminal pair: the source opens end a, a modbus-serial ServerSerial answers on end b.
describeSourceContract('modbus rtu', async (ctx) => {
  const pty = await openPtyPair();
  const server = await startSerialServer(new Map([[7, slave()]]), pty.b);
  const config = validateConfig(
    { type: 'modbus', name: 'line', transport: 'rtu', path: pty.a, slaves: [{ id: 7, poll_interval: '50ms', registers }] },
    modbusSourceSchema,
  );
  return {
    source: new ModbusSource(config, ctx),
    stimulate: async () => undefined,
    cleanup: async () => {
      await server.close();
      await pty.close();
    },
  };
});
