// encodeBatch (the hand-written encoder, proto/src/column-encoder.ts) against encodeBatchReference
// (protobufjs), both validating first, on two batch shapes: the edge agent's (10 csv columns x 25 lines = 250
// readings, values with 0-3 decimals, 100 lines/s) and the standard 1,000-reading fixture. Three modes:
// - cold: the first CALLS calls in a fresh process (PROCESSES processes per encoder and shape, alternating),
//   every call on a new batch. What an agent sealing a few batches a second mostly runs: unoptimised code.
// - spaced: calls 250 ms apart in a fresh process (the agent's seal cadence, at which BENCHMARKS.md measured
//   a 406 µs median); edge shape only, the median of the last half. BENCH_SPACED=0 skips it.
// - warm: after 2,000 calls, best of ROUNDS timed loops (alternating encoders).
// Every mode runs in a child process, in plain node, on the BUILT code (proto/dist, as the agent runs it):
// with tsx's loader hooks in the process, cold code measured 2-4x slower here for both encoders. The
// benchmark brings proto/dist up to date first (tsc -b).
// Prints one JSON line per shape and mode: µs per batch for each encoder (cold/spaced: median wall time of
// the timed calls, and median process CPU time, which a loaded machine inflates less but which includes the
// JIT's background compiles), and the 1-minute load average (2 shared cores: other work skews every timing).
// Run: npx tsx scripts/bench/encode-batch.bench.ts (about 1.5 minutes).
// BENCH_ROUNDS (default 15), BENCH_COLD_PROCESSES (default 9), BENCH_COLD_CALLS (default 20).
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { encodeBatch, encodeBatchReference } from '../../proto/src/batch-codec.js';
import { STANDARD_START_MS, standardBatchReadings } from '../../proto/src/fixtures/standard.js';
import type { Batch, Reading } from '../../proto/src/index.js';
import { mulberry32 } from '../../shared/src/random/index.js';

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 15);
const PROCESSES = Number(process.env.BENCH_COLD_PROCESSES ?? 9);
const CALLS = Number(process.env.BENCH_COLD_CALLS ?? 20);
const SPACED = process.env.BENCH_SPACED !== '0';
const SPACED_PROCESSES = 2;
const SPACED_CALLS = 40;
const SPACING_MS = 250;

const ENCODERS = { reference: encodeBatchReference, fast: encodeBatch } as const;
type EncoderName = keyof typeof ENCODERS;
type Shape = 'edge-250' | 'standard-1000';

const PROTO = fileURLToPath(new URL('../../proto/', import.meta.url));
const DIST = join(PROTO, 'dist');

const COLUMNS = ['temp_c', 'pressure_kpa', 'rpm', 'flow_lpm', 'voltage', 'current_a', 'humidity', 'vibration', 'level_mm', 'torque_nm'];
const DECIMALS = [2, 1, 0, 1, 3, 2, 1, 3, 1, 2];

/** Batch `i` of a shape: each call encodes a different batch, as the agent does. */
function makeBatch(shape: Shape, i: number): Batch {
  const head = { deviceId: 'gw-001', streamId: Uint8Array.from({ length: 16 }, (_, k) => k * 17), seq: i + 1, clock: { synced: true, anchorWallMs: STANDARD_START_MS, anchorMonoMs: 86_400_123 } };
  if (shape === 'standard-1000') return { ...head, readings: standardBatchReadings(i + 1) };
  // 25 csv lines at 100 lines/s (stamped on arrival: +-2 ms jitter), 10 slowly varying columns printed
  // with fixed precision (rpm as an integer), in the order the agent buffers them: line by line.
  const rnd = mulberry32(i + 1);
  const readings: Reading[] = [];
  for (let line = 0; line < 25; line++) {
    const n = i * 25 + line;
    const ts = STANDARD_START_MS + n * 10 + Math.floor(rnd() * 5) - 2;
    for (let c = 0; c < COLUMNS.length; c++) {
      const v = 10 * (c + 1) + 5 * Math.sin(n / (40 + c * 7)) + (rnd() - 0.5) * 0.05 * (c + 1);
      readings.push({ sensor: COLUMNS[c]!, ts, value: Number(v.toFixed(DECIMALS[c]!)) });
    }
  }
  return { ...head, readings };
}

const median = (xs: readonly number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};
const round1 = (x: number): number => Number(x.toFixed(1));

/**
 * The child (plain node, ES module from -e), on the batches of a JSON file and the built batch-codec.js.
 * Mode `calls`: one encoder, calls `arg` ms apart (0: back to back); prints [[wall µs, process CPU µs], ...].
 * Mode `warm`: both encoders, 2,000 calls each, then `arg` rounds alternating between them, 4 passes over the
 * batches per round; prints {reference: best µs per batch, fast: ...}.
 */
const CHILD = `
import { readFileSync } from 'node:fs';
const [codecUrl, mode, encoder, file, arg] = process.argv.slice(1);
const codec = await import(codecUrl);
const encoders = { reference: codec.encodeBatchReference, fast: codec.encodeBatch };
const batches = JSON.parse(readFileSync(file, 'utf8'));
for (const b of batches) b.streamId = Uint8Array.from(b.streamId);
let bytes = 0;
if (mode === 'calls') {
  const encode = encoders[encoder];
  const out = [];
  for (const b of batches) {
    if (Number(arg) > 0) await new Promise((r) => setTimeout(r, Number(arg)));
    const c0 = process.cpuUsage();
    const t0 = process.hrtime.bigint();
    bytes += encode(b).length;
    const wall = Number(process.hrtime.bigint() - t0) / 1000;
    const cpu = process.cpuUsage(c0);
    out.push([wall, cpu.user + cpu.system]);
  }
  process.stdout.write(JSON.stringify(out) + '\\n');
} else {
  for (let i = 0; i < 2000; i++) for (const e of Object.values(encoders)) bytes += e(batches[i % batches.length]).length;
  const best = {};
  for (let round = 0; round < Number(arg); round++) {
    for (const [name, encode] of Object.entries(encoders)) {
      const t0 = process.hrtime.bigint();
      for (let rep = 0; rep < 4; rep++) for (const b of batches) bytes += encode(b).length;
      const us = Number(process.hrtime.bigint() - t0) / 1000 / (4 * batches.length);
      best[name] = Math.min(best[name] ?? Infinity, us);
    }
  }
  process.stdout.write(JSON.stringify(best) + '\\n');
}
if (bytes === 0) throw new Error('nothing encoded');
`;

/** Runs CHILD on `batches`; its parsed output. */
function runChild(dir: string, batches: readonly Batch[], mode: 'calls' | 'warm', encoder: EncoderName | '-', arg: number): unknown {
  const file = join(dir, 'batches.json');
  writeFileSync(file, JSON.stringify(batches.map((b) => ({ ...b, streamId: Array.from(b.streamId) }))));
  const codecUrl = pathToFileURL(join(DIST, 'batch-codec.js')).href;
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', CHILD, codecUrl, mode, encoder, file, String(arg)], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`child ${mode} ${encoder} failed: ${r.stderr}`);
  return JSON.parse(r.stdout);
}

/** The children run proto/dist: bring it up to date (tsc -b is incremental, so this is quick when it is). */
function buildProto(): void {
  const tsc = fileURLToPath(new URL('../../node_modules/typescript/bin/tsc', import.meta.url));
  const r = spawnSync(process.execPath, [tsc, '-b', join(PROTO, 'tsconfig.json')], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`tsc -b proto failed: ${r.stdout}${r.stderr}`);
}

interface ColdResult {
  wall: number[];
  cpu: number[];
}

/** Per encoder, the timed calls of fresh processes (encoders alternate); `skip` first calls of each dropped. */
function cold(shape: Shape, processes: number, calls: number, spacingMs: number, skip: number): Record<EncoderName, ColdResult> {
  const out: Record<EncoderName, ColdResult> = { reference: { wall: [], cpu: [] }, fast: { wall: [], cpu: [] } };
  withTempDir((dir) => {
    for (let p = 0; p < processes; p++) {
      const batches = Array.from({ length: calls }, (_, i) => makeBatch(shape, p * calls + i));
      for (const encoder of Object.keys(ENCODERS) as EncoderName[]) {
        const timed = (runChild(dir, batches, 'calls', encoder, spacingMs) as Array<[number, number]>).slice(skip);
        for (const [wall, cpu] of timed) {
          out[encoder].wall.push(wall);
          out[encoder].cpu.push(cpu);
        }
      }
    }
  });
  return out;
}

/** Best of ROUNDS, µs per batch, after a warm-up, in one child process. */
function warm(shape: Shape): Record<EncoderName, number> {
  let best: Record<EncoderName, number> | undefined;
  withTempDir((dir) => {
    best = runChild(dir, Array.from({ length: 50 }, (_, i) => makeBatch(shape, i)), 'warm', '-', ROUNDS) as Record<EncoderName, number>;
  });
  return best!;
}

function withTempDir(f: (dir: string) => void): void {
  const dir = mkdtempSync(join(os.tmpdir(), 'tidemark-bench-encode-'));
  try {
    f(dir);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

function emit(line: Record<string, unknown>): void {
  process.stdout.write(`${JSON.stringify({ bench: 'encode-batch', ...line, load1: os.loadavg()[0] })}\n`);
}

function emitCold(shape: Shape, mode: string, processes: number, calls: number, spacingMs: number, skip: number): void {
  const r = cold(shape, processes, calls, spacingMs, skip);
  const ref = median(r.reference.wall);
  const fast = median(r.fast.wall);
  emit({
    shape,
    mode,
    processes,
    calls_per_process: calls,
    ...(spacingMs ? { spacing_ms: spacingMs, skipped_calls: skip } : {}),
    us_per_batch_reference: round1(ref),
    us_per_batch_fast: round1(fast),
    speedup: round1(ref / fast),
    cpu_us_per_batch_reference: round1(median(r.reference.cpu)),
    cpu_us_per_batch_fast: round1(median(r.fast.cpu)),
  });
}

buildProto();
// One batch of each shape through both encoders: the benchmark compares equal outputs.
for (const s of ['edge-250', 'standard-1000'] as const) {
  const b = makeBatch(s, 0);
  if (Buffer.compare(encodeBatch(b), encodeBatchReference(b)) !== 0) throw new Error(`${s}: encoders disagree`);
}
for (const s of ['edge-250', 'standard-1000'] as const) {
  emitCold(s, 'cold', PROCESSES, CALLS, 0, 0);
  if (SPACED && s === 'edge-250') emitCold(s, 'spaced', SPACED_PROCESSES, SPACED_CALLS, SPACING_MS, SPACED_CALLS / 2);
  const w = warm(s);
  emit({ shape: s, mode: 'warm', rounds: ROUNDS, us_per_batch_reference: round1(w.reference), us_per_batch_fast: round1(w.fast), speedup: round1(w.reference / w.fast) });
}
