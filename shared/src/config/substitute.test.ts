import { describe, expect, it } from 'vitest';
import { substituteString } from './substitute.js';

const env = { HOST: 'broker', EMPTY: '', PORT: '1884' };

describe('substituteString', () => {
  it('replaces set variables', () => {
    expect(substituteString('mqtt://${HOST}:${PORT}', env)).toEqual({ value: 'mqtt://broker:1884', problems: [] });
  });

  it('uses the default when unset or empty, like a POSIX shell', () => {
    expect(substituteString('${NOPE:-x}', env).value).toBe('x');
    expect(substituteString('${EMPTY:-x}', env).value).toBe('x');
    expect(substituteString('${HOST:-x}', env).value).toBe('broker');
    expect(substituteString('${NOPE:-}', env).value).toBe('');
    expect(substituteString('${NOPE:-a:-b}', env).value).toBe('a:-b');
  });

  it('keeps an empty set variable without a default', () => {
    expect(substituteString('[${EMPTY}]', env)).toEqual({ value: '[]', problems: [] });
  });

  it('reports an unset variable', () => {
    expect(substituteString('${TIDEMARK_PASSWORD}', env).problems).toEqual(['environment variable TIDEMARK_PASSWORD is not set']);
  });

  it('treats $${ as a literal ${ and a lone $ as itself', () => {
    expect(substituteString('$${HOST}', env)).toEqual({ value: '${HOST}', problems: [] });
    expect(substituteString('cost $5 and $$', env)).toEqual({ value: 'cost $5 and $$', problems: [] });
    expect(substituteString('$$${HOST}', env).value).toBe('$${HOST}'); // a lone $, then the escape
  });

  it('reports malformed references', () => {
    expect(substituteString('${1BAD}', env).problems).toEqual([expect.stringContaining('invalid substitution "${1BAD}"')]);
    expect(substituteString('${}', env).problems).toHaveLength(1);
    expect(substituteString('abc ${HOST', env).problems).toEqual([expect.stringContaining('unterminated')]);
  });
});
