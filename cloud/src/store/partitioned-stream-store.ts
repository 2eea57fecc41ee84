// A stream split into partitions by device (NATS JetStream: one stream per partition, each its own
// replicated log). Ingest appends through this router; the aggregator reads each partition on its own.
// A device always maps to the same partition, so its batches keep their order and its dedup state lives in
// one place. Changing the number of partitions would move devices (and break dedup): the backend refuses it.
import { startAll, stopAll } from '@tidemark/shared';
import type { AppendItem, AppendOutcome, DeadLetter, StreamAppender, StreamStore } from './stream-store.js';

/** FNV-1a (32-bit) of the device id's UTF-8 bytes, modulo the partition count: stable across processes. */
export function partitionOf(deviceId: string, partitions: number): number {
  if (partitions <= 1) return 0;
  let h = 0x811c9dc5;
  for (const byte of Buffer.from(deviceId, 'utf8')) {
    h ^= byte;
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h % partitions;
}

export class PartitionedStreamStore implements StreamAppender {
  readonly name = 'stream-store';

  constructor(
    readonly partitions: readonly StreamStore[],
    /** Runs after every partition stopped (or failed to start): e.g. closes a connection they share. */
    private readonly afterStop?: () => Promise<void>,
  ) {
    if (partitions.length === 0) throw new Error('a partitioned stream store needs at least one partition');
  }

  async start(): Promise<void> {
    try {
      await startAll(this.partitions);
    } catch (err) {
      await this.afterStop?.();
      throw err;
    }
  }

  /** The smallest limit of any partition (a batch may land in any of them). */
  get maxPayloadBytes(): number | undefined {
    const limits = this.partitions.map((p) => p.maxPayloadBytes).filter((n): n is number => n !== undefined);
    return limits.length === 0 ? undefined : Math.min(...limits);
  }

  async stop(): Promise<void> {
    try {
      await stopAll(this.partitions);
    } finally {
      await this.afterStop?.();
    }
  }

  /** Each partition's share in one call (concurrently); outcomes back in item order. */
  async append(items: readonly AppendItem[]): Promise<AppendOutcome[]> {
    const n = this.partitions.length;
    if (n === 1) return this.partitions[0]!.append(items);
    const byPartition = new Map<number, number[]>();
    items.forEach((item, i) => {
      const p = partitionOf(item.deviceId, n);
      let idx = byPartition.get(p);
      if (!idx) byPartition.set(p, (idx = []));
      idx.push(i);
    });
    const out = new Array<AppendOutcome>(items.length);
    await Promise.all(
      [...byPartition].map(async ([p, idx]) => {
        const outcomes = await this.partitions[p]!.append(idx.map((i) => items[i]!));
        idx.forEach((i, k) => (out[i] = outcomes[k]!));
      }),
    );
    return out;
  }

  deadLetter(entry: DeadLetter): Promise<void> {
    const p = entry.deviceId === null ? 0 : partitionOf(entry.deviceId, this.partitions.length);
    return this.partitions[p]!.deadLetter(entry);
  }
}
