// The aggregate store contract: bucket state, per-device watermarks, sensor catalogue and the aggregator's
// stream offset per stream partition. commit() writes all of them in ONE transaction, which is what makes a crash at any
// instant resume to the same result (exactly-once effect). SQLite now; PostgreSQL implements the same.
import { StorageError, type Component } from '@tidemark/shared';
import type { BucketStats } from './bucket-stats.js';

export interface BucketKey {
  device: string;
  sensor: string;
  /** Resolution label, e.g. "1m". */
  resolution: string;
  /** Bucket start, ms since epoch (UTC-aligned). */
  start: number;
}

export interface BucketRecord extends BucketKey {
  stats: BucketStats;
  /** Times a late reading (for a bucket already final) changed this bucket. */
  revision: number;
}

export interface SensorDelta {
  device: string;
  sensor: string;
  firstTs: number;
  lastTs: number;
  readings: number;
}

export interface AggregateCommit {
  /** The stream partition the folded records came from (0 when the stream has one). */
  partition?: number;
  /** The next offset to read from that partition after this commit. */
  offset: number;
  /**
   * Fencing: the partition's checkpoint this commit follows (where its records were read from). If the store's
   * checkpoint is no longer that — another writer committed: a second aggregator, or a replay swapped the
   * store in — the commit fails with a StorageError and changes nothing. Absent: no check.
   */
  expectedOffset?: number;
  buckets: BucketRecord[];
  watermarks: Map<string, number>;
  sensors: SensorDelta[];
  /** Readings not aggregated in this commit, by reason. */
  unaggregated: Map<string, number>;
}

export interface SensorRow {
  name: string;
  first_seen: string;
  last_seen: string;
  readings: number;
}

export interface BucketQuery {
  device: string;
  sensor: string;
  resolution: string;
  from: number;
  to: number;
  /** Exclusive lower bound on start for paging (the previous page's last start). */
  after?: number;
  limit: number;
}

export interface AggregateStore extends Component {
  /** The next offset to read from stream partition `partition` (default 0); 1 for a partition never read. */
  checkpoint(partition?: number): Promise<number>;
  /** Every partition's checkpoint that was ever committed (partitions never read are absent). */
  checkpoints(): Promise<Map<number, number>>;
  getBuckets(keys: readonly BucketKey[]): Promise<Map<string, BucketRecord>>;
  getWatermarks(devices: readonly string[]): Promise<Map<string, number>>;
  commit(c: AggregateCommit): Promise<void>;
  queryBuckets(q: BucketQuery): Promise<BucketRecord[]>;
  watermark(device: string): Promise<number | undefined>;
  sensors(device: string): Promise<SensorRow[]>;
  unaggregated(): Promise<Record<string, number>>;
  /**
   * Retention: deletes at most `limit` buckets of `resolution` that start before `startBefore` and returns how
   * many (the caller repeats while it gets `limit`, so one call never holds the store for long).
   */
  deleteBucketsBefore(resolution: string, startBefore: number, limit: number): Promise<number>;
}

/** The fencing failure of commit() (see AggregateCommit.expectedOffset). */
export function checkpointMoved(where: string, partition: number, expected: number, at: number): StorageError {
  return new StorageError(
    `${where}: partition ${partition}'s checkpoint is ${at}, not ${expected}: another writer committed (a second aggregator, or a replay); nothing was written`,
  );
}

export function bucketKey(k: BucketKey): string {
  return `${k.device}\u0000${k.sensor}\u0000${k.resolution}\u0000${k.start}`;
}
