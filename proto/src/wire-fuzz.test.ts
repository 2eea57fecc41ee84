// Hostile and damaged bytes: decoding may fail, but only ever with WireFormatError or ValidationError,
// never a raw exception, a hang or a crash. peekBatchIdentity never throws at all.
import fc from 'fast-check';
import { ValidationError, WireFormatError } from '@tidemark/shared';
import { describe, expect, it } from 'vitest';
import { decodeAck, encodeAck } from './ack-codec.js';
import { decodeBatch, encodeBatch, peekBatchIdentity } from './batch-codec.js';
import { batchArb, readingsArb } from './testing/arbitraries.js';

function onlyOurErrors(fn: () => unknown): void {
  try {
    fn();
  } catch (err) {
    if (!(err instanceof WireFormatError) && !(err instanceof ValidationError)) {
      throw new Error(`unexpected ${(err as Error)?.constructor?.name}: ${String(err)}`, { cause: err });
    }
  }
}

function checkBytes(bytes: Uint8Array): void {
  onlyOurErrors(() => {
    const b = decodeBatch(bytes);
    // Whatever decodes and validates must be a batch we could have sent ourselves.
    const again = decodeBatch(encodeBatch(b));
    expect(again.readings.length).toBe(b.readings.length);
  });
  onlyOurErrors(() => decodeBatch(bytes, { validate: false }));
  onlyOurErrors(() => decodeAck(bytes));
  expect(() => peekBatchIdentity(bytes)).not.toThrow();
}

const validBytes = batchArb(readingsArb(4, 20)).map((b) => Uint8Array.from(encodeBatch(b)));

describe('decoding damaged bytes', () => {
  it('random bytes', () => {
    fc.assert(fc.property(fc.uint8Array({ maxLength: 400 }), checkBytes), { numRuns: 1500 });
  });

  it('random bytes shaped like protobuf fields (valid tags, lengths, varints)', () => {
    const varint = fc.array(fc.integer({ min: 0, max: 255 }), { minLength: 1, maxLength: 10 });
    const field = fc.tuple(fc.integer({ min: 1, max: 20 }), fc.constantFrom(0, 1, 2, 3, 4, 5, 6, 7), varint, fc.uint8Array({ maxLength: 30 }));
    const message = fc.array(field, { maxLength: 12 }).map((fields) =>
      Uint8Array.from(fields.flatMap(([n, wt, v, payload]) => [(n << 3) | wt, ...(wt === 2 ? [payload.length, ...payload] : v)])),
    );
    fc.assert(fc.property(message, checkBytes), { numRuns: 1500 });
  });

  it('truncated valid batches', () => {
    fc.assert(
      fc.property(validBytes, fc.nat(), (bytes, cut) => {
        const truncated = bytes.subarray(0, cut % bytes.length);
        checkBytes(truncated);
        // Protobuf has no end marker: a cut between two series decodes, but can never pass for the whole
        // batch (series come last, so readings are lost). MQTT delivers whole payloads; this is about damage.
        onlyOurErrors(() => expect(decodeBatch(truncated).readings.length).toBeLessThan(decodeBatch(bytes).readings.length));
      }),
      { numRuns: 400 },
    );
  });

  it('mutated valid batches (flipped, inserted, deleted bytes)', () => {
    const edit = fc.tuple(fc.constantFrom('flip', 'set', 'insert', 'delete'), fc.nat(), fc.integer({ min: 0, max: 255 }));
    fc.assert(
      fc.property(validBytes, fc.array(edit, { minLength: 1, maxLength: 4 }), (bytes, edits) => {
        const b = Array.from(bytes);
        for (const [kind, at, byte] of edits) {
          const i = at % Math.max(1, b.length);
          if (kind === 'flip') b[i] = (b[i] ?? 0) ^ (1 << (byte % 8));
          else if (kind === 'set') b[i] = byte;
          else if (kind === 'insert') b.splice(i, 0, byte);
          else b.splice(i, 1);
        }
        checkBytes(Uint8Array.from(b));
      }),
      { numRuns: 700 },
    );
  });

  it('acks: damaged bytes', () => {
    const ack = encodeAck({ deviceId: 'd', streamId: new Uint8Array(16), results: [{ seq: 1, status: 'ok' }, { seq: 2, status: 'rejected', reason: 'x' }] });
    fc.assert(
      fc.property(fc.nat(), fc.nat(), fc.integer({ min: 0, max: 255 }), (cut, at, byte) => {
        const b = Uint8Array.from(ack.subarray(0, cut % (ack.length + 1)));
        if (b.length > 0) b[at % b.length] = byte;
        onlyOurErrors(() => decodeAck(b));
      }),
      { numRuns: 1000 },
    );
  });

  it('deeply nested unknown groups do not blow the stack', () => {
    const depth = 100_000;
    const bytes = new Uint8Array(depth * 2);
    bytes.fill((15 << 3) | 3, 0, depth); // start-group of unknown field 15, never closed
    checkBytes(bytes);
  });

  it('huge declared lengths do not allocate or hang', () => {
    checkBytes(Uint8Array.of((5 << 3) | 2, 0xff, 0xff, 0xff, 0xff, 0x0f));
    checkBytes(Uint8Array.of((5 << 3) | 2, 0x04, (2 << 3) | 2, 0xff, 0xff, 0x03));
  });
});
