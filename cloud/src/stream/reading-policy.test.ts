// trustedColumns applies readingTrusted to one series' columns: all trusted → the same arrays; some → a
// filtered copy in order; none → undefined; the newest trusted time either way.
import { describe, expect, it } from 'vitest';
import { trustedColumns } from './reading-policy.js';

describe('trustedColumns', () => {
  const ts = Float64Array.from([1000, 5000, 2000, 9000]);
  const values = Float64Array.from([1, 2, 3, 4]);

  it('returns the columns themselves when every reading is trusted', () => {
    const r = trustedColumns(ts, values, 10_000, 0)!;
    expect(r[0]).toBe(ts);
    expect(r[1]).toBe(values);
    expect(r[2]).toBe(9000);
  });

  it('drops readings stamped beyond receipt + skew, keeping order', () => {
    const [t, v, newest] = trustedColumns(ts, values, 4000, 1000)!;
    expect([Array.from(t), Array.from(v), newest]).toEqual([[1000, 5000, 2000], [1, 2, 3], 5000]);
    expect(trustedColumns(ts, values, 0, 500)).toBeUndefined();
  });
});
