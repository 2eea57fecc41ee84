import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { PartitionedStreamStore, partitionOf } from './partitioned-stream-store.js';
import { SqliteStreamStore } from './sqlite-stream-store.js';
import { item } from './stream-store.contract.js';

const dirs: string[] = [];
const stores: PartitionedStreamStore[] = [];
afterEach(async () => {
  for (const s of stores.splice(0)) await s.stop();
  for (const d of dirs.splice(0)) await fs.rm(d, { recursive: true, force: true });
});

async function partitioned(n: number): Promise<PartitionedStreamStore> {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'tidemark-parts-'));
  dirs.push(dir);
  const s = new PartitionedStreamStore(Array.from({ length: n }, (_, p) => new SqliteStreamStore({ path: path.join(dir, `p${p}.db`) })));
  await s.start();
  stores.push(s);
  return s;
}

describe('partitionOf', () => {
  it('is FNV-1a of the UTF-8 device id: fixed values, so every process and version agrees', () => {
    // FNV-1a 32 of "a" is 0xe40c292c (the algorithm's published test vector).
    expect(partitionOf('press-07', 1)).toBe(0);
    expect([1, 2, 3, 8, 16].map((n) => partitionOf('a', n))).toEqual([0, 0xe40c292c % 2, 0xe40c292c % 3, 0xe40c292c % 8, 0xe40c292c % 16]);
  });

  it('spreads devices over the partitions', () => {
    const counts = new Array<number>(8).fill(0);
    for (let i = 0; i < 8000; i++) counts[partitionOf(`gw-${i}`, 8)]! += 1;
    for (const c of counts) expect(c).toBeGreaterThan(800);
  });
});

describe('PartitionedStreamStore', () => {
  it('routes each device to its partition, keeps outcomes in item order, and dedups per device stream', async () => {
    const s = await partitioned(3);
    const devices = ['press-07', 'van.3', 'gw_1', 'oven-02', 'a', 'b'];
    const items = devices.flatMap((d) => [item(d, 1, 1), item(d, 1, 2)]);
    expect(await s.append(items)).toEqual(items.map(() => 'ok'));
    // Again, interleaved with new seqs: duplicates where seen, ok where new, in the order given.
    const again = [item('van.3', 1, 2), item('a', 1, 3), item('press-07', 1, 1), item('b', 1, 9)];
    expect(await s.append(again)).toEqual(['duplicate', 'ok', 'duplicate', 'ok']);
    for (const [p, store] of s.partitions.entries()) {
      const records = await store.read(1, 100);
      for (const r of records) expect(partitionOf(r.deviceId, 3)).toBe(p);
    }
    const total = (await Promise.all(s.partitions.map((p) => p.read(1, 100)))).reduce((n, r) => n + r.length, 0);
    expect(total).toBe(items.length + 2);
  });
});
