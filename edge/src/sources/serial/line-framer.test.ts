import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { LineFramer, TOO_LONG_PREFIX_BYTES } from './line-framer.js';

type Event = ['line' | 'head' | 'tooLong', string];

function recorder(maxLineLength = 64): { framer: LineFramer; events: Event[] } {
  const events: Event[] = [];
  const framer = new LineFramer(maxLineLength, {
    line: (t) => events.push(['line', t]),
    head: (t) => events.push(['head', t]),
    tooLong: (t) => events.push(['tooLong', t]),
  });
  return { framer, events };
}

function frame(input: string | Buffer, chunks: number[] = [], opts: { max?: number; reset?: boolean } = {}): Event[] {
  const { framer, events } = recorder(opts.max);
  if (opts.reset) framer.reset();
  const buf = typeof input === 'string' ? Buffer.from(input) : input;
  let at = 0;
  for (const size of chunks) {
    framer.push(buf.subarray(at, at + size));
    at += size;
  }
  framer.push(buf.subarray(at));
  return events;
}

describe('LineFramer', () => {
  it('ends lines at LF, CR and CRLF, and drops empty lines', () => {
    expect(frame('a\nb\rc\r\nd\n\n\r\ne')).toEqual([
      ['line', 'a'],
      ['line', 'b'],
      ['line', 'c'],
      ['line', 'd'],
    ]);
  });

  it('joins a line split across chunks, including inside a UTF-8 character and between CR and LF', () => {
    expect(frame('tem', [])).toEqual([]);
    expect(frame('temp=2\r\nt=°C\n', [2, 5, 10])).toEqual([
      ['line', 'temp=2'],
      ['line', 't=°C'],
    ]);
  });

  it('reports an over-long line once, with its start, and resumes at the next line', () => {
    const long = 'x'.repeat(300);
    expect(frame(`ok\n${long}\nnext\n`, [], { max: 1000 })).toEqual([['line', 'ok'], ['line', long], ['line', 'next']]);
    expect(frame(`ok\n${long}\nnext\n`, [], { max: 16 })).toEqual([
      ['line', 'ok'],
      ['tooLong', 'x'.repeat(17)],
      ['line', 'next'],
    ]);
    // The same when the line arrives in pieces: reported as soon as it is over, then skipped to its end.
    expect(frame(`ok\n${long}\nnext\n`, [5, 5, 5, 5, 100, 100], { max: 16 })).toEqual([
      ['line', 'ok'],
      ['tooLong', 'x'.repeat(17)],
      ['line', 'next'],
    ]);
    // The error log keeps at most TOO_LONG_PREFIX_BYTES of it.
    expect(frame(`${'y'.repeat(5000)}\n`, [], { max: 4096 })).toEqual([['tooLong', 'y'.repeat(TOO_LONG_PREFIX_BYTES)]]);
    expect(frame('x'.repeat(16) + '\n' + 'y'.repeat(17) + '\n', [], { max: 16 })).toEqual([
      ['line', 'x'.repeat(16)],
      ['tooLong', 'y'.repeat(17)],
    ]);
  });

  it('bounds memory on endless input without line ends', () => {
    const { framer, events } = recorder(16);
    for (let i = 0; i < 1000; i++) framer.push(Buffer.alloc(1024, 0x41));
    expect(events).toEqual([['tooLong', 'A'.repeat(17)]]);
    framer.push(Buffer.from('\nfine\n'));
    expect(events.at(-1)).toEqual(['line', 'fine']);
  });

  it('after reset, reports what precedes the first line end as the head (possibly empty)', () => {
    expect(frame('ial line\nfull\n', [3], { reset: true })).toEqual([
      ['head', 'ial line'],
      ['line', 'full'],
    ]);
    expect(frame('\r\nfull\n', [1], { reset: true })).toEqual([
      ['head', ''],
      ['line', 'full'],
    ]);
    expect(frame('\nfull\n', [], { reset: true })).toEqual([
      ['head', ''],
      ['line', 'full'],
    ]);
  });

  it('reset returns and forgets the unterminated bytes', () => {
    const { framer, events } = recorder();
    framer.push(Buffer.from('a\nhalf a li'));
    expect(framer.reset()).toBe('half a li');
    framer.push(Buffer.from('ne\nb\n'));
    expect(events).toEqual([
      ['line', 'a'],
      ['head', 'ne'],
      ['line', 'b'],
    ]);
    expect(framer.reset()).toBe('');
  });

  it('does not keep references to caller buffers', () => {
    const { framer, events } = recorder();
    const buf = Buffer.from('abc');
    framer.push(buf);
    buf.fill(0x7a);
    framer.push(Buffer.from('\n'));
    expect(events).toEqual([['line', 'abc']]);
  });

  it('fuzz: any chunking gives the same events as one chunk', () => {
    const byte = fc.oneof(
      { weight: 6, arbitrary: fc.integer({ min: 0x20, max: 0x7e }) },
      { weight: 2, arbitrary: fc.constantFrom(0x0a, 0x0d) },
      { weight: 1, arbitrary: fc.integer({ min: 0, max: 255 }) },
      { weight: 1, arbitrary: fc.constantFrom(0xc2, 0xb0, 0xe2, 0x82, 0xac) }, // pieces of ° and €
    );
    fc.assert(
      fc.property(
        fc.array(byte, { maxLength: 600 }),
        fc.array(fc.integer({ min: 0, max: 40 }), { maxLength: 30 }),
        fc.integer({ min: 1, max: 80 }),
        fc.boolean(),
        (bytes, cuts, max, reset) => {
          const input = Buffer.from(bytes);
          const whole = frame(input, [], { max, reset });
          expect(frame(input, cuts, { max, reset })).toEqual(whole);
          // And byte by byte.
          expect(frame(input, Array.from({ length: input.length }, () => 1), { max, reset })).toEqual(whole);
          for (const [kind, text] of whole) {
            if (kind === 'line') {
              expect(text).not.toMatch(/[\r\n]/);
              expect(text.length).toBeGreaterThan(0);
              expect(Buffer.byteLength(text)).toBeLessThanOrEqual(max * 3); // U+FFFD may stand for 1 byte
            }
          }
        },
      ),
      { numRuns: 500 },
    );
  });
});
