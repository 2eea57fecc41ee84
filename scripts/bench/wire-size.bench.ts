// Wire size and codec throughput of tidemark.v1.Batch on the standard benchmark fixture (1,000 readings of
// one gateway). One JSON line per result on stdout. Run: npx tsx scripts/bench/wire-size.bench.ts
// SPEC target: <= 6 bytes per reading; JSON-per-reading (~70) is printed for comparison.
import { decodeBatch, encodeBatch, type Batch, type Reading } from '../../proto/src/index.js';
import { STANDARD_READINGS, standardBatchReadings } from '../../proto/src/fixtures/standard.js';

const TARGET_BYTES_PER_READING = 6;
const THROUGHPUT_SECONDS = 2;

function emit(line: Record<string, unknown>): void {
  process.stdout.write(`${JSON.stringify(line)}\n`);
}

function batchOf(readings: Reading[]): Batch {
  return {
    deviceId: 'press-07',
    streamId: Uint8Array.from({ length: 16 }, (_, i) => i * 17),
    seq: 123_456,
    clock: { synced: true, anchorWallMs: 1_741_939_195_000, anchorMonoMs: 86_400_123 },
    readings,
  };
}

const round = (x: number, places = 3) => Number(x.toFixed(places));

/** Runs fn repeatedly for about `seconds` (after a short warm-up); returns calls per second. */
function measure(fn: () => void, seconds: number): { calls: number; perSecond: number } {
  const warmUntil = performance.now() + 200;
  while (performance.now() < warmUntil) fn();
  const start = performance.now();
  const end = start + seconds * 1000;
  let calls = 0;
  while (performance.now() < end) {
    for (let i = 0; i < 10; i++) fn();
    calls += 10;
  }
  return { calls, perSecond: calls / ((performance.now() - start) / 1000) };
}

const readings = standardBatchReadings(1);
const batch = batchOf(readings);
const bytes = encodeBatch(batch);

emit({
  bench: 'wire-size',
  fixture: 'standard',
  encoding: 'protobuf',
  readings: readings.length,
  bytes: bytes.length,
  bytes_per_reading: round(bytes.length / readings.length),
  target: TARGET_BYTES_PER_READING,
  ok: bytes.length / readings.length <= TARGET_BYTES_PER_READING,
});

// What the same readings cost as one JSON object per reading (as an MQTT-per-reading design would send).
const json = readings.map((r) => JSON.stringify({ device: batch.deviceId, sensor: r.sensor, ts: r.ts, value: r.value }));
const jsonBytes = json.reduce((n, s) => n + Buffer.byteLength(s), 0);
emit({
  bench: 'wire-size',
  fixture: 'standard',
  encoding: 'json-per-reading',
  readings: readings.length,
  bytes: jsonBytes,
  bytes_per_reading: round(jsonBytes / readings.length),
});

// The fallback path: the same series with values that are not short decimals (raw packed doubles).
const unrounded = readings.map((r) => ({ ...r, value: r.value + Math.PI * 1e-7 }));
const unroundedBytes = encodeBatch(batchOf(unrounded)).length;
emit({
  bench: 'wire-size',
  fixture: 'standard-unrounded',
  encoding: 'protobuf',
  readings: unrounded.length,
  bytes: unroundedBytes,
  bytes_per_reading: round(unroundedBytes / unrounded.length),
});

const enc = measure(() => encodeBatch(batch), THROUGHPUT_SECONDS);
emit({
  bench: 'wire-encode',
  fixture: 'standard',
  batches: enc.calls,
  seconds: THROUGHPUT_SECONDS,
  batches_per_s: Math.round(enc.perSecond),
  readings_per_s: Math.round(enc.perSecond * STANDARD_READINGS),
});

const dec = measure(() => decodeBatch(bytes), THROUGHPUT_SECONDS);
emit({
  bench: 'wire-decode',
  fixture: 'standard',
  batches: dec.calls,
  seconds: THROUGHPUT_SECONDS,
  batches_per_s: Math.round(dec.perSecond),
  readings_per_s: Math.round(dec.perSecond * STANDARD_READINGS),
});
