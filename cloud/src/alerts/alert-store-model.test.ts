// The stored form of an evaluator's series memory: anomaly windows as base64 float64, exact (full-precision values take fewer bytes than as JSON numbers), and older
// stores' plain JSON windows still load.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { decodeMachine, encodeMachine } from './alert-store-model.js';

describe('encodeMachine / decodeMachine', () => {
  it('round-trips any machine exactly, -0 included, and stores windows compactly', () => {
    fc.assert(
      fc.property(fc.array(fc.double({ noNaN: true }), { maxLength: 300, size: 'max' }), fc.option(fc.nat(299)), (window, head) => {
        const machine = { s: { state: 'normal', since: 0, ordinal: 2, value: null }, mem: { window, ...(head === null ? {} : { head }), prevTs: 5 } };
        const back = decodeMachine(encodeMachine(machine)) as typeof machine;
        expect(back.s).toEqual(machine.s);
        expect(back.mem.window.length).toBe(window.length);
        back.mem.window.forEach((x, i) => expect(Object.is(x, window[i])).toBe(true));
        expect(back.mem.prevTs).toBe(5);
        if (head !== null) expect(back.mem.head).toBe(head);
      }),
    );
    const long = { mem: { window: Array.from({ length: 120 }, (_, i) => 40 + Math.sin(i) / 3) } };
    expect(encodeMachine(long).length).toBeLessThan(JSON.stringify(long).length);
  });

  it('loads a window stored as a plain JSON array (stores written before the binary form)', () => {
    expect(decodeMachine('{"mem":{"window":[1.5,2,3]}}')).toEqual({ mem: { window: [1.5, 2, 3] } });
  });
});
