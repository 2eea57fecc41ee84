// The edge's hot path on one core: serial csv lines → parser → buffer group commit (WAL, synchronous=FULL)
// → seal into 1,000-reading batches (protobuf encode + insert). Then the footprint with 1M readings
// buffered (RSS, buffer bytes per reading). One JSON line per result. Run: npx tsx scripts/bench/edge-pipeline.bench.ts
// Targets (issue 4): >= 200k readings/s; RSS <= 80 MB with 1M readings buffered.
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { agentRss } from './support/agent-rss.js';
import { encodeBatch } from '../../proto/src/index.js';
import { SqliteBuffer, type BatchEncoder, type BufferedReading } from '../../edge/src/buffer/sqlite-buffer.js';
import { createParser } from '../../edge/src/sources/serial/parsers/index.js';

const TOTAL = Number(process.env.BENCH_READINGS ?? 1_000_000);
const COLUMNS = ['temp_c', 'pressure_kpa', 'rpm', 'flow_lpm'];
/** Readings per group commit: what 100 ms of a 200k readings/s source gives. */
const GROUP = 20_000;
const BATCH = 1_000;

function emit(line: Record<string, unknown>): void {
  process.stdout.write(`${JSON.stringify(line)}\n`);
}

/** Realistic serial text: 4 columns with 1–2 decimals, slowly varying. */
function makeLines(n: number): string[] {
  const out: string[] = [];
  for (let i = 0; i < n; i++) {
    const t = i / 10;
    out.push(`${(40 + 10 * Math.sin(t / 50)).toFixed(2)},${(101.3 + Math.sin(t / 7)).toFixed(1)},${1500 + (i % 37)},${(12.5 + (i % 11) / 10).toFixed(1)}`);
  }
  return out;
}

const dir = mkdtempSync(join(tmpdir(), 'tidemark-bench-edge-'));
try {
  const lines = makeLines(TOTAL / COLUMNS.length);
  const parse = createParser({ format: 'csv', columns: COLUMNS, delimiter: ',', skip_header: false });
  const buffer = SqliteBuffer.open({ path: join(dir, 'buffer.db'), deviceId: 'bench-01' });
  const encode: BatchEncoder = (seq, readings, synced) =>
    encodeBatch({
      deviceId: 'bench-01',
      streamId: buffer.streamId,
      seq,
      clock: { synced, anchorWallMs: 1_764_000_000_000, anchorMonoMs: 0 },
      readings: readings.map((r) => ({ sensor: r.sensor, ts: r.ts, value: r.value })),
    });

  const t0 = Date.now() - 3 * 86_400_000; // within max_age (7d) for the footprint stage
  const start = performance.now();
  let readings = 0;
  let parseMs = 0;
  let commitMs = 0;
  let pending: BufferedReading[] = [];
  for (let i = 0; i < lines.length; i++) {
    const p0 = performance.now();
    const res = parse(lines[i]!);
    if (!res.error) {
      for (const r of res.readings) pending.push({ sensor: r.sensor, ts: r.ts ?? t0 + i * 10, value: r.value, synced: true });
    }
    parseMs += performance.now() - p0;
    if (pending.length >= GROUP || i === lines.length - 1) {
      const c0 = performance.now();
      buffer.append(pending);
      // The agent's tick: group commit that seals full batches from memory.
      readings += buffer.commitAndSeal(BATCH, encode, t0).committed;
      pending = [];
      commitMs += performance.now() - c0;
    }
  }
  const s0 = performance.now();
  while (buffer.seal(BATCH, encode, t0)) {
    /* seal the tail */
  }
  const sealMs = performance.now() - s0;
  const seconds = (performance.now() - start) / 1000;
  emit({
    bench: 'edge-pipeline',
    stage: 'parse+commit+seal',
    readings,
    seconds: Number(seconds.toFixed(3)),
    readings_per_s: Math.round(readings / seconds),
    target_readings_per_s: 200_000,
    split_ms: { parse: Math.round(parseMs), commit_seal_encode: Math.round(commitMs), final_seal: Math.round(sealMs) },
  });

  const stats = buffer.stats();
  buffer.close();
  const files = ['buffer.db', 'buffer.db-wal'].map((f) => {
    try {
      return statSync(join(dir, f)).size;
    } catch {
      return 0;
    }
  });
  // RSS of the real agent (built bin, as systemd runs it) holding this 1M-reading buffer: uplink down, a
  // 10 Hz source running, measured after it settled. Readings are made recent enough to survive max_age.
  const measured = await agentRss(dir);
  emit({
    bench: 'edge-pipeline',
    stage: 'footprint',
    buffered_readings: stats.bufferedReadings,
    sealed_batches: stats.sealedBatches,
    agent_rss_mb: measured.rss_mb,
    agent_rss_peak_mb: measured.hwm_mb,
    agent_node_options: measured.nodeOptions,
    target_rss_mb: 80,
    db_bytes: files[0],
    wal_bytes: files[1],
    buffer_bytes_per_reading: Number((stats.fileBytes / stats.bufferedReadings).toFixed(2)),
  });
} finally {
  rmSync(dir, { recursive: true, force: true });
}
