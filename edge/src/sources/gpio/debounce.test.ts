import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Debouncer, type DebouncedEdge } from './debounce.js';
import type { GpioLevel } from './gpio-driver.js';

type Edge = { level: GpioLevel; ts: number };

/** Feeds edges in time order, waking up exactly when the debouncer asks (as the source's timer does). */
function runTimely(d: Debouncer, edges: readonly Edge[], endTs = Number.POSITIVE_INFINITY): DebouncedEdge[] {
  const out: DebouncedEdge[] = [];
  for (const e of edges) {
    const due = d.dueAt;
    if (due !== undefined && due <= e.ts) out.push(...d.flush(due));
    out.push(...d.edge(e.level, e.ts));
  }
  const due = d.dueAt;
  if (due !== undefined && due <= endTs) out.push(...d.flush(due));
  return out;
}

/**
 * The specification, computed offline from the whole input: every edge starts a run; a run that lasted at
 * least debounceMs (the last one lasts forever) and differs from the level reported so far is reported
 * with the time it began.
 */
function reference(debounceMs: number, initial: GpioLevel, edges: readonly Edge[]): DebouncedEdge[] {
  const out: DebouncedEdge[] = [];
  let stable = initial;
  for (let i = 0; i < edges.length; i++) {
    const e = edges[i]!;
    const next = edges[i + 1];
    const held = next === undefined || next.ts - e.ts >= debounceMs;
    if (held && e.level !== stable) {
      out.push({ level: e.level, tsMs: e.ts });
      stable = e.level;
    }
  }
  return out;
}

const level = fc.constantFrom<GpioLevel>(0, 1);
/** Edges in time order: small gaps (bounces) mixed with long ones, levels random (so duplicates occur). */
const edgeList = (maxGap: number) =>
  fc.array(fc.record({ gap: fc.nat({ max: maxGap }), level }), { maxLength: 60 }).map((steps) => {
    let ts = 1_000;
    return steps.map((s) => ({ level: s.level, ts: (ts += s.gap) }));
  });

describe('Debouncer', () => {
  it('reports a change once it held for debounceMs, stamped with the edge that began it', () => {
    const d = new Debouncer(10, 0, 0);
    expect(d.edge(1, 100)).toEqual([]);
    expect(d.dueAt).toBe(110);
    expect(d.flush(109)).toEqual([]);
    expect(d.flush(110)).toEqual([{ level: 1, tsMs: 100 }]);
    expect(d.level).toBe(1);
    expect(d.dueAt).toBeUndefined();
  });

  it('ignores a bouncing contact until it settles, then reports the start of the settled run', () => {
    const d = new Debouncer(10, 0, 0);
    const out = [...d.edge(1, 100), ...d.edge(0, 101), ...d.edge(1, 103), ...d.edge(0, 104), ...d.edge(1, 107)];
    expect(out).toEqual([]);
    expect(d.flush(116)).toEqual([]);
    expect(d.flush(117)).toEqual([{ level: 1, tsMs: 107 }]);
  });

  it('drops a glitch shorter than debounceMs entirely', () => {
    const d = new Debouncer(10, 0, 0);
    expect([...d.edge(1, 100), ...d.edge(0, 105)]).toEqual([]);
    expect(d.dueAt).toBeUndefined();
    expect(d.flush(1_000)).toEqual([]);
    expect(d.level).toBe(0);
  });

  it('an edge proves the pending level held when it comes late enough, even without a flush', () => {
    const d = new Debouncer(10, 0, 0);
    d.edge(1, 100);
    expect(d.edge(0, 110)).toEqual([{ level: 1, tsMs: 100 }]);
    expect(d.flush(120)).toEqual([{ level: 0, tsMs: 110 }]);
  });

  it('a repeated pending level restarts the stable run (the kernel saw a bounce in between)', () => {
    const d = new Debouncer(10, 0, 0);
    d.edge(1, 100);
    d.edge(1, 105);
    expect(d.flush(110)).toEqual([]);
    expect(d.flush(115)).toEqual([{ level: 1, tsMs: 105 }]);
    // A repeat of the reported level with nothing pending changes nothing.
    expect(d.edge(1, 200)).toEqual([]);
    expect(d.dueAt).toBeUndefined();
  });

  it('with debounceMs 0 reports every change at once and drops repeats', () => {
    const d = new Debouncer(0, 0, 0);
    expect(d.edge(1, 5)).toEqual([{ level: 1, tsMs: 5 }]);
    expect(d.edge(1, 6)).toEqual([]);
    expect(d.edge(0, 6)).toEqual([{ level: 0, tsMs: 6 }]);
    expect(d.dueAt).toBeUndefined();
  });

  it('keeps the spacing when an edge arrives after its pending level was already confirmed', () => {
    const d = new Debouncer(10, 0, 0);
    d.edge(1, 100);
    expect(d.flush(112)).toEqual([{ level: 1, tsMs: 100 }]);
    // Happened at 105 but delivered late: the line is at 0 after all, reported no earlier than 110.
    d.edge(0, 105);
    expect(d.flush(200)).toEqual([{ level: 0, tsMs: 110 }]);
  });

  it('treats an edge stamped before an earlier one as happening at the later time', () => {
    const d = new Debouncer(10, 0, 0);
    d.edge(1, 100);
    d.edge(0, 90);
    d.edge(1, 95);
    expect(d.flush(109)).toEqual([]);
    expect(d.flush(110)).toEqual([{ level: 1, tsMs: 100 }]);
  });

  it('rejects a negative debounce', () => {
    expect(() => new Debouncer(-1, 0)).toThrow(RangeError);
  });

  describe('properties (timely delivery)', () => {
    it('matches the offline specification', () => {
      fc.assert(
        fc.property(fc.nat({ max: 50 }), level, edgeList(80), (ms, initial, edges) => {
          expect(runTimely(new Debouncer(ms, initial, 0), edges)).toEqual(reference(ms, initial, edges));
        }),
        { numRuns: 500 },
      );
    });

    it('never reports two changes closer than debounceMs, never the same level twice, and ends at the settled level', () => {
      fc.assert(
        fc.property(fc.nat({ max: 50 }), level, edgeList(80), (ms, initial, edges) => {
          const d = new Debouncer(ms, initial, 0);
          const out = runTimely(d, edges);
          let prev: DebouncedEdge = { level: initial, tsMs: Number.NEGATIVE_INFINITY };
          for (const o of out) {
            expect(o.tsMs - prev.tsMs).toBeGreaterThanOrEqual(ms);
            expect(o.level).not.toBe(prev.level);
            prev = o;
          }
          // Once the input is quiet, the last level it settled at is the reported one.
          const settled = edges.length > 0 ? edges[edges.length - 1]!.level : initial;
          expect(prev.level).toBe(settled);
          expect(d.level).toBe(settled);
          expect(d.dueAt).toBeUndefined();
        }),
        { numRuns: 500 },
      );
    });

    it('every reported level really held for debounceMs from its timestamp', () => {
      fc.assert(
        fc.property(fc.integer({ min: 1, max: 50 }), level, edgeList(80), (ms, initial, edges) => {
          for (const o of runTimely(new Debouncer(ms, initial, 0), edges)) {
            const within = edges.filter((e) => e.ts > o.tsMs && e.ts < o.tsMs + ms);
            expect(within, `edges inside the window of ${JSON.stringify(o)}`).toEqual([]);
            expect(edges.some((e) => e.ts === o.tsMs && e.level === o.level)).toBe(true);
          }
        }),
        { numRuns: 300 },
      );
    });

    it('extra wake-ups at arbitrary later times change nothing', () => {
      fc.assert(
        fc.property(fc.nat({ max: 50 }), level, edgeList(80), fc.array(fc.nat({ max: 100 }), { maxLength: 60 }), (ms, initial, edges, extra) => {
          const d = new Debouncer(ms, initial, 0);
          const out: DebouncedEdge[] = [];
          edges.forEach((e, i) => {
            const due = d.dueAt;
            if (due !== undefined && due <= e.ts) out.push(...d.flush(due));
            // A spurious timer firing somewhere between the previous edge and this one.
            const prevTs = i > 0 ? edges[i - 1]!.ts : 0;
            const wake = prevTs + (extra[i] ?? 0);
            if (wake <= e.ts) out.push(...d.flush(wake));
            out.push(...d.edge(e.level, e.ts));
          });
          out.push(...d.flush(Number.MAX_SAFE_INTEGER));
          expect(out).toEqual(reference(ms, initial, edges));
        }),
        { numRuns: 300 },
      );
    });
  });

  it('properties hold with late and out-of-order delivery too (spacing, alternation, final level)', () => {
    // Wake-ups happen at arbitrary times, edges arrive with stamps up to 30 ms older than the latest one.
    const op = fc.oneof(
      fc.record({ kind: fc.constant('edge' as const), level, advance: fc.nat({ max: 40 }), lateBy: fc.nat({ max: 30 }) }),
      fc.record({ kind: fc.constant('wake' as const), advance: fc.nat({ max: 40 }) }),
    );
    fc.assert(
      fc.property(fc.nat({ max: 50 }), level, fc.array(op, { maxLength: 80 }), (ms, initial, ops) => {
        const d = new Debouncer(ms, initial, 0);
        const out: DebouncedEdge[] = [];
        let now = 1_000;
        let lastLevel = initial;
        for (const o of ops) {
          now += o.advance;
          if (o.kind === 'wake') out.push(...d.flush(now));
          else {
            out.push(...d.edge(o.level, now - o.lateBy));
            lastLevel = o.level;
          }
        }
        out.push(...d.flush(Number.MAX_SAFE_INTEGER));
        let prev: DebouncedEdge = { level: initial, tsMs: Number.NEGATIVE_INFINITY };
        for (const o of out) {
          expect(o.tsMs - prev.tsMs).toBeGreaterThanOrEqual(ms);
          expect(o.level).not.toBe(prev.level);
          expect(Number.isFinite(o.tsMs)).toBe(true);
          prev = o;
        }
        expect(prev.level).toBe(lastLevel);
      }),
      { numRuns: 500 },
    );
  });
});
