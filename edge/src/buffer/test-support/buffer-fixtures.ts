// Shared by the buffer, crash and sender tests: temp buffers, numbered readings and the agent's encoder.
// A reading's number is its value and (offset) its time, so order, loss and duplicates are visible after decoding.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { decodeBatch, encodeBatch } from '@tidemark/proto';
import type { BatchEncoder, BufferedReading, SqliteBuffer } from '../sqlite-buffer.js';

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
