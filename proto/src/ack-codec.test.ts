import fc from 'fast-check';
import { ValidationError, WireFormatError } from '@tidemark/shared';
import { describe, expect, it } from 'vitest';
import { decodeAck, encodeAck } from './ack-codec.js';
import { tidemark } from './gen/telemetry.js';
import type { Ack } from './model.js';
import { nameArb, streamIdArb } from './testing/arbitraries.js';

const STREAM = new Uint8Array(16).fill(3);

const ackArb: fc.Arbitrary<Ack> = fc.record({
  deviceId: nameArb,
  streamId: streamIdArb,
  results: fc.array(
    fc.oneof(
      fc.record({ seq: fc.integer({ min: 1, max: Number.MAX_SAFE_INTEGER }), status: fc.constantFrom('ok' as const, 'duplicate' as const) }),
      fc.record({ seq: fc.maxSafeNat().map((n) => Math.max(1, n)), status: fc.constant('rejected' as const), reason: fc.string({ minLength: 1 }) }),
    ),
    { maxLength: 20 },
  ),
});

describe('ack codec', () => {
  it('round-trips any valid ack (property)', () => {
    fc.assert(
      fc.property(ackArb, (a) => {
        const d = decodeAck(encodeAck(a));
        expect({ ...d, streamId: Array.from(d.streamId) }).toEqual({ ...a, streamId: Array.from(a.streamId) });
      }),
      { numRuns: 300 },
    );
  });

  it('maps statuses to the wire enum', () => {
    const bytes = encodeAck({ deviceId: 'd', streamId: STREAM, results: [{ seq: 1, status: 'ok' }, { seq: 2, status: 'duplicate' }, { seq: 3, status: 'rejected', reason: 'readings[0].value: expected a finite number, got NaN' }] });
    const msg = tidemark.v1.Ack.decode(bytes);
    expect(msg.results!.map((r) => r.status)).toEqual([tidemark.v1.AckStatus.ACK_STATUS_OK, tidemark.v1.AckStatus.ACK_STATUS_DUPLICATE, tidemark.v1.AckStatus.ACK_STATUS_REJECTED]);
    expect(msg.results![2]!.reason).toMatch(/finite/);
  });

  it('encodeAck validates', () => {
    const base: Ack = { deviceId: 'd', streamId: STREAM, results: [{ seq: 1, status: 'ok' }] };
    expect(() => encodeAck({ ...base, deviceId: 'a/b' })).toThrow(/^deviceId: /);
    expect(() => encodeAck({ ...base, streamId: new Uint8Array(4) })).toThrow(/^streamId: expected 16 bytes/);
    expect(() => encodeAck({ ...base, results: [{ seq: 0, status: 'ok' }] })).toThrow(/^results\[0\]\.seq: expected an integer >= 1/);
    expect(() => encodeAck({ ...base, results: [{ seq: 1, status: 'maybe' as 'ok' }] })).toThrow(/^results\[0\]\.status: /);
  });

  it('decodeAck: bad bytes are WireFormatError, a decodable but broken ack is ValidationError', () => {
    expect(() => decodeAck(Uint8Array.of(0xff, 0xff))).toThrow(WireFormatError);
    expect(() => decodeAck('x' as unknown as Uint8Array)).toThrow(WireFormatError);
    const unknownStatus = tidemark.v1.Ack.encode({ deviceId: 'd', streamId: STREAM, results: [{ seq: 1, status: 9 as tidemark.v1.AckStatus }] }).finish();
    expect(() => decodeAck(unknownStatus)).toThrow(ValidationError);
    expect(() => decodeAck(unknownStatus)).toThrow(/^results\[0\]\.status: unknown ack status 9/);
    const unspecified = tidemark.v1.Ack.encode({ deviceId: 'd', streamId: STREAM, results: [{ seq: 1 }] }).finish();
    expect(() => decodeAck(unspecified)).toThrow(/unknown ack status 0/);
    const bigSeq = tidemark.v1.Ack.encode({ deviceId: 'd', streamId: STREAM, results: [{ seq: 2 ** 60, status: 1 }] }).finish();
    expect(() => decodeAck(bigSeq)).toThrow(/^results\[0\]\.seq: /);
  });
});
