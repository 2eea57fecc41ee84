// Shared reads must be invisible: whatever the interleaving of consumers, appends, trims, restarts at older
// checkpoints and evictions, a read returns exactly what the store returns for it. And the point of them:
// a consumer trailing another gets the same record objects, so each record is read and decoded once.
import path from 'node:path';
import fc from 'fast-check';
import { afterEach, describe, expect, it } from 'vitest';
import { append, batch, T0 } from '../aggregate/testing/aggregator-workload.js';
import { TestResources } from '../aggregate/testing/test-resources.js';
import { SqliteStreamStore } from '../store/sqlite-stream-store.js';
import type { StreamRecord } from '../store/stream-store.js';
import { recordColumns } from './reading-policy.js';
import { SharedReads } from './shared-reads.js';

const res = new TestResources('tidemark-shared-reads-');
afterEach(res.closeAll);

const view = (rs: readonly StreamRecord[]) => rs.map((r) => `${r.offset}:${r.deviceId}:${r.seq}:${Buffer.from(r.payload).toString('base64')}`);

type Op =
  | { kind: 'append'; n: number }
  | { kind: 'read'; consumer: number; limit: number }
  | { kind: 'together'; limit: number }
  | { kind: 'restart'; consumer: number; back: number }
  | { kind: 'probe'; back: number; limit: number }
  | { kind: 'trim' };

const op: fc.Arbitrary<Op> = fc.oneof(
  { weight: 3, arbitrary: fc.record({ kind: fc.constant('append' as const), n: fc.integer({ min: 1, max: 6 }) }) },
  { weight: 6, arbitrary: fc.record({ kind: fc.constant('read' as const), consumer: fc.integer({ min: 0, max: 2 }), limit: fc.integer({ min: 1, max: 7 }) }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('together' as const), limit: fc.integer({ min: 1, max: 7 }) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('restart' as const), consumer: fc.integer({ min: 0, max: 2 }), back: fc.integer({ min: 0, max: 12 }) }) },
  { weight: 3, arbitrary: fc.record({ kind: fc.constant('probe' as const), back: fc.integer({ min: 0, max: 20 }), limit: fc.integer({ min: 1, max: 25 }) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('trim' as const) }) },
);

describe('SharedReads', () => {
  it('returns exactly what the store returns, for any interleaving of consumers, appends, restarts, trims and evictions', async () => {
    const dir = await res.tempDir();
    let run = 0;
    await fc.assert(
      fc.asyncProperty(fc.array(op, { minLength: 1, maxLength: 60 }), fc.integer({ min: 0, max: 4000 }), async (ops, maxBytes) => {
        const stream = await res.started(new SqliteStreamStore({ path: path.join(dir, `s${run++}.db`) }));
        const shared = new SharedReads(maxBytes);
        const pos = [1, 1, 1];
        let appended = 0;
        let trimmedBelow = 1;
        for (const o of ops) {
          if (o.kind === 'append') {
            for (let i = 0; i < o.n; i++, appended++) await append(stream, batch(`gw-${appended % 3}`, [['v', T0 + appended, appended]]));
          } else if (o.kind === 'read') {
            const got = await shared.read(stream, pos[o.consumer]!, o.limit);
            expect(view(got)).toEqual(view(await stream.read(pos[o.consumer]!, o.limit)));
            if (got.length > 0) pos[o.consumer] = got[got.length - 1]!.offset + 1;
          } else if (o.kind === 'together') {
            // Every consumer reads at once (their reads interleave at the store's await).
            const got = await Promise.all(pos.map((p) => shared.read(stream, p, o.limit)));
            for (let c = 0; c < pos.length; c++) {
              expect(view(got[c]!)).toEqual(view(await stream.read(pos[c]!, o.limit)));
              if (got[c]!.length > 0) pos[c] = got[c]![got[c]!.length - 1]!.offset + 1;
            }
          } else if (o.kind === 'probe') {
            // A read anywhere a consumer could be (at or above the trim line), position unchanged.
            const at = Math.max(trimmedBelow, Math.max(...pos) - o.back);
            expect(view(await shared.read(stream, at, o.limit))).toEqual(view(await stream.read(at, o.limit)));
          } else if (o.kind === 'restart') {
            // Back to an older checkpoint, never below what retention trimmed (it trims below every checkpoint).
            pos[o.consumer] = Math.max(trimmedBelow, pos[o.consumer]! - o.back);
          } else {
            // Retention trims only below every consumer's position (store/retention.ts consumedBelow).
            trimmedBelow = Math.min(...pos);
            await stream.trim({ beforeReceivedMs: Date.now() + 1, belowOffset: trimmedBelow });
          }
        }
        await stream.stop();
      }),
      { numRuns: 200 },
    );
  });

  it('a consumer trailing another gets the same record objects: one store read and one decode for both', async () => {
    const dir = await res.tempDir();
    const stream = await res.started(new SqliteStreamStore({ path: path.join(dir, 'stream.db') }));
    for (let i = 0; i < 20; i++) await append(stream, batch(`gw-${i % 4}`, [['v', T0 + i, i], ['w', T0 + i, -i]]));
    const shared = new SharedReads();
    const lead = await shared.read(stream, 1, 8);
    const trail = await shared.read(stream, 3, 8);
    expect(lead.map((r) => r.offset)).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
    expect(trail.map((r) => r.offset)).toEqual([3, 4, 5, 6, 7, 8, 9, 10]);
    // Offsets 3–8 came from memory (the very objects the leader got), 9–10 from the store, which extended the tail.
    expect(trail.slice(0, 6).every((r, i) => r === lead[i + 2])).toBe(true);
    expect(shared.hits).toBe(6);
    expect(shared.misses).toBe(10);
    // The leader's next read (9…) is served from what the trailer read.
    const next = await shared.read(stream, 9, 4);
    expect(next[0]).toBe(trail[6]);
    expect(next.map((r) => r.offset)).toEqual([9, 10, 11, 12]);
    // Decoded once per record object.
    expect(recordColumns(trail[0]!)).toBe(recordColumns(lead[2]!));
    expect(recordColumns(lead[2]!)!.series.map((s) => s.sensor)).toEqual(['v', 'w']);
  });

  it('stays within its memory budget: evicted records are read from the store again', async () => {
    const dir = await res.tempDir();
    const stream = await res.started(new SqliteStreamStore({ path: path.join(dir, 'stream.db') }));
    for (let i = 0; i < 30; i++) await append(stream, batch('gw-1', [['v', T0 + i, i]]));
    const size = (await stream.read(1, 1))[0]!.payload.byteLength * 5;
    const shared = new SharedReads(size * 5);
    await shared.read(stream, 1, 30);
    const misses = shared.misses;
    // Only the newest five are kept: offset 26 is a hit, 20 is not.
    expect((await shared.read(stream, 26, 5)).map((r) => r.offset)).toEqual([26, 27, 28, 29, 30]);
    expect(shared.misses).toBe(misses);
    expect((await shared.read(stream, 20, 2)).map((r) => r.offset)).toEqual([20, 21]);
    expect(shared.misses).toBe(misses + 2);
  });
});
