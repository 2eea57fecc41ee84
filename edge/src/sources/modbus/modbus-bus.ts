// One Modbus bus: an RTU serial line or a TCP connection, opened through modbus-serial. It carries one request
// at a time (callers never overlap reads; `read` refuses if they do), keeps the RTU inter-frame silence
// before each request, and turns every failure into a closed set of outcomes (timeout, exception with its
// code, bad frame, not connected) so the poller counts rather than guesses. It never reconnects by itself:
// `onLost` tells the owner, which decides when to open again.
import type { ModbusRTU as ModbusClient } from 'modbus-serial/ModbusRTU.js';
import type { ModbusSourceConfig } from './config.js';
import { interFrameDelayMs } from './rtu-timing.js';
import type { Table } from './request-plan.js';

export type ReadFailure =
  | { kind: 'timeout' }
  | { kind: 'exception'; code: number; message: string }
  | { kind: 'bad_response'; message: string }
  | { kind: 'disconnected'; message: string };

export type ReadOutcome = { ok: true; words: number[] } | ({ ok: false } & ReadFailure);

export interface ModbusBus {
  readonly connected: boolean;
  /** One attempt to open the port or connect; rejects with the reason. */
  open(): Promise<void>;
  /** Reads `count` registers (or bits, as 0/1) of `table` from slave `unit`. Never rejects (overlapping calls are a bug and throw). */
  read(unit: number, table: Table, address: number, count: number, timeoutMs: number): Promise<ReadOutcome>;
  close(): Promise<void>;
  /** Called once per open connection when it is lost (port closed, socket reset). */
  onLost(listener: (why: string) => void): void;
  /** `rtu /dev/ttyUSB0 19200 8E1` or `tcp 10.0.0.5:502`, for logs and doctor. */
  describe(): string;
}

interface ModbusError {
  name?: string;
  message?: string;
  errno?: string;
  modbusCode?: number;
}

/** Sorts a modbus-serial error into an outcome. */
export function classifyError(err: unknown): ReadFailure {
  const e = (typeof err === 'object' && err !== null ? err : { message: String(err) }) as ModbusError;
  const message = e.message ?? String(err);
  if (typeof e.modbusCode === 'number') return { kind: 'exception', code: e.modbusCode, message };
  if (e.name === 'TransactionTimedOutError' || e.errno === 'ETIMEDOUT') return { kind: 'timeout' };
  if (e.name === 'PortNotOpenError' || /port not open/i.test(message)) return { kind: 'disconnected', message };
  return { kind: 'bad_response', message };
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

export class ModbusSerialBus implements ModbusBus {
  private client: ModbusClient | undefined;
  private busy = false;
  private abortRead: ((why: string) => void) | undefined;
  private listeners: ((why: string) => void)[] = [];
  /** When the last request ended (ms, performance.now()): the RTU silence counts from here. */
  private lastFrameEnd = 0;
  private readonly frameGapMs: number;

  constructor(private readonly config: ModbusSourceConfig) {
    this.frameGapMs = config.transport === 'rtu' ? interFrameDelayMs(config) : 0;
  }

  get connected(): boolean {
    if (this.client !== undefined && !this.client.isOpen) this.lost(this.client, 'connection closed');
    return this.client?.isOpen === true;
  }

  describe(): string {
    const c = this.config;
    if (c.transport === 'tcp') return `tcp ${c.host.includes(':') ? `[${c.host}]` : c.host}:${c.port}`;
    return `rtu ${c.path} ${c.baud_rate} ${c.data_bits}${c.parity[0]!.toUpperCase()}${c.stop_bits}`;
  }

  onLost(listener: (why: string) => void): void {
    this.listeners.push(listener);
  }

  async open(): Promise<void> {
    await this.close();
    // Loaded on first use: a gateway without Modbus sources never loads it (nor serialport through it).
    const mod = (await import('modbus-serial')) as unknown as { default: new () => ModbusClient };
    const client = new mod.default();
    // modbus-serial re-emits port errors; without a listener one would end the process.
    client.on('error', () => undefined);
    this.client = client;
    const c = this.config;
    try {
      if (c.transport === 'tcp') {
        await client.connectTCP(c.host, { port: c.port, timeout: c.connect_timeout });
      } else {
        await client.connectRTUBuffered(c.path, { baudRate: c.baud_rate, dataBits: c.data_bits, parity: c.parity, stopBits: c.stop_bits });
      }
    } catch (err) {
      this.client = undefined;
      destroyQuietly(client);
      throw err instanceof Error ? err : new Error(String((err as ModbusError)?.message ?? err));
    }
    if (this.client !== client) {
      // close() ran while we were connecting.
      destroyQuietly(client);
      throw new Error('closed while connecting');
    }
    // modbus-serial's TCP port skips its 'close' event after a socket error (reset by peer), so a dead link
    // is also noticed when a request finds the port closed (see `connected`).
    // guard-audit: lost() only drops this bus's client reference and closes it quietly; it cannot throw.
    client.on('close', () => this.lost(client, 'connection closed'));
    this.lastFrameEnd = performance.now();
  }

  private lost(client: ModbusClient, why: string): void {
    if (this.client !== client) return;
    this.client = undefined;
    this.abortRead?.(why);
    destroyQuietly(client);
    for (const l of this.listeners) l(why);
  }

  async read(unit: number, table: Table, address: number, count: number, timeoutMs: number): Promise<ReadOutcome> {
    const client = this.client;
    if (client === undefined || !this.connected) return { ok: false, kind: 'disconnected', message: 'not connected' };
    if (this.busy) throw new Error('bug: overlapping Modbus requests on one bus');
    this.busy = true;
    try {
      const silence = this.lastFrameEnd + this.frameGapMs - performance.now();
      if (silence > 0) await sleep(silence);
      client.setID(unit);
      client.setTimeout(timeoutMs);
      // A connection lost mid-request cancels modbus-serial's timers without settling the request: settle it here.
      const aborted = new Promise<never>((_, reject) => {
        this.abortRead = (why) => reject(Object.assign(new Error(why), { name: 'PortNotOpenError' }));
      });
      return await Promise.race([this.request(client, table, address, count), aborted]);
    } catch (err) {
      const failure = classifyError(err);
      if (failure.kind === 'disconnected' || !client.isOpen) {
        this.lost(client, failure.kind === 'disconnected' ? failure.message : 'connection closed');
        return { ok: false, kind: 'disconnected', message: failure.kind === 'disconnected' ? failure.message : 'connection closed' };
      }
      return { ok: false, ...failure };
    } finally {
      this.abortRead = undefined;
      this.lastFrameEnd = performance.now();
      this.busy = false;
    }
  }

  private async request(client: ModbusClient, table: Table, address: number, count: number): Promise<ReadOutcome> {
    switch (table) {
      case 'holding':
        return { ok: true, words: (await client.readHoldingRegisters(address, count)).data };
      case 'input':
        return { ok: true, words: (await client.readInputRegisters(address, count)).data };
      case 'coil':
        return { ok: true, words: (await client.readCoils(address, count)).data.slice(0, count).map((b) => (b ? 1 : 0)) };
      case 'discrete':
        return { ok: true, words: (await client.readDiscreteInputs(address, count)).data.slice(0, count).map((b) => (b ? 1 : 0)) };
    }
  }

  async close(): Promise<void> {
    const client = this.client;
    this.client = undefined;
    if (client === undefined) return;
    this.abortRead?.('bus closed');
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, 2000);
      try {
        client.close(() => {
          clearTimeout(timer);
          resolve();
        });
      } catch {
        clearTimeout(timer);
        resolve();
      }
    });
    destroyQuietly(client);
  }
}

function destroyQuietly(client: ModbusClient): void {
  try {
    client.destroy(() => undefined);
  } catch {
    // already closed
  }
}
