import fc from 'fast-check';
import { ValidationError } from '@tidemark/shared';
import { describe, expect, it } from 'vitest';
import { nameArb } from './testing/arbitraries.js';
import { topics } from './topics.js';

describe('topics', () => {
  it('builds the SPEC topics', () => {
    expect(topics.ROOT).toBe('tidemark/v1');
    expect(topics.batch('press-07')).toBe('tidemark/v1/press-07/batch');
    expect(topics.ack('press-07')).toBe('tidemark/v1/press-07/ack');
    expect(topics.status('press-07')).toBe('tidemark/v1/press-07/status');
  });

  it('refuses device ids that would escape the device subtree', () => {
    for (const bad of ['a/b', '+', '#', '', 'x y']) {
      expect(() => topics.batch(bad)).toThrow(ValidationError);
      expect(() => topics.ack(bad)).toThrow(/^device: /);
    }
  });

  it('parse inverts the builders', () => {
    fc.assert(
      fc.property(nameArb, fc.constantFrom('batch', 'ack', 'status') as fc.Arbitrary<'batch' | 'ack' | 'status'>, (device, kind) => {
        expect(topics.parse(topics[kind](device))).toEqual({ device, kind });
      }),
    );
  });

  it('parse returns undefined for anything else', () => {
    for (const t of ['tidemark/v1/d', 'tidemark/v2/d/batch', 'tidemark/v1/d/batch/x', 'tidemark/v1/+/batch', 'tidemark/v1/d/other', '/tidemark/v1/d/ack', '', 'x']) {
      expect(topics.parse(t)).toBeUndefined();
    }
    expect(topics.parse(undefined as unknown as string)).toBeUndefined();
  });
});
