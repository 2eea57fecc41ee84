// decodeBatchColumns (the alert evaluator's decode of every stored batch) against the generated-decoder
// reference it must equal, in one process, in alternating rounds so both see the same machine load. Two
// inputs: the aggregation fixture's 1,000-reading batches (decimal-scaled values, the usual case) and
// batches of raw doubles. Prints one JSON line: ns per reading, best round of each (the least disturbed).
// Run: npx tsx scripts/bench/decode-columns.bench.ts (about half a minute). BENCH_ROUNDS (default 15).
import os from 'node:os';
import { decodeBatchColumns, decodeBatchColumnsReference, encodeBatch } from '../../proto/src/batch-codec.js';
import type { Reading } from '../../proto/src/index.js';
import { mulberry32 } from '../../shared/src/random/index.js';
import { buildFleet } from './support/aggregate-fixture.js';

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 15);

function doublesBatches(count: number): Uint8Array[] {
  const rnd = mulberry32(7);
  const out: Uint8Array[] = [];
  for (let b = 0; b < count; b++) {
    const readings: Reading[] = [];
    for (let i = 0; i < 1000; i++) {
      readings.push({ sensor: `s${i % 4}`, ts: 1_764_201_600_000 + b * 250_000 + i * 250 + Math.floor(rnd() * 4), value: rnd() * 100 });
    }
    out.push(encodeBatch({ deviceId: 'gw-001', streamId: new Uint8Array(16), seq: b + 1, clock: { synced: true, anchorWallMs: 1_764_201_600_000, anchorMonoMs: 1 }, readings }));
  }
  return out;
}

type Decode = (bytes: Uint8Array) => { readingCount: number };

/** Best of ROUNDS, ns per reading, for each decoder (rounds alternate between them). */
function race(payloads: readonly Uint8Array[], decoders: Record<string, Decode>): Record<string, number> {
  const best: Record<string, number> = {};
  let sink = 0;
  for (let round = 0; round < ROUNDS; round++) {
    for (const [name, decode] of Object.entries(decoders)) {
      let readings = 0;
      const t0 = process.hrtime.bigint();
      for (const p of payloads) readings += decode(p).readingCount;
      const ns = Number(process.hrtime.bigint() - t0) / readings;
      sink += readings;
      best[name] = Math.min(best[name] ?? Infinity, ns);
    }
  }
  if (sink === 0) throw new Error('no readings decoded');
  return Object.fromEntries(Object.entries(best).map(([k, v]) => [k, Number(v.toFixed(1))]));
}

const fixture = buildFleet(400_000).items.map((i) => i.payload);
const doubles = doublesBatches(200);
const decoders = { reference: decodeBatchColumnsReference, fast: decodeBatchColumns };
const scaled = race(fixture, decoders);
const raw = race(doubles, decoders);
process.stdout.write(
  `${JSON.stringify({
    bench: 'decode-columns',
    rounds: ROUNDS,
    fixture_batches: fixture.length,
    fixture_ns_per_reading_reference: scaled.reference,
    fixture_ns_per_reading_fast: scaled.fast,
    fixture_speedup: Number((scaled.reference! / scaled.fast!).toFixed(1)),
    doubles_batches: doubles.length,
    doubles_ns_per_reading_reference: raw.reference,
    doubles_ns_per_reading_fast: raw.fast,
    doubles_speedup: Number((raw.reference! / raw.fast!).toFixed(1)),
    load1: os.loadavg()[0],
  })}\n`,
);
