// Independent checks over what the collector stored: read the stream store's raw batches straight from
// SQLite (or JetStream, through a read-only store), decode them with the wire codec, and compare with the aggregates the API serves.
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { expect } from 'vitest';
import { decodeBatch, streamIdToHex } from '@tidemark/proto';
import { openStreamStore } from '../../cloud/src/store/open-stream-store.js';
import { waitFor } from '@tidemark/shared/testing';

export interface StoredReading {
  device: string;
  stream: string;
  seq: number;
  sensor: string;
  ts: number;
  value: number;
}

/** Every reading in the collector's stream store, in stream order. */
export function readStream(cloudDataDir: string): StoredReading[] {
  const db = new Database(join(cloudDataDir, 'stream.db'), { readonly: true, fileMustExist: true });
  try {
    const out: StoredReading[] = [];
    const rows = db.prepare('SELECT device, stream_id, seq, payload FROM stream ORDER BY offset').all() as {
      device: string;
      stream_id: Buffer;
      seq: number;
      payload: Buffer;
    }[];
    const identities = new Set<string>();
    for (const row of rows) {
      const id = `${row.device}/${streamIdToHex(row.stream_id)}/${row.seq}`;
      expect(identities.has(id), `batch ${id} stored twice`).toBe(false);
      identities.add(id);
      const batch = decodeBatch(new Uint8Array(row.payload));
      for (const r of batch.readings) out.push({ device: row.device, stream: streamIdToHex(row.stream_id), seq: row.seq, ...r });
    }
    return out;
  } finally {
    db.close();
  }
}

/** Every reading in a JetStream stream store (all partitions, each in stream order), read-only. */
export async function readJetStream(store: { servers: string[]; stream: string; partitions: number; replicas?: number }): Promise<StoredReading[]> {
  const stream = openStreamStore({ type: 'jetstream', replicas: 1, retention: 86_400_000, ...store }, { sqlitePath: '', readOnly: true });
  await stream.start();
  try {
    const out: StoredReading[] = [];
    const identities = new Set<string>();
    for (const partition of stream.partitions) {
      // Up to the end as the leader knows it: a read served by a replica still catching up can come back short.
      const end = await partition.endOffset();
      for (let from = 1; from < end; ) {
        const records = await waitFor(async () => {
          const got = await partition.read(from, 500);
          return got.length > 0 ? got : undefined;
        }, { timeoutMs: 30_000, intervalMs: 200, description: `records from offset ${from} (stream end ${end})` });
        for (const r of records) {
          const id = `${r.deviceId}/${streamIdToHex(r.streamId)}/${r.seq}`;
          expect(identities.has(id), `batch ${id} stored twice`).toBe(false);
          identities.add(id);
          for (const x of decodeBatch(r.payload).readings) out.push({ device: r.deviceId, stream: streamIdToHex(r.streamId), seq: r.seq, ...x });
        }
        from = records[records.length - 1]!.offset + 1;
      }
    }
    return out;
  } finally {
    await stream.stop();
  }
}

/** Asserts no (device, sensor, ts) appears twice: a duplicate would be a double-counted reading. */
export function expectNoDuplicateReadings(readings: readonly StoredReading[]): void {
  const seen = new Set<string>();
  for (const r of readings) {
    const key = `${r.device}/${r.sensor}/${r.ts}`;
    expect(seen.has(key), `reading ${key} stored twice`).toBe(false);
    seen.add(key);
  }
}

/**
 * Splits one sensor's timestamps into runs on a fixed tick grid and asserts each run is gap-free: a
 * simulated source ticks every `stepMs`, so a gap inside a run is a lost reading. Runs start when the
 * agent (re)started, which re-anchors the grid. Returns the runs as [first, last] pairs.
 */
export function expectContiguousRuns(timestamps: number[], stepMs: number, maxRuns: number): [number, number][] {
  const ts = [...timestamps].sort((a, b) => a - b);
  const runs: [number, number][] = [];
  for (const t of ts) {
    const last = runs[runs.length - 1];
    if (last && t - last[1] === stepMs) last[1] = t;
    else runs.push([t, t]);
  }
  expect(runs.length, `readings fall into ${runs.length} runs (gaps inside a run mean lost readings): ${JSON.stringify(runs.slice(0, 5))}`).toBeLessThanOrEqual(maxRuns);
  return runs;
}

export interface ApiBucket {
  start: string;
  count: number;
  sum: number;
  min: number;
  max: number;
  first: number;
  last: number;
}

/** Compares 1m buckets from the API (count, sum, min, max, first, last) with buckets computed here from the raw stored readings. */
export function expectBucketsMatch(buckets: readonly ApiBucket[], readings: readonly StoredReading[], resolutionMs = 60_000): void {
  const expected = new Map<number, { count: number; sum: number; min: number; max: number; firstTs: number; first: number; lastTs: number; last: number }>();
  for (const r of readings) {
    const start = r.ts - (r.ts % resolutionMs);
    const e = expected.get(start) ?? { count: 0, sum: 0, min: Infinity, max: -Infinity, firstTs: Infinity, first: NaN, lastTs: -Infinity, last: NaN };
    e.count++;
    e.sum += r.value;
    e.min = Math.min(e.min, r.value);
    e.max = Math.max(e.max, r.value);
    // first/last by event time, whatever order the readings were stored in.
    if (r.ts < e.firstTs) [e.firstTs, e.first] = [r.ts, r.value];
    if (r.ts > e.lastTs) [e.lastTs, e.last] = [r.ts, r.value];
    expected.set(start, e);
  }
  expect(buckets.map((b) => Date.parse(b.start)).sort((a, b) => a - b)).toEqual([...expected.keys()].sort((a, b) => a - b));
  for (const b of buckets) {
    const e = expected.get(Date.parse(b.start))!;
    expect({ count: b.count, min: b.min, max: b.max, first: b.first, last: b.last }).toEqual({ count: e.count, min: e.min, max: e.max, first: e.first, last: e.last });
    expect(b.sum).toBeCloseTo(e.sum, 6);
  }
}
