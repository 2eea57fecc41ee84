import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { VALUE_TYPES } from './register-codec.js';
import { isBitTable, MAX_BITS_PER_READ, planRequests, splitRequest, TABLES, valueWidth, type PlannedValue, type PlanLimits, type Table } from './request-plan.js';

function value(index: number, table: Table, address: number, type: PlannedValue['type'] = 'uint16'): PlannedValue {
  return { index, name: `r${index}`, table, address, type: isBitTable(table) ? 'bool' : type, word_order: 'ABCD', scale: 1, offset: 0 };
}

/** Non-overlapping values (as the config guarantees) in random tables, addresses and types. */
const valuesArb = fc
  .array(
    fc.record({
      table: fc.constantFrom(...TABLES),
      gapBefore: fc.integer({ min: 0, max: 6 }),
      type: fc.constantFrom(...VALUE_TYPES),
    }),
    { maxLength: 40 },
  )
  .map((specs) => {
    const next: Record<Table, number> = { holding: 0, input: 0, coil: 0, discrete: 0 };
    return specs.map((s, i) => {
      const v = value(i, s.table, next[s.table] + s.gapBefore, s.type);
      next[s.table] = v.address + valueWidth(v);
      return v;
    });
  })
  .chain((vs) => fc.shuffledSubarray(vs, { minLength: vs.length, maxLength: vs.length }));

const limitsArb = fc.record({ maxRegisters: fc.integer({ min: 4, max: 125 }), maxGap: fc.integer({ min: 0, max: 8 }) });

/** The fewest requests, by dynamic programming over each table's sorted values (the reference model). */
function fewestRequests(values: readonly PlannedValue[], limits: PlanLimits): number {
  let total = 0;
  for (const table of TABLES) {
    const limit = isBitTable(table) ? MAX_BITS_PER_READ : limits.maxRegisters;
    const vs = values.filter((v) => v.table === table).sort((a, b) => a.address - b.address);
    const best = new Array<number>(vs.length + 1).fill(Infinity);
    best[0] = 0;
    for (let j = 1; j <= vs.length; j++) {
      // A request covers vs[i..j-1]: span and every internal gap must fit.
      for (let i = j - 1; i >= 0; i--) {
        const span = vs[j - 1]!.address + valueWidth(vs[j - 1]!) - vs[i]!.address;
        if (span > limit) break;
        let gapsOk = true;
        for (let k = i + 1; k < j; k++) if (vs[k]!.address - (vs[k - 1]!.address + valueWidth(vs[k - 1]!)) > limits.maxGap) gapsOk = false;
        if (gapsOk) best[j] = Math.min(best[j]!, best[i]! + 1);
      }
    }
    total += best[vs.length]!;
  }
  return total;
}

describe('request plan', () => {
  it('covers every value exactly once, within limits, with the fewest requests', () => {
    fc.assert(
      fc.property(valuesArb, limitsArb, (values, limits) => {
        const plan = planRequests(values, limits);
        const seen = new Map<number, number>();
        for (const r of plan) {
          const limit = isBitTable(r.table) ? MAX_BITS_PER_READ : limits.maxRegisters;
          expect(r.count).toBeGreaterThan(0);
          expect(r.count).toBeLessThanOrEqual(limit);
          for (const v of r.values) {
            expect(v.table).toBe(r.table);
            expect(v.address).toBeGreaterThanOrEqual(r.address);
            expect(v.address + valueWidth(v)).toBeLessThanOrEqual(r.address + r.count);
            seen.set(v.index, (seen.get(v.index) ?? 0) + 1);
          }
        }
        expect([...seen.keys()].sort((a, b) => a - b)).toEqual(values.map((v) => v.index).sort((a, b) => a - b));
        for (const n of seen.values()) expect(n).toBe(1);
        expect(plan.length).toBe(fewestRequests(values, limits));
      }),
    );
  });

  it('coalesces adjacent registers into one request and keeps tables apart', () => {
    const plan = planRequests(
      [value(0, 'holding', 100, 'float32'), value(1, 'holding', 102, 'uint16'), value(2, 'input', 103), value(3, 'coil', 0), value(4, 'coil', 1)],
      { maxRegisters: 125, maxGap: 0 },
    );
    expect(plan.map((r) => [r.table, r.address, r.count, r.values.map((v) => v.name)])).toEqual([
      ['holding', 100, 3, ['r0', 'r1']],
      ['input', 103, 1, ['r2']],
      ['coil', 0, 2, ['r3', 'r4']],
    ]);
  });

  it('bridges a gap only up to max_gap, and splits at max_registers_per_request', () => {
    const values = [value(0, 'holding', 0), value(1, 'holding', 3), value(2, 'holding', 10)];
    expect(planRequests(values, { maxRegisters: 125, maxGap: 2 }).map((r) => [r.address, r.count])).toEqual([
      [0, 4],
      [10, 1],
    ]);
    expect(planRequests(values, { maxRegisters: 125, maxGap: 6 }).map((r) => [r.address, r.count])).toEqual([[0, 11]]);
    expect(planRequests(values, { maxRegisters: 4, maxGap: 6 }).map((r) => [r.address, r.count])).toEqual([
      [0, 4],
      [10, 1],
    ]);
  });

  it('splits a request into one per value', () => {
    const [req] = planRequests([value(0, 'input', 5, 'int32'), value(1, 'input', 7, 'uint16')], { maxRegisters: 125, maxGap: 0 });
    expect(splitRequest(req!).map((r) => [r.address, r.count, r.values[0]!.name])).toEqual([
      [5, 2, 'r0'],
      [7, 1, 'r1'],
    ]);
  });
});
