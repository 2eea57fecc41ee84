// Shared by the buffer, crash and sender tests: temp buffers, numbered readings and the agent's encoder.
// A reading's number is its value and (offset) its time, so order, loss and duplicates are visible after decoding.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { decodeBatch, encodeBatch } from '@tidemark/proto';
import { mulberry32 } from '@tidemark/shared';
import { SqliteBuffer, type BatchEncoder, type BufferedReading } from '../sqlite-buffer.js';

export const T0 = 1_700_000_000_000;

/** Reading number `n`: value n, event time T0 + n. */
export function numbered(n: number, synced = true, sensor = 'temp_c'): BufferedReading {
  return { sensor, ts: T0 + n, value: n, synced };
}

/** Reading n's clock state in the crash test: runs of 37 synced then 37 unsynced, so seals split at the flips. */
export function syncedFor(n: number): boolean {
  return Math.floor(n / 37) % 2 === 0;
}

export function range(from: number, to: number): number[] {
  const out: number[] = [];
  for (let n = from; n <= to; n++) out.push(n);
  return out;
}

/** The same encoding the agent uses (fixed clock anchor), bound to `buffer`'s identity. */
export function encoderFor(buffer: SqliteBuffer): BatchEncoder {
  return (seq, readings, synced) =>
    encodeBatch({
      deviceId: buffer.deviceId,
      streamId: buffer.streamId,
      seq,
      clock: { synced, anchorWallMs: T0, anchorMonoMs: 0 },
      readings: readings.map((r) => ({ sensor: r.sensor, ts: r.ts, value: r.value })),
    });
}

/** The reading numbers (values) inside a sealed payload, in wire order. */
export function payloadNumbers(payload: Uint8Array): number[] {
  return decodeBatch(payload).readings.map((r) => r.value);
}

export interface TempDir {
  path: string;
  file(name: string): string;
  remove(): void;
}

export function tempDir(prefix = 'tidemark-buffer-'): TempDir {
  const path = mkdtempSync(join(tmpdir(), prefix));
  return { path, file: (name) => join(path, name), remove: () => rmSync(path, { recursive: true, force: true }) };
}

/**
 * A crash writer's start (child processes of the crash tests), from its command line `<buffer path> <device id>
 * <first number> <seed>`: the opened buffer, its encoder, the first reading number and a seeded rand(k) in [0, k).
 */
export function crashWriterStart(name: string): { buffer: SqliteBuffer; encode: BatchEncoder; first: number; rand: (k: number) => number } {
  const [path, deviceId, firstArg, seedArg] = process.argv.slice(2);
  if (!path || !deviceId || !firstArg || !seedArg) throw new Error(`usage: ${name} <path> <device> <first> <seed>`);
  const random = mulberry32(Number(seedArg));
  const buffer = SqliteBuffer.open({ path, deviceId });
  return { buffer, encode: encoderFor(buffer), first: Number(firstArg), rand: (k) => Math.floor(random() * k) };
}
