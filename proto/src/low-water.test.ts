import { describe, expect, it } from 'vitest';
import { decodeBatch, encodeBatch, newStreamId, type Batch } from './index.js';

const base: Batch = {
  deviceId: 'gw',
  streamId: newStreamId(),
  seq: 42,
  clock: { synced: true, anchorWallMs: 1, anchorMonoMs: 2 },
  readings: [{ sensor: 't', ts: 1_700_000_000_000, value: 1.5 }],
};

describe('low_water_seq (field 6, added after the first v1 fixtures)', () => {
  it('round-trips, and is absent when not stated', () => {
    expect(decodeBatch(encodeBatch({ ...base, lowWaterSeq: 40 })).lowWaterSeq).toBe(40);
    expect(decodeBatch(encodeBatch(base)).lowWaterSeq).toBeUndefined();
  });

  it('costs nothing when absent and is rejected above the batch seq', () => {
    expect(encodeBatch({ ...base, lowWaterSeq: 42 }).length).toBeGreaterThan(encodeBatch(base).length);
    expect(() => encodeBatch({ ...base, lowWaterSeq: 43 })).toThrow(/lowWaterSeq: must not exceed seq/);
    expect(() => encodeBatch({ ...base, lowWaterSeq: 0 })).toThrow(/lowWaterSeq/);
  });
});
