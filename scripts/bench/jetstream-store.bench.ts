// The JetStream stream store (one partition = one stream) on private nats-servers: append throughput with
// realistic batches (the standard 1,000-reading fixture, ~3.2 KB protobuf) in the ingestor's group sizes,
// sequential reads in the aggregator's chunk sizes, and the dedup rebuild a restart pays. Replicas 1 on one
// server, then replicas 3 on a local 3-node cluster. One JSON line per result on stdout.
// Run: npm run bench -- jetstream   (or npx tsx scripts/bench/jetstream-store.bench.ts)
//   BENCH_RECORDS  records appended at group 500 (default 40,000 = 40M readings); smaller groups append a
//                  share of it, replicas 3 half          BENCH_DEVICES  distinct devices (default 1,000)
//   BENCH_REPLICAS comma list of 1 and/or 3 (default "1,3")
// 2 cores: nats-server(s) and this process share them, so these are the store's figures on this machine,
// not JetStream's ceiling.
import { performance } from 'node:perf_hooks';
import { encodeBatch } from '../../proto/src/index.js';
import { standardBatchReadings } from '../../proto/src/fixtures/standard.js';
import { reapAll, removeTempDirs, startNatsCluster, startNatsServer } from '@tidemark/shared/testing';
import { JetStreamStreamStore } from '../../cloud/src/store/jetstream/jetstream-stream-store.js';
import type { AppendItem } from '../../cloud/src/store/stream-store.js';

const RECORDS = Number(process.env.BENCH_RECORDS ?? 40_000);
const DEVICES = Number(process.env.BENCH_DEVICES ?? 1_000);
const REPLICAS = (process.env.BENCH_REPLICAS ?? '1,3').split(',').map(Number);
const GROUPS = [1, 20, 100, 500];
/** Small groups are slow per record: they append a share of BENCH_RECORDS (replicas 3: half of that). */
const SHARE: Record<number, number> = { 1: 1 / 40, 20: 1 / 8, 100: 1 / 2, 500: 1 };
const READ_CHUNKS = [500, 2000];

const round = (x: number, places = 3) => Number(x.toFixed(places));
function emit(line: Record<string, unknown>): void {
  process.stdout.write(`${JSON.stringify(line)}\n`);
}

const readings = standardBatchReadings(1);
const payload = encodeBatch({
  deviceId: 'press-07',
  streamId: new Uint8Array(16).fill(7),
  seq: 1,
  clock: { synced: true, anchorWallMs: 1_741_939_195_000, anchorMonoMs: 86_400_123 },
  readings,
});
const streamIds = Array.from({ length: DEVICES }, (_, d) => Uint8Array.from({ length: 16 }, (_, i) => (d * 31 + i * 7) & 0xff));

/** Round-robin over devices, each device's seqs ascending: what a fleet sending in order looks like. */
function makeItems(count: number, seqBase: number): AppendItem[] {
  return Array.from({ length: count }, (_, i) => {
    const d = i % DEVICES;
    const seq = seqBase + Math.floor(i / DEVICES) + 1;
    return { deviceId: `dev-${d}`, streamId: streamIds[d]!, seq, receivedMs: Date.now(), readings: readings.length, lowWaterSeq: seq, payload };
  });
}

function percentile(sorted: number[], p: number): number {
  return sorted.length === 0 ? 0 : sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

async function benchAppend(servers: string[], replicas: number, group: number): Promise<string> {
  const stream = `bench_r${replicas}_g${group}`;
  const store = new JetStreamStreamStore({ servers, stream, replicas, snapshotIntervalMs: 3_600_000 });
  await store.start();
  const records = Math.max(group * 20, Math.round(RECORDS * SHARE[group]! * (replicas > 1 ? 0.5 : 1)));
  const items = makeItems(records, 0);
  const latencies: number[] = [];
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  for (let i = 0; i < items.length; i += group) {
    const s = performance.now();
    const out = await store.append(items.slice(i, i + group));
    latencies.push(performance.now() - s);
    if (out.some((o) => o !== 'ok')) throw new Error(`unexpected outcome in group at ${i}`);
  }
  const seconds = (performance.now() - t0) / 1000;
  const cpu = process.cpuUsage(cpu0);
  latencies.sort((a, b) => a - b);
  emit({
    bench: 'jetstream-store',
    phase: 'append',
    replicas,
    group,
    records,
    payload_bytes: payload.length,
    readings: records * readings.length,
    seconds: round(seconds),
    records_per_s: Math.round(records / seconds),
    readings_per_s: Math.round((records * readings.length) / seconds),
    mb_per_s: round((records * payload.length) / seconds / 1e6, 1),
    append_p50_ms: round(percentile(latencies, 50)),
    append_p99_ms: round(percentile(latencies, 99)),
    client_cpu_s: round((cpu.user + cpu.system) / 1e6),
  });
  await store.stop();
  return stream;
}

async function benchRead(servers: string[], replicas: number, stream: string): Promise<void> {
  for (const chunk of READ_CHUNKS) {
    const store = new JetStreamStreamStore({ servers, stream, replicas });
    await store.start();
    const end = await store.endOffset();
    const t0 = performance.now();
    let n = 0;
    for (let from = 1; from < end; ) {
      const got = await store.read(from, chunk);
      if (got.length === 0) throw new Error(`read stalled at ${from}`);
      n += got.length;
      from = got.at(-1)!.offset + 1;
    }
    const seconds = (performance.now() - t0) / 1000;
    emit({
      bench: 'jetstream-store',
      phase: 'read',
      replicas,
      chunk,
      records: n,
      seconds: round(seconds),
      records_per_s: Math.round(n / seconds),
      readings_per_s: Math.round((n * readings.length) / seconds),
      mb_per_s: round((n * payload.length) / seconds / 1e6, 1),
    });
    await store.stop();
  }
}

/** A start that must rebuild dedup from the stream's headers alone (no snapshot): the worst restart. */
async function benchRebuild(servers: string[], replicas: number, stream: string): Promise<void> {
  const { connect } = await import('nats');
  const nc = await connect({ servers });
  const jsm = await nc.jetstreamManager();
  await jsm.streams.purge(`KV_${stream}_DEDUP`);
  await nc.close();
  const store = new JetStreamStreamStore({ servers, stream, replicas, snapshotIntervalMs: 3_600_000 });
  const t0 = performance.now();
  await store.start();
  const seconds = (performance.now() - t0) / 1000;
  const { lastSeq, identities } = store.stats;
  emit({
    bench: 'jetstream-store',
    phase: 'rebuild-from-stream',
    replicas,
    records: lastSeq,
    identities,
    seconds: round(seconds),
    records_per_s: Math.round(lastSeq / seconds),
  });
  await store.stop();
}

async function main(): Promise<void> {
  for (const replicas of REPLICAS) {
    let servers: string[];
    if (replicas === 1) servers = [(await startNatsServer()).url];
    else servers = (await startNatsCluster({ size: replicas })).urls;
    let largest = '';
    for (const group of GROUPS) largest = await benchAppend(servers, replicas, group);
    await benchRead(servers, replicas, largest);
    await benchRebuild(servers, replicas, largest);
    await reapAll();
  }
}

main()
  .catch((err) => {
    console.error(err);
    process.exitCode = 1;
  })
  .finally(async () => {
    await reapAll();
    await removeTempDirs();
  });
