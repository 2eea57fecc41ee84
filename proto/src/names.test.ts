import fc from 'fast-check';
import { ValidationError } from '@tidemark/shared';
import { describe, expect, it } from 'vitest';
import { NAME_PATTERN, STREAM_ID_BYTES, hexToStreamId, isValidName, newStreamId, streamIdToHex } from './names.js';
import { nameArb } from './testing/arbitraries.js';

describe('names', () => {
  it('NAME_PATTERN is the SPEC pattern', () => {
    expect(NAME_PATTERN.source).toBe('^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$');
  });

  it('isValidName', () => {
    fc.assert(fc.property(nameArb, (n) => isValidName(n)));
    for (const ok of ['a', 'press-07', 'temp_c', 'gps.lat', '0', 'x'.repeat(64)]) expect(isValidName(ok)).toBe(true);
    for (const bad of ['', '_x', 'a b', 'a/b', 'a+', 'a#', 'x'.repeat(65), 'a\n', 'é']) expect(isValidName(bad)).toBe(false);
    expect(isValidName(42 as unknown as string)).toBe(false);
  });
});

describe('stream ids', () => {
  it('newStreamId is 16 random bytes', () => {
    const a = newStreamId();
    expect(a).toBeInstanceOf(Uint8Array);
    expect(a.length).toBe(STREAM_ID_BYTES);
    expect(streamIdToHex(a)).not.toBe(streamIdToHex(newStreamId()));
  });

  it('hex round trip', () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 16, maxLength: 16 }), (id) => {
        const hex = streamIdToHex(id);
        expect(hex).toMatch(/^[0-9a-f]{32}$/);
        expect(Array.from(hexToStreamId(hex))).toEqual(Array.from(id));
        expect(Array.from(hexToStreamId(hex.toUpperCase()))).toEqual(Array.from(id));
      }),
    );
  });

  it('streamIdToHex respects subarray views', () => {
    const buf = Uint8Array.from({ length: 20 }, (_, i) => i);
    expect(streamIdToHex(buf.subarray(2, 18))).toBe('02030405060708090a0b0c0d0e0f1011');
  });

  it('hexToStreamId rejects bad input with ValidationError', () => {
    for (const bad of ['', 'zz'.repeat(16), '00'.repeat(15), '00'.repeat(17), ` ${'00'.repeat(16)}`, 42 as unknown as string]) {
      expect(() => hexToStreamId(bad)).toThrow(ValidationError);
    }
    expect(() => hexToStreamId('abc')).toThrow(/^streamId: expected 32 hex digits/);
  });
});
