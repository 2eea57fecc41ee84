// Compatibility: bytes written by v1 (committed fixtures, never regenerated) must decode forever, and
// fields this version does not know must be ignored. A schema change that breaks this is not additive.
import { readFileSync, readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { decodeAck, encodeAck } from './ack-codec.js';
import { decodeBatch, encodeBatch, peekBatchIdentity } from './batch-codec.js';
import type { Batch } from './model.js';
import { hexToStreamId, streamIdToHex } from './names.js';

const FIXTURES = fileURLToPath(new URL('../fixtures/v1/', import.meta.url));

interface Fixture {
  name: string;
  bytes: Uint8Array;
  message: 'tidemark.v1.Batch' | 'tidemark.v1.Ack';
  expected: Record<string, unknown> & { streamIdHex: string };
}

function loadFixtures(): Fixture[] {
  return readdirSync(FIXTURES)
    .filter((f) => f.endsWith('.json'))
    .sort()
    .map((f) => {
      const name = f.slice(0, -'.json'.length);
      const doc = JSON.parse(readFileSync(`${FIXTURES}${f}`, 'utf8'));
      return { name, bytes: new Uint8Array(readFileSync(`${FIXTURES}${name}.bin`)), message: doc.message, expected: doc.expected };
    });
}

/** JSON cannot hold -0; the fixtures spell it "-0". */
const fromJsonValue = (v: number | string): number => (v === '-0' ? -0 : (v as number));

/** A tag as a varint: tags of fields above 15 take two bytes. */
function tag(field: number, wireType: number): number[] {
  const v = (field << 3) | wireType;
  return v < 128 ? [v] : [(v & 0x7f) | 0x80, v >>> 7];
}

/** Appends unknown top-level fields of every wire type, with numbers v1 does not use. */
function withUnknownFields(bytes: Uint8Array): Uint8Array {
  return Uint8Array.from([
    ...bytes,
    ...tag(99, 0), 0x96, 0x01, // varint 150
    ...tag(100, 2), 3, 0x61, 0x62, 0x63, // length-delimited "abc"
    ...tag(101, 1), 1, 2, 3, 4, 5, 6, 7, 8, // fixed64
    ...tag(102, 5), 1, 2, 3, 4, // fixed32
    ...tag(103, 3), ...tag(1, 0), 7, ...tag(103, 4), // a (deprecated) group
  ]);
}

describe('v1 fixtures', () => {
  const fixtures = loadFixtures();

  it('the committed set is complete', () => {
    expect(fixtures.map((f) => f.name)).toEqual(['ack-basic', 'batch-basic', 'batch-decimal', 'batch-doubles', 'batch-future-fields']);
  });

  for (const f of fixtures) {
    it(`decodes ${f.name}`, () => {
      if (f.message === 'tidemark.v1.Ack') {
        const a = decodeAck(f.bytes);
        expect({ ...a, streamIdHex: streamIdToHex(a.streamId), streamId: undefined }).toEqual({ ...f.expected, streamId: undefined });
        return;
      }
      const e = f.expected as unknown as Omit<Batch, 'streamId' | 'readings'> & { streamIdHex: string; readings: Array<{ sensor: string; ts: number; value: number | string }> };
      const b = decodeBatch(f.bytes);
      expect(b.deviceId).toBe(e.deviceId);
      expect(streamIdToHex(b.streamId)).toBe(e.streamIdHex);
      expect(b.seq).toBe(e.seq);
      expect(b.clock).toEqual(e.clock);
      expect(b.readings.length).toBe(e.readings.length);
      b.readings.forEach((r, i) => {
        const x = e.readings[i]!;
        expect(r.sensor).toBe(x.sensor);
        expect(r.ts).toBe(x.ts);
        expect(Object.is(r.value, fromJsonValue(x.value)), `${f.name} readings[${i}].value ${r.value} vs ${x.value}`).toBe(true);
      });
      expect(peekBatchIdentity(f.bytes)).toEqual({ deviceId: e.deviceId, streamId: hexToStreamId(e.streamIdHex), seq: e.seq });
      // What v1 wrote, the current encoder can carry unchanged.
      const again = decodeBatch(encodeBatch(b));
      again.readings.forEach((r, i) => expect(Object.is(r.value, b.readings[i]!.value)).toBe(true));
    });
  }
});

describe('unknown fields are ignored', () => {
  const batch: Batch = {
    deviceId: 'press-07',
    streamId: new Uint8Array(16).fill(9),
    seq: 12,
    clock: { synced: false, anchorWallMs: 1, anchorMonoMs: 2 },
    readings: [
      { sensor: 'temp_c', ts: 1_741_939_200_000, value: 21.5 },
      { sensor: 'raw', ts: 1_741_939_200_001, value: Math.E },
    ],
  };

  it('a batch with unknown fields appended decodes to the same batch', () => {
    const plain = encodeBatch(batch);
    const extended = withUnknownFields(plain);
    expect(extended.length).toBeGreaterThan(plain.length);
    expect(decodeBatch(extended)).toEqual(decodeBatch(plain));
    expect(peekBatchIdentity(extended)).toEqual(peekBatchIdentity(plain));
  });

  it('an ack with unknown fields appended decodes to the same ack', () => {
    const plain = encodeAck({ deviceId: 'press-07', streamId: batch.streamId, results: [{ seq: 12, status: 'ok' }] });
    expect(decodeAck(withUnknownFields(plain))).toEqual(decodeAck(plain));
  });
});
