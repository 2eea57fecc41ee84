import fc from 'fast-check';
import { NAME_REGEX } from '@tidemark/shared/config';
import { describe, expect, it } from 'vitest';
import { RenameTransform } from './rename.js';

const name = fc.stringMatching(/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/);

describe('rename', () => {
  it('changes only the name, to the configured one, whatever the reading', () => {
    fc.assert(
      fc.property(name, name, fc.double(), fc.integer({ min: 0 }), (from, to, value, ts) => {
        const r = { sensor: from, value, ts };
        expect(new RenameTransform(to).apply(r)).toBeUndefined();
        expect(r.sensor).toBe(to);
        expect(NAME_REGEX.test(r.sensor)).toBe(true);
        expect(Object.is(r.value, value)).toBe(true);
        expect(r.ts).toBe(ts);
      }),
    );
  });
});
