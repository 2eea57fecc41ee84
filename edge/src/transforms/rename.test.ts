import { describe, expect, it } from 'vitest';
import { RenameTransform } from './rename.js';

describe('rename', () => {
  it('changes only the name', () => {
    const r = { sensor: 'tmp1', value: 21.5, ts: 7 };
    expect(new RenameTransform('temp_c').apply(r)).toBeUndefined();
    expect(r).toEqual({ sensor: 'temp_c', value: 21.5, ts: 7 });
  });
});
