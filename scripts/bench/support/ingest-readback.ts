// Reads back what the collector stored after an ingest benchmark run, for the exactly-once verdict: the
// SQLite log straight from stream.db, or every JetStream partition through the product's read-only store
// (the way the aggregator reads it) plus the server's own stream counts. Both give the same summary.
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { connect } from 'nats';
import { decodeBatch, streamIdToHex } from '@tidemark/proto';
import type { CloudConfig } from '../../../cloud/src/config.js';
import { openStreamStore, partitionStreamName } from '../../../cloud/src/store/open-stream-store.js';
import { partitionOf } from '../../../cloud/src/store/partitioned-stream-store.js';

export interface ReadBack {
  /** Records (batches) in the store. */
  rows: number;
  readings: number;
  /** Per (device, stream id): records, distinct seqs, lowest and highest seq. */
  perStream: { n: number; u: number; lo: number; hi: number }[];
  deadLetters: number;
  /** Backend-specific checks that failed (empty when all hold). */
  problems: string[];
  /** JetStream: records per partition, in partition order. */
  partitionRecords?: number[];
}

export function readBackSqlite(dataDir: string): ReadBack {
  const db = new Database(join(dataDir, 'stream.db'), { readonly: true, fileMustExist: true });
  try {
    const totals = db.prepare('SELECT count(*) AS n, coalesce(sum(readings), 0) AS r FROM stream').get() as { n: number; r: number };
    const perStream = db
      .prepare('SELECT count(*) AS n, count(DISTINCT seq) AS u, min(seq) AS lo, max(seq) AS hi FROM stream GROUP BY device, stream_id')
      .all() as { n: number; u: number; lo: number; hi: number }[];
    const deadLetters = (db.prepare('SELECT count(*) AS n FROM dead_letters').get() as { n: number }).n;
    return { rows: totals.n, readings: totals.r, perStream, deadLetters, problems: [] };
  } finally {
    db.close();
  }
}

type JetStreamConfig = Extract<CloudConfig['store'], { type: 'jetstream' }>;

/**
 * Every partition read from offset 1 in pages of 500 through `openStreamStore(…, { readOnly: true })`. Each
 * payload is decoded: its identity must match the record's and its readings are counted from the batch
 * itself. Also checked: offsets dense from 1, every device in the partition its FNV-1a hash names, the
 * server's message count equal to what was read; dead letters are the `<partition>_DLQ` streams' messages.
 */
export async function readBackJetStream(config: JetStreamConfig): Promise<ReadBack> {
  const problems: string[] = [];
  const problem = (p: string) => {
    if (problems.length < 10) problems.push(p);
  };
  const streams = new Map<string, { n: number; seqs: Set<number>; lo: number; hi: number }>();
  const partitionRecords: number[] = [];
  let rows = 0;
  let readings = 0;
  const store = openStreamStore(config, { sqlitePath: '', readOnly: true });
  await store.start();
  try {
    for (const [k, partition] of store.partitions.entries()) {
      let records = 0;
      for (let from = 1; ; ) {
        const page = await partition.read(from, 500);
        if (page.length === 0) break;
        for (const r of page) {
          if (r.offset !== from) problem(`partition ${k}: offset ${r.offset} where ${from} was expected`);
          from = r.offset + 1;
          records++;
          const hex = streamIdToHex(r.streamId);
          const batch = decodeBatch(r.payload);
          if (batch.deviceId !== r.deviceId || batch.seq !== r.seq || streamIdToHex(batch.streamId) !== hex) {
            problem(`partition ${k} offset ${r.offset}: record says ${r.deviceId}/${hex}/${r.seq}, payload ${batch.deviceId}/${streamIdToHex(batch.streamId)}/${batch.seq}`);
          }
          if (partitionOf(r.deviceId, store.partitions.length) !== k) problem(`device ${r.deviceId} found in partition ${k}`);
          readings += batch.readings.length;
          const key = `${r.deviceId}/${hex}`;
          let s = streams.get(key);
          if (!s) streams.set(key, (s = { n: 0, seqs: new Set(), lo: Infinity, hi: -Infinity }));
          s.n++;
          s.seqs.add(r.seq);
          s.lo = Math.min(s.lo, r.seq);
          s.hi = Math.max(s.hi, r.seq);
        }
      }
      partitionRecords.push(records);
      rows += records;
    }
  } finally {
    await store.stop();
  }

  // The server's own view: records per partition stream (nothing was trimmed) and the dead-letter streams.
  let deadLetters = 0;
  const nc = await connect({ servers: config.servers, timeout: 5_000 });
  try {
    const jsm = await nc.jetstreamManager();
    for (let k = 0; k < config.partitions; k++) {
      const name = partitionStreamName(config.stream, k, config.partitions);
      const info = await jsm.streams.info(name);
      if (info.state.messages !== partitionRecords[k] || (info.state.messages > 0 && info.state.first_seq !== 1)) {
        problem(`stream ${name}: server holds ${info.state.messages} messages from seq ${info.state.first_seq}, ${partitionRecords[k]} read`);
      }
      deadLetters += (await jsm.streams.info(`${name}_DLQ`)).state.messages;
    }
  } finally {
    await nc.close();
  }
  const perStream = [...streams.values()].map((s) => ({ n: s.n, u: s.seqs.size, lo: s.lo, hi: s.hi }));
  return { rows, readings, perStream, deadLetters, problems, partitionRecords };
}
