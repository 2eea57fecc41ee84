// Real Modbus slaves for tests: modbus-serial's ServerTCP (on a free loopback port) or ServerSerial (on one end
// of a socat pty pair), answering for several unit ids from in-memory tables. A unit may be `silent` (never
// answers, like a dead slave on the bus) or answer every request with an exception code; an address not in
// its tables is answered with exception 2 (illegal data address), as a real device does.
import { ServerSerial, ServerTCP } from 'modbus-serial';
import { freePort } from '@tidemark/shared/testing';
import { encodeRegisters, type ValueType, type WordOrder } from '../register-codec.js';

export interface SimulatedSlave {
  holding: Map<number, number>;
  input: Map<number, number>;
  coils: Map<number, boolean>;
  discrete: Map<number, boolean>;
  /** Never answers. */
  silent?: boolean;
  /** Answers every request with this exception code. */
  exception?: number;
  /** Answers after this long (ms): a slow device, or the wire time of a real serial line. */
  responseDelayMs?: number;
}

export function simulatedSlave(init: Partial<SimulatedSlave> = {}): SimulatedSlave {
  return { holding: new Map(), input: new Map(), coils: new Map(), discrete: new Map(), ...init };
}

/** Stores `value` as a device would: encoded for `type` and `order`, from `address` on. */
export function putValue(table: Map<number, number>, address: number, value: number | bigint, type: ValueType, order: WordOrder): void {
  encodeRegisters(value, type, order).forEach((w, i) => table.set(address + i, w));
}

export interface TestModbusServer {
  slaves: Map<number, SimulatedSlave>;
  /** Requests received per unit id (the silent ones included). */
  requests: Map<number, number>;
  close(): Promise<void>;
}

const NEVER = new Promise<never>(() => undefined);

function vector(slaves: Map<number, SimulatedSlave>, requests: Map<number, number>) {
  const lookup = <T>(unit: number, pick: (s: SimulatedSlave) => Map<number, T>, addr: number): T | Promise<T> => {
    const s = slaves.get(unit);
    if (s === undefined || s.silent) return NEVER;
    if (s.exception !== undefined) throw { modbusErrorCode: s.exception, msg: 'configured exception' };
    const v = pick(s).get(addr);
    if (v === undefined) throw { modbusErrorCode: 2, msg: 'illegal data address' };
    if (s.responseDelayMs) return new Promise<T>((resolve) => setTimeout(() => resolve(v), s.responseDelayMs));
    return v;
  };
  // The server calls the vector synchronously for every register of one request: a request is one burst.
  const counted = <T>(fn: (addr: number, unit: number) => T) => {
    let inBurst = false;
    return (addr: number, unit: number): T => {
      if (!inBurst) {
        inBurst = true;
        queueMicrotask(() => (inBurst = false));
        requests.set(unit, (requests.get(unit) ?? 0) + 1);
      }
      return fn(addr, unit);
    };
  };
  return {
    getHoldingRegister: counted((addr, unit) => lookup(unit, (s) => s.holding, addr)),
    getInputRegister: counted((addr, unit) => lookup(unit, (s) => s.input, addr)),
    getCoil: counted((addr, unit) => lookup(unit, (s) => s.coils, addr)),
    getDiscreteInput: counted((addr, unit) => lookup(unit, (s) => s.discrete, addr)),
  };
}

export async function startTcpServer(slaves: Map<number, SimulatedSlave>, port?: number): Promise<TestModbusServer & { port: number }> {
  const listenPort = port ?? (await freePort());
  const requests = new Map<number, number>();
  const server = new ServerTCP(vector(slaves, requests) as never, { host: '127.0.0.1', port: listenPort, unitID: 255 });
  await new Promise<void>((resolve, reject) => {
    server.once('initialized', () => resolve());
    // guard-audit: test support; the listener only rejects a promise.
      server.once('serverError', (err: unknown) => reject(err instanceof Error ? err : new Error(String(err))));
  });
  return {
    slaves,
    requests,
    port: listenPort,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

export async function startSerialServer(slaves: Map<number, SimulatedSlave>, path: string, baudRate = 19_200): Promise<TestModbusServer> {
  const requests = new Map<number, number>();
  // interval: the silence (ms) that ends a request frame; the default 30 ms would make this "device" slow.
  const server = new ServerSerial(vector(slaves, requests) as never, { path, baudRate, parity: 'even', unitID: 255, interval: 3 } as never);
  server.on('error', () => undefined);
  // Writes to a pty whose other end is gone fail with EIO; unheard, that error would end the test run.
  (server as unknown as { _serverPath: NodeJS.EventEmitter })._serverPath.on('error', () => undefined);
  await new Promise<void>((resolve) => server.once('initialized', () => resolve()));
  return {
    slaves,
    requests,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
