// Config of a Modbus source: one bus (RTU over a serial line, or TCP), its slaves, and each slave's register
// map. Addresses are 0-BASED register numbers as they go on the wire; 1-based Modicon references (40001 …)
// are refused with the 0-based number to write instead (telegraf#7523). Register names are sensor names,
// unique across the whole source; values of one slave and table must not overlap.

import { evenWithIssues, reportDuplicates, z, zDuration, zInt, zName, zNumber, zString } from '@tidemark/shared/config';
import { registerCount, VALUE_TYPES, WORD_ORDERS, type ValueType, type WordOrder } from './register-codec.js';
import { describeSpan, isBitTable, MAX_REGISTERS_PER_READ, TABLES, type Table } from './request-plan.js';

export type ModbusRegisterConfig = {
  name: string;
  table: Table;
  /** 0-based register (or coil/input bit) number. */
  address: number;
  type: ValueType;
  word_order: WordOrder;
  scale: number;
  offset: number;
};

export type ModbusSlaveConfig = {
  id: number;
  /** ms */
  poll_interval: number;
  /** ms, per request attempt */
  timeout: number;
  retries: number;
  max_gap: number;
  max_registers_per_request: number;
  /** Refuse addresses that look like 1-based Modicon references (40001 …). */
  modicon_check: boolean;
  registers: ModbusRegisterConfig[];
};

type ModbusCommonConfig = {
  type: 'modbus';
  name: string;
  /** ms to wait after (re)connecting before the first request (devices that need it: telegraf#11919). */
  pause_after_connect: number;
  reconnect_min_ms: number;
  reconnect_max_ms: number;
  slaves: ModbusSlaveConfig[];
};

export type ModbusRtuConfig = ModbusCommonConfig & {
  transport: 'rtu';
  path: string;
  baud_rate: number;
  data_bits: 7 | 8;
  parity: 'none' | 'even' | 'odd';
  stop_bits: 1 | 2;
  /** ms of bus silence before each request; absent: 3.5 character times (1.75 ms above 19200 baud). */
  inter_frame_delay?: number;
};

export type ModbusTcpConfig = ModbusCommonConfig & {
  transport: 'tcp';
  host: string;
  port: number;
  /** ms */
  connect_timeout: number;
};

export type ModbusSourceConfig = ModbusRtuConfig | ModbusTcpConfig;

/** Modicon reference prefixes: 4xxxx holding, 3xxxx input, 1xxxx discrete (coils are 0xxxx, undetectable). */
const MODICON_PREFIX: Partial<Record<Table, number>> = { holding: 4, input: 3, discrete: 1 };

/**
 * If `address` looks like a 1-based Modicon reference for `table` (5-digit 40001…49999, or 6-digit
 * 400001…465536), the 0-based number meant. 5-digit ones are also valid register numbers on some devices
 * (`modicon_check: false`); 6-digit ones never are.
 */
export function modiconAddress(table: Table, address: number): { meant: number; digits: 5 | 6 } | undefined {
  const prefix = MODICON_PREFIX[table];
  if (prefix === undefined) return undefined;
  if (address >= prefix * 10_000 + 1 && address <= prefix * 10_000 + 9_999) return { meant: address - (prefix * 10_000 + 1), digits: 5 };
  if (address >= prefix * 100_000 + 1 && address <= prefix * 100_000 + 65_536) return { meant: address - (prefix * 100_000 + 1), digits: 6 };
  return undefined;
}

function modiconMessage(table: Table, address: number, meant: number): string {
  return `${address} looks like a 1-based Modicon reference; addresses are 0-based register numbers within the ${table} table: write address: ${meant}`;
}

const registerSchema = z
  .strictObject({
    name: zName('register name (it becomes the sensor name)'),
    table: z.enum(TABLES),
    address: zInt({ min: 0 }),
    type: z.enum(VALUE_TYPES).optional(),
    word_order: z.enum(WORD_ORDERS).default('ABCD'),
    scale: zNumber().default(1),
    offset: zNumber().default(0),
  })
  .superRefine((r, ctx) => {
    // 5-digit Modicon-like addresses are checked by the slave, which knows its modicon_check.
    if (typeof r.address === 'number' && Number.isInteger(r.address) && typeof r.table === 'string') {
      const modicon = r.address > 65_535 ? modiconAddress(r.table, r.address) : undefined;
      if (modicon !== undefined) {
        ctx.addIssue({ code: 'custom', path: ['address'], input: r.address, message: modiconMessage(r.table, r.address, modicon.meant) });
      } else if (r.address > 65_535) {
        ctx.addIssue({ code: 'custom', path: ['address'], input: r.address, message: 'expected an integer from 0 to 65535 (a 0-based register number)' });
      } else if (r.type !== undefined && r.address + (isBitTable(r.table) ? 1 : registerCount(r.type)) > 65_536) {
        ctx.addIssue({ code: 'custom', path: ['address'], input: r.address, message: `a ${r.type} at ${r.address} runs past the last register (65535)` });
      }
    }
    if (typeof r.table === 'string' && isBitTable(r.table) && r.type !== undefined && r.type !== 'bool') {
      ctx.addIssue({ code: 'custom', path: ['type'], input: r.type, message: `the ${r.table} table holds single bits: type must be bool (or left out)` });
    }
  }, evenWithIssues)
  .transform((r): ModbusRegisterConfig => ({ ...r, type: r.type ?? (isBitTable(r.table) ? 'bool' : 'uint16') }));

function slaveSchema(ids: { min: number; max: number }) {
  return z
    .strictObject({
      id: zInt(ids),
      poll_interval: zDuration({ min: 10 }).prefault('1s'),
      timeout: zDuration({ min: 1, max: 60_000 }).prefault('1s'),
      retries: zInt({ min: 0, max: 10 }).default(1),
      max_gap: zInt({ min: 0, max: MAX_REGISTERS_PER_READ }).default(0),
      max_registers_per_request: zInt({ min: 1, max: MAX_REGISTERS_PER_READ }).default(MAX_REGISTERS_PER_READ),
      modicon_check: z.boolean().default(true),
      registers: z.array(registerSchema).min(1, 'list at least one register'),
    })
    .superRefine((s, ctx) => {
      if (!Array.isArray(s.registers)) return;
      if (s.modicon_check !== false) {
        s.registers.forEach((r, i) => {
          if (typeof r?.address !== 'number' || typeof r.table !== 'string' || r.address > 65_535) return;
          const modicon = modiconAddress(r.table, r.address);
          if (modicon === undefined) return;
          ctx.addIssue({
            code: 'custom',
            path: ['registers', i, 'address'],
            input: r.address,
            message: `${modiconMessage(r.table, r.address, modicon.meant)} (if ${r.address} really is the device's register number, set modicon_check: false on this slave)`,
          });
        });
      }
      reportOverlaps(ctx, s.registers);
      const widest = Math.max(0, ...s.registers.filter((r) => r && !isBitTable(r.table)).map((r) => registerCount(r.type)));
      if (typeof s.max_registers_per_request === 'number' && widest > s.max_registers_per_request) {
        ctx.addIssue({ code: 'custom', path: ['max_registers_per_request'], input: s.max_registers_per_request, message: `must be at least ${widest} (the widest value spans ${widest} registers)` });
      }
    }, evenWithIssues);
}

function reportOverlaps(ctx: z.core.$RefinementCtx, registers: readonly ModbusRegisterConfig[]): void {
  const spans = registers
    .map((r, i) => ({ r, i, end: r.address + (isBitTable(r.table) ? 1 : registerCount(r.type)) }))
    .filter(({ r }) => r !== undefined && typeof r.address === 'number')
    .sort((a, b) => (a.r.table < b.r.table ? -1 : a.r.table > b.r.table ? 1 : a.r.address - b.r.address || a.i - b.i));
  for (let k = 1; k < spans.length; k++) {
    const prev = spans[k - 1]!;
    const cur = spans[k]!;
    if (prev.r.table !== cur.r.table || cur.r.address >= prev.end) continue;
    const [first, second] = prev.i < cur.i ? [prev, cur] : [cur, prev];
    ctx.addIssue({
      code: 'custom',
      path: ['registers', second.i, 'address'],
      input: second.r.address,
      message: `${second.r.name} (${describeSpan(second.r.table, second.r.address, second.end - second.r.address)}) overlaps ${first.r.name} (registers[${first.i}], ${describeSpan(first.r.table, first.r.address, first.end - first.r.address)})`,
    });
  }
}

const common = {
  type: z.literal('modbus'),
  name: zName('source name'),
  pause_after_connect: zDuration({ min: 0, max: 60_000 }).prefault(0),
  reconnect_min_ms: zInt({ min: 1 }).default(500),
  reconnect_max_ms: zInt({ min: 1 }).default(10_000),
};

function checkSource(s: { reconnect_min_ms?: unknown; reconnect_max_ms?: unknown; slaves?: unknown }, ctx: z.core.$RefinementCtx): void {
  if (typeof s.reconnect_min_ms === 'number' && typeof s.reconnect_max_ms === 'number' && s.reconnect_max_ms < s.reconnect_min_ms) {
    ctx.addIssue({ code: 'custom', path: ['reconnect_max_ms'], input: s.reconnect_max_ms, message: `must be >= reconnect_min_ms (${s.reconnect_min_ms})` });
  }
  if (!Array.isArray(s.slaves)) return;
  const slaves = s.slaves as (Partial<ModbusSlaveConfig> | undefined)[];
  reportDuplicates(ctx, slaves.map((sl) => (typeof sl?.id === 'number' ? String(sl.id) : undefined)), 'slave id', (i) => ['slaves', i, 'id'], (i) => `slaves[${i}]`);
  // Register names become sensor names of the device, so they must be unique across every slave.
  const names: unknown[] = [];
  const where: [number, number][] = [];
  slaves.forEach((sl, i) => {
    if (!Array.isArray(sl?.registers)) return;
    sl.registers.forEach((r, j) => {
      names.push(r?.name);
      where.push([i, j]);
    });
  });
  reportDuplicates(
    ctx,
    names,
    'register name',
    (k) => ['slaves', where[k]![0], 'registers', where[k]![1], 'name'],
    (k) => `slaves[${where[k]![0]}].registers[${where[k]![1]}]`,
  );
}

const rtuSchema = z
  .strictObject({
    ...common,
    transport: z.literal('rtu'),
    path: zString('a serial device path such as /dev/serial/by-id/usb-RS485-if00'),
    baud_rate: zInt({ min: 1 }).default(19_200),
    data_bits: z.literal([7, 8]).default(8),
    parity: z.enum(['none', 'even', 'odd']).default('even'),
    stop_bits: z.literal([1, 2]).default(1),
    inter_frame_delay: zDuration({ min: 0, max: 1000 }).optional(),
    slaves: z.array(slaveSchema({ min: 1, max: 247 })).min(1, 'list at least one slave'),
  })
  .superRefine(checkSource, evenWithIssues);

const tcpSchema = z
  .strictObject({
    ...common,
    transport: z.literal('tcp'),
    host: zString('a host name or IP address'),
    port: zInt({ min: 1, max: 65_535 }).default(502),
    connect_timeout: zDuration({ min: 1, max: 60_000 }).prefault('5s'),
    slaves: z.array(slaveSchema({ min: 0, max: 255 })).min(1, 'list at least one slave'),
  })
  .superRefine(checkSource, evenWithIssues);

export const modbusSourceSchema = z.discriminatedUnion('transport', [rtuSchema, tcpSchema]);

// The schema must produce exactly the documented type.
const _output: z.ZodType<ModbusSourceConfig> = modbusSourceSchema;
void _output;
