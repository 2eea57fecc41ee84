// Which read requests poll one slave: its values grouped per table into as few requests as the protocol
// allows (125 registers or 2000 bits per read) and the slave tolerates (max_registers_per_request, and at
// most max_gap unconfigured registers read in between). Pure. Invariants: every value lies inside exactly
// one request of its own table; no request exceeds its limit; requests are in (table, address) order.
import { registerCount, type ValueType, type WordOrder } from './register-codec.js';

export const TABLES = ['holding', 'input', 'coil', 'discrete'] as const;
export type Table = (typeof TABLES)[number];

/** Protocol maxima per read: FC3/FC4 read up to 125 registers, FC1/FC2 up to 2000 bits. */
export const MAX_REGISTERS_PER_READ = 125;
export const MAX_BITS_PER_READ = 2000;

export function isBitTable(table: Table): boolean {
  return table === 'coil' || table === 'discrete';
}

export interface PlannedValue {
  /** Index of the register in its slave's `registers` list (for error messages naming the config). */
  index: number;
  name: string;
  table: Table;
  address: number;
  type: ValueType;
  word_order: WordOrder;
  scale: number;
  offset: number;
}

export interface ReadRequest {
  table: Table;
  address: number;
  /** Registers (holding/input) or bits (coil/discrete). */
  count: number;
  values: PlannedValue[];
}

export interface PlanLimits {
  /** Registers per holding/input read, 1..125. */
  maxRegisters: number;
  /** Unconfigured registers (or bits) a request may read between two values to save a request. */
  maxGap: number;
}

/** How many registers (or bits) a value occupies in its table. */
export function valueWidth(v: Pick<PlannedValue, 'table' | 'type'>): number {
  return isBitTable(v.table) ? 1 : registerCount(v.type);
}

export function planRequests(values: readonly PlannedValue[], limits: PlanLimits): ReadRequest[] {
  const out: ReadRequest[] = [];
  for (const table of TABLES) {
    const limit = isBitTable(table) ? MAX_BITS_PER_READ : Math.min(limits.maxRegisters, MAX_REGISTERS_PER_READ);
    const sorted = values.filter((v) => v.table === table).sort((a, b) => a.address - b.address || a.index - b.index);
    let current: ReadRequest | undefined;
    for (const v of sorted) {
      const end = v.address + valueWidth(v);
      if (current !== undefined) {
        const currentEnd = current.address + current.count;
        const gap = v.address - currentEnd;
        const span = Math.max(end, currentEnd) - current.address;
        // Greedy extension is optimal here: any sub-run of a feasible run is feasible.
        if (gap <= limits.maxGap && span <= limit) {
          current.count = span;
          current.values.push(v);
          continue;
        }
      }
      current = { table, address: v.address, count: end - v.address, values: [v] };
      out.push(current);
    }
  }
  return out;
}

/** One request per value: how a request the slave refused with "illegal data address" is narrowed down. */
export function splitRequest(request: ReadRequest): ReadRequest[] {
  return request.values.map((v) => ({ table: request.table, address: v.address, count: valueWidth(v), values: [v] }));
}

/** `holding 100..103` or `coil 7`: a request's span for logs. */
export function describeSpan(table: Table, address: number, count: number): string {
  return count <= 1 ? `${table} ${address}` : `${table} ${address}..${address + count - 1}`;
}
