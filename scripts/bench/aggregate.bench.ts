// Aggregation, replay and query (issue 6), with PostgreSQL computing the same answer side by side.
// One JSON line per result on stdout. Run: npx tsx scripts/bench/aggregate.bench.ts
//   BENCH_READINGS   readings in the stream (default 4,000,000; the fleet is in support/aggregate-fixture.ts)
//   BENCH_QUERIES    timed API requests (default 300)      BENCH_PG_RUNS  timed PostgreSQL queries (default 100)
//   BENCH_PG_URL     default postgres://postgres@127.0.0.1:5432/test; "off" skips the PostgreSQL part
// Targets: aggregation >= 1M readings/s (three resolutions); replay >= 500k readings/s; a query of 1,440
// one-minute buckets p99 <= 50 ms. PostgreSQL computes from the raw rows on every query, Tidemark serves
// buckets it precomputed: the ratio is what precomputing buys, and the bucket-by-bucket check proves the
// answers agree.
import { existsSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { decodeBatch } from '../../proto/src/index.js';
import { createLogger, MetricsRegistry } from '../../shared/src/index.js';
import { Aggregator } from '../../cloud/src/aggregate/aggregator.js';
import { replay } from '../../cloud/src/aggregate/replay.js';
import { SqliteAggregateStore } from '../../cloud/src/aggregate/sqlite-aggregate-store.js';
import { ApiServer } from '../../cloud/src/api/server.js';
import { defaultCloudConfig } from '../../cloud/src/config.js';
import { SqliteDeviceRegistry } from '../../cloud/src/ingest/device-registry.js';
import { SqliteStreamStore } from '../../cloud/src/store/sqlite-stream-store.js';
import { buildFleet, DAY, DAY_MS, fillStream, QUERY_DEVICE, QUERY_SENSOR } from './support/aggregate-fixture.js';
import { compare, PgReference, WORK_MEM, type RefBucket } from './support/aggregate-postgres.js';
import { latencySummary, timed } from './support/aggregate-timing.js';

const TOTAL = Number(process.env.BENCH_READINGS ?? 4_000_000);
const QUERIES = Number(process.env.BENCH_QUERIES ?? 300);
const PG_RUNS = Number(process.env.BENCH_PG_RUNS ?? 100);
const PG_URL = process.env.BENCH_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
const TARGET = { aggregate: 1_000_000, replay: 500_000, queryP99Ms: 50 };

const round = (x: number, places = 3) => Number(x.toFixed(places));
const cpuSeconds = (u: NodeJS.CpuUsage) => (u.user + u.system) / 1e6;
/** A wrong answer (not a missed target) makes the run fail. */
function mustHold(ok: boolean, what: string): void {
  if (!ok) {
    process.exitCode = 1;
    console.error(`aggregate.bench: ${what}`);
  }
}
function emit(line: Record<string, unknown>): void {
  process.stdout.write(`${JSON.stringify(line)}\n`);
}

const logger = createLogger({ name: 'bench-aggregate', level: 'silent' });
const config = defaultCloudConfig({});
const resolutions = config.aggregation.resolutions;
const dir = mkdtempSync(join(os.tmpdir(), 'tidemark-bench-agg-'));
const files = { stream: join(dir, 'stream.db'), aggregates: join(dir, 'aggregates.db'), replayed: join(dir, 'replayed.db') };
const loadBefore = os.loadavg();

/** A SQLite database's size on disk, its write-ahead log included. */
const dbMb = (path: string) => round(((existsSync(path) ? statSync(path).size : 0) + (existsSync(`${path}-wal`) ? statSync(`${path}-wal`).size : 0)) / 1e6, 1);

/** Every bucket of one resolution in a Tidemark aggregate store, as the API would report it. */
function ourBuckets(path: string, resolution: string): RefBucket[] {
  const db = new Database(path, { readonly: true });
  try {
    return db
      .prepare<[string], { device: string; sensor: string; start: number; count: number; sum: number; min: number; max: number; mean: number; m2: number; first: number; last: number }>(
        'SELECT device, sensor, start, count, sum, min, max, mean, m2, first, last FROM buckets WHERE resolution = ? ORDER BY device, sensor, start',
      )
      .all(resolution)
      .map((b) => ({ ...b, avg: b.mean, stddev: Math.sqrt(Math.max(0, b.m2 / b.count)) }));
  } finally {
    db.close();
  }
}

/** Replay must reproduce the live aggregator's tables row for row. */
function identicalStores(a: string, b: string): { tables: Record<string, { rows: number; differing: number }>; identical: boolean } {
  const db = new Database(a, { readonly: true });
  try {
    db.prepare('ATTACH DATABASE ? AS other').run(b);
    const tables: Record<string, { rows: number; differing: number }> = {};
    for (const t of ['buckets', 'watermarks', 'sensors', 'unaggregated', 'checkpoints']) {
      const rows = (db.prepare(`SELECT count(*) AS n FROM main.${t}`).get() as { n: number }).n;
      const differing = (
        db.prepare(`SELECT (SELECT count(*) FROM (SELECT * FROM main.${t} EXCEPT SELECT * FROM other.${t})) +
                           (SELECT count(*) FROM (SELECT * FROM other.${t} EXCEPT SELECT * FROM main.${t})) AS n`).get() as { n: number }
      ).n;
      tables[t] = { rows, differing };
    }
    return { tables, identical: Object.values(tables).every((t) => t.differing === 0) };
  } finally {
    db.close();
  }
}

let pgRef: PgReference | undefined;
try {
  // ---- fixture -----------------------------------------------------------------------------------------
  let t = performance.now();
  const { plan, items } = buildFleet(TOTAL);
  const buildS = (performance.now() - t) / 1000;
  const stream = new SqliteStreamStore({ path: files.stream });
  await stream.start();
  t = performance.now();
  await fillStream(stream, items);
  const fillS = (performance.now() - t) / 1000;
  const payloadBytes = items.reduce((n, i) => n + i.payload.length, 0);
  emit({
    bench: 'aggregate-fixture',
    devices: 50,
    sensors_per_device: 4,
    rates_hz: [1, 2, 5, 10],
    readings: plan.totalReadings,
    batches: plan.batches,
    fleet_window_s: plan.fleetWindowS,
    query_device_span_h: 24,
    payload_bytes_per_reading: round(payloadBytes / plan.totalReadings),
    build_encode_s: round(buildS),
    stream_append_s: round(fillS),
    stream_db_mb: dbMb(files.stream),
    node: process.version,
    cpus: os.cpus().length,
    loadavg_at_start: loadBefore.map((x) => round(x, 2)),
  });

  // ---- 1. aggregation: the live aggregator's configuration (chunks of 500 records) ----------------------
  // Warm-up (a long-running aggregator is JIT-compiled): the first ~200k readings into a throwaway store.
  const warmStore = new SqliteAggregateStore(join(dir, 'warmup.db'));
  await warmStore.start();
  const aggOpts = { resolutions, allowedLatenessMs: config.aggregation.allowed_lateness, maxFutureSkewMs: config.ingest.max_future_skew };
  const warm = new Aggregator(stream, warmStore, { ...aggOpts, chunkRecords: 50 }, logger, new MetricsRegistry('warmup'));
  for (let i = 0; i < 4; i++) await warm.step();
  await warmStore.stop();
  const aggStore = new SqliteAggregateStore(files.aggregates);
  await aggStore.start();
  const timedStream = timed(stream, ['read']);
  const timedStore = timed(aggStore, ['getBuckets', 'getWatermarks', 'commit']);
  const aggregator = new Aggregator(
    timedStream.store,
    timedStore.store,
    aggOpts,
    logger,
    new MetricsRegistry('tidemark_cloud'),
  );
  let bucketsWritten = 0;
  aggregator.onUpdate((updates) => {
    bucketsWritten += updates.length;
  });
  let cpu = process.cpuUsage();
  t = performance.now();
  await aggregator.drain();
  const aggS = (performance.now() - t) / 1000;
  const aggCpuS = cpuSeconds(process.cpuUsage(cpu));
  // Decoding, measured on its own over the same payloads (the aggregator's CPU time = decode + fold).
  const payloads = items.map((i) => i.payload);
  t = performance.now();
  let decoded = 0;
  for (const p of payloads) decoded += decodeBatch(p, { validate: false }).readings.length;
  const decodeS = (performance.now() - t) / 1000;
  const spent = (k: string) => timedStream.times.ms[k] ?? timedStore.times.ms[k] ?? 0;
  const readMs = spent('read');
  const loadMs = spent('getBuckets') + spent('getWatermarks');
  const commitMs = spent('commit');
  const cpuS = aggS - (readMs + loadMs + commitMs) / 1000;
  const aggregatedReadings = ourBuckets(files.aggregates, '1d').reduce((n, b) => n + b.count, 0);
  const aggRate = plan.totalReadings / aggS;
  emit({
    bench: 'aggregate',
    resolutions: resolutions.map((r) => r.label),
    chunk_records: 500,
    readings: plan.totalReadings,
    aggregated: aggregatedReadings,
    seconds: round(aggS),
    readings_per_s: Math.round(aggRate),
    target: TARGET.aggregate,
    ok: aggRate >= TARGET.aggregate && aggregatedReadings === plan.totalReadings && decoded === plan.totalReadings,
    // Process CPU time (GC threads included): less sensitive than wall time to other work on the machine.
    cpu_s: round(aggCpuS),
    readings_per_cpu_s: Math.round(plan.totalReadings / aggCpuS),
    // decode is timed on its own over the same payloads; fold = the aggregator's own time minus that.
    split_s: {
      stream_read: round(readMs / 1000),
      decode: round(decodeS),
      fold: round(cpuS - decodeS),
      bucket_load: round(loadMs / 1000),
      store_commit: round(commitMs / 1000),
    },
    commits: timedStore.times.calls.commit ?? 0,
    buckets_written: bucketsWritten,
    aggregates_db_mb: dbMb(files.aggregates),
  });
  mustHold(aggregatedReadings === plan.totalReadings && decoded === plan.totalReadings, 'not every reading was aggregated');

  // ---- 2. replay: `tidemark-cloud replay` into a fresh store (its own chunking) --------------------------
  cpu = process.cpuUsage();
  const replayResult = await replay(defaultCloudConfig({ data_dir: dir }), { stream: files.stream, aggregates: files.replayed }, { logger });
  const replayCpuS = cpuSeconds(process.cpuUsage(cpu));
  const same = identicalStores(files.aggregates, files.replayed);
  const replayRate = plan.totalReadings / replayResult.seconds;
  emit({
    bench: 'replay',
    readings: plan.totalReadings,
    records: replayResult.records,
    seconds: round(replayResult.seconds),
    readings_per_s: Math.round(replayRate),
    target: TARGET.replay,
    cpu_s: round(replayCpuS),
    readings_per_cpu_s: Math.round(plan.totalReadings / replayCpuS),
    identical_to_live: same.identical,
    tables: same.tables,
    ok: replayRate >= TARGET.replay && same.identical,
  });
  mustHold(same.identical, 'replay differs from the live aggregates');

  // ---- 3. query: 1,440 one-minute buckets of one device/sensor over HTTP --------------------------------
  const registry = new SqliteDeviceRegistry(join(dir, 'devices.db'), logger);
  await registry.start();
  const api = new ApiServer({
    listen: { host: '127.0.0.1', port: 0 },
    resolutions,
    allowedLatenessMs: config.aggregation.allowed_lateness,
    maxPageSize: config.api.max_page_size,
    aggregates: aggStore,
    devices: registry,
    metrics: new MetricsRegistry('tidemark_cloud'),
    logger,
  });
  await api.start();
  const url =
    `http://127.0.0.1:${api.boundPort}/api/v1/aggregates?device=${QUERY_DEVICE}&sensor=${QUERY_SENSOR}&resolution=1m` +
    `&from=${new Date(DAY).toISOString()}&to=${new Date(DAY + DAY_MS).toISOString()}&limit=1440`;
  const bodies: string[] = [];
  const samples: number[] = [];
  for (let i = 0; i < 20 + QUERIES; i++) {
    const q0 = performance.now();
    const res = await fetch(url);
    const body = await res.text();
    const elapsed = performance.now() - q0;
    if (res.status !== 200) throw new Error(`GET ${url}: ${res.status} ${body.slice(0, 200)}`);
    if (i >= 20) {
      samples.push(elapsed);
      bodies.push(body);
    }
  }
  await api.stop();
  await registry.stop();
  // Checked after the clock stopped: every response has the whole day.
  const itemCounts = new Set(bodies.map((b) => (JSON.parse(b) as { items: unknown[] }).items.length));
  const apiItems = (JSON.parse(bodies[0]!) as { items: Array<{ start: string; count: number; sum: number; min: number; max: number; avg: number; stddev: number; first: number; last: number }> })
    .items;
  const ours: RefBucket[] = apiItems.map((b) => ({ device: QUERY_DEVICE, sensor: QUERY_SENSOR, ...b, start: Date.parse(b.start) }));
  // The same query without HTTP/JSON: what the store itself costs.
  const direct: number[] = [];
  for (let i = 0; i < 20 + QUERIES; i++) {
    const q0 = performance.now();
    await aggStore.queryBuckets({ device: QUERY_DEVICE, sensor: QUERY_SENSOR, resolution: '1m', from: DAY, to: DAY + DAY_MS, limit: 1441 });
    if (i >= 20) direct.push(performance.now() - q0);
  }
  const http = latencySummary(samples);
  emit({
    bench: 'query',
    what: 'GET /api/v1/aggregates, 1 device/sensor, resolution=1m, one UTC day (fetch from the same process, sequential, time to full body)',
    buckets_per_response: [...itemCounts],
    response_bytes: Buffer.byteLength(bodies[0]!),
    ...http,
    target_p99_ms: TARGET.queryP99Ms,
    ok: http.p99_ms <= TARGET.queryP99Ms && itemCounts.size === 1 && itemCounts.has(1440),
    store_only: latencySummary(direct),
  });
  mustHold(itemCounts.size === 1 && itemCounts.has(1440), 'a response did not hold 1,440 buckets');
  await stream.stop();

  // ---- 4. PostgreSQL: the same buckets from the raw rows, side by side ----------------------------------
  if (PG_URL === 'off') {
    emit({ bench: 'aggregate-postgres', skipped: 'BENCH_PG_URL=off' });
  } else {
    pgRef = await PgReference.connect(PG_URL);
    const readStream = new SqliteStreamStore({ path: files.stream, readonly: true });
    await readStream.start();
    const loaded = await pgRef.load(readStream);
    await readStream.stop();
    const plan1 = await pgRef.explain('1m', QUERY_DEVICE, QUERY_SENSOR, DAY, DAY + DAY_MS);
    const pgSamples: number[] = [];
    let pgAnswer: RefBucket[] = [];
    for (let i = 0; i < 3 + PG_RUNS; i++) {
      const q0 = performance.now();
      pgAnswer = await pgRef.range('1m', QUERY_DEVICE, QUERY_SENSOR, DAY, DAY + DAY_MS);
      if (i >= 3) pgSamples.push(performance.now() - q0);
    }
    const pgLat = latencySummary(pgSamples);
    // PostgreSQL's floor for this query: the same without first/last (the per-bucket ORDER BY sorts).
    const floorSamples: number[] = [];
    for (let i = 0; i < 3 + Math.ceil(PG_RUNS / 3); i++) {
      const q0 = performance.now();
      await pgRef.range('1m', QUERY_DEVICE, QUERY_SENSOR, DAY, DAY + DAY_MS, false);
      if (i >= 3) floorSamples.push(performance.now() - q0);
    }
    const check = compare(ours, pgAnswer);
    emit({
      bench: 'aggregate-postgres',
      what: 'same day of 1m buckets: PostgreSQL GROUP BY date_bin over raw rows (node-postgres, prepared) vs Tidemark GET /api/v1/aggregates',
      note: 'PostgreSQL aggregates the raw rows on every query; Tidemark serves buckets it precomputed while ingesting',
      postgres: await pgRef.serverVersion(),
      rows_loaded: loaded.rows,
      load_s: round(loaded.loadS),
      index_s: round(loaded.indexS),
      raw_rows_per_query: pgAnswer.reduce((n, b) => n + b.count, 0),
      setup: `UNLOGGED table, index (device, sensor, ts) INCLUDE (value), VACUUM ANALYZE, work_mem ${WORK_MEM}`,
      plan: plan1
        .split('\n')
        .map((l) => l.replace(/^\s*(->\s*)?/, '').replace(/\s*\(cost=.*$/, ''))
        .filter((l) => !l.includes(':'))
        .join(' <- '),
      postgres_latency: pgLat,
      postgres_without_first_last: latencySummary(floorSamples),
      tidemark_latency: { p50_ms: http.p50_ms, p95_ms: http.p95_ms, p99_ms: http.p99_ms },
      ratio_p50: round(pgLat.p50_ms / http.p50_ms, 2),
      ratio_p99: round(pgLat.p99_ms / http.p99_ms, 2),
      ratio_meaning: 'PostgreSQL latency / Tidemark latency (>1: Tidemark faster)',
      buckets_compared: check.buckets,
      mismatches: check.mismatches,
      max_rel_diff: check.maxRelDiff,
      examples: check.examples,
      ok: check.mismatches === 0 && ours.length === 1440,
    });
    mustHold(check.mismatches === 0, 'PostgreSQL and Tidemark disagree on the queried day');
    // The whole store against PostgreSQL, every resolution: same buckets, same numbers.
    for (const res of resolutions) {
      const r0 = performance.now();
      const theirs = await pgRef.all(res.label);
      const pgS = (performance.now() - r0) / 1000;
      const all = compare(ourBuckets(files.aggregates, res.label), theirs);
      emit({
        bench: 'aggregate-verify',
        resolution: res.label,
        buckets_compared: all.buckets,
        postgres_buckets: theirs.length,
        mismatches: all.mismatches,
        max_rel_diff: all.maxRelDiff,
        examples: all.examples,
        postgres_s: round(pgS),
        ok: all.mismatches === 0 && theirs.length === all.buckets,
      });
      mustHold(all.mismatches === 0, `PostgreSQL and Tidemark disagree on ${res.label} buckets`);
    }
  }
  await aggStore.stop();
  emit({ bench: 'aggregate-env', loadavg_at_end: os.loadavg().map((x) => round(x, 2)) });
} finally {
  await pgRef?.close();
  rmSync(dir, { recursive: true, force: true });
}
