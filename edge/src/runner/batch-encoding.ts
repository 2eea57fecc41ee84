// How the runner turns buffered readings into wire batches: at seal time (the device identity, the buffer's
// stream and the clock's current anchor travel with every batch) and when the clock becomes synchronised
// (a sealed, never-sent batch's readings move by the clock's step and become trusted, with the new anchor).
import { decodeBatch, encodeBatch } from '@tidemark/proto';
import type { BatchEncoder } from '../buffer/edge-buffer.js';
import type { BatchReencoder } from '../buffer/clock-correction.js';
import type { ClockAnchor } from '../clock.js';

export function batchEncoder(deviceId: string, streamId: Uint8Array, anchor: () => ClockAnchor): BatchEncoder {
  return (seq, readings, synced, lowWaterSeq) => {
    const a = anchor();
    return encodeBatch({
      deviceId,
      streamId,
      seq,
      lowWaterSeq,
      clock: { synced, anchorWallMs: a.wallMs, anchorMonoMs: a.monoMs },
      // Read, not kept: encodeBatch needs sensor, ts and value, and ignores the buffer's `synced` flag.
      readings,
    });
  };
}

export function clockStepReencoder(anchor: () => ClockAnchor): BatchReencoder {
  return (payload, step) => {
    const batch = decodeBatch(payload);
    const readings = batch.readings.map((r) => ({ ...r, ts: r.ts + step }));
    const a = anchor();
    const fixed = encodeBatch({ ...batch, readings, clock: { synced: true, anchorWallMs: a.wallMs, anchorMonoMs: a.monoMs } });
    const times = readings.map((r) => r.ts);
    return { payload: fixed, firstTs: Math.min(...times), lastTs: Math.max(...times), readings: readings.length };
  };
}
