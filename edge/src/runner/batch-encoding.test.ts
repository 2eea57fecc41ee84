import { decodeBatch } from '@tidemark/proto';
import { describe, expect, it } from 'vitest';
import { batchEncoder, clockStepReencoder } from './batch-encoding.js';

const stream = new Uint8Array(16).fill(7);

describe('batch encoding', () => {
  it('encodes the device, stream, seq and the clock anchor of the moment', () => {
    let anchor = { wallMs: 1_000, monoMs: 5 };
    const encode = batchEncoder('gw-1', stream, () => anchor);
    const readings = [{ sensor: 't', ts: 1_700_000_000_000, value: 1.5, synced: false }];
    const first = decodeBatch(encode(3, readings, false, 2));
    expect(first).toMatchObject({ deviceId: 'gw-1', seq: 3, lowWaterSeq: 2, clock: { synced: false, anchorWallMs: 1_000, anchorMonoMs: 5 } });
    expect(first.readings).toEqual([{ sensor: 't', ts: 1_700_000_000_000, value: 1.5 }]);
    anchor = { wallMs: 2_000, monoMs: 9 };
    expect(decodeBatch(encode(4, readings, false, 2)).clock).toMatchObject({ anchorWallMs: 2_000, anchorMonoMs: 9 });
  });

  it('a clock step moves every reading of a batch by the step and marks it synced with the new anchor', () => {
    const encode = batchEncoder('gw-1', stream, () => ({ wallMs: 1_000, monoMs: 5 }));
    const payload = encode(
      1,
      [
        { sensor: 't', ts: 1_000_000, value: 1, synced: false },
        { sensor: 'p', ts: 1_000_400, value: 2, synced: false },
      ],
      false,
      1,
    );
    const fixed = clockStepReencoder(() => ({ wallMs: 9_000, monoMs: 50 }))(payload, 86_400_000);
    expect([fixed.firstTs, fixed.lastTs, fixed.readings]).toEqual([87_400_000, 87_400_400, 2]);
    const batch = decodeBatch(fixed.payload);
    expect(batch).toMatchObject({ deviceId: 'gw-1', seq: 1, clock: { synced: true, anchorWallMs: 9_000, anchorMonoMs: 50 } });
    expect(batch.readings.map((r) => [r.sensor, r.ts, r.value])).toEqual([['t', 87_400_000, 1], ['p', 87_400_400, 2]]);
  });
});
