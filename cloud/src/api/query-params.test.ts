// /api/v1/aggregates parameter parsing: every mistake is a QueryError whose message starts with the name of
// the parameter at fault (the API turns it into a 400); good input becomes exact UTC milliseconds.
import fc from 'fast-check';
import { afterEach, describe, expect, it } from 'vitest';
import { decodeCursor, encodeCursor, parseAggregateQuery, parseStreamQuery, parseTime, QueryError } from './query-params.js';

const RESOLUTIONS = [
  { label: '1m', ms: 60_000 },
  { label: '1h', ms: 3_600_000 },
  { label: '1d', ms: 86_400_000 },
];
const OPTS = { resolutions: RESOLUTIONS, maxPageSize: 10_000 };
const GOOD = { device: 'press-07', sensor: 'temp_c', resolution: '1h', from: '2026-11-27T00:00:00Z', to: '2026-11-28T00:00:00Z' };

function parse(over: Record<string, unknown>, opts: Parameters<typeof parseAggregateQuery>[1] = OPTS) {
  const q: Record<string, unknown> = { ...GOOD, ...over };
  for (const [k, v] of Object.entries(q)) if (v === undefined) delete q[k];
  return parseAggregateQuery(q, opts);
}

function errorOf(fn: () => unknown): QueryError {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(QueryError);
    return err as QueryError;
  }
  throw new Error('expected a QueryError, but nothing was thrown');
}

describe('parseAggregateQuery', () => {
  it('parses a complete query', () => {
    const q = parse({ limit: '50', cursor: encodeCursor(1_795_737_600_000) });
    expect(q).toEqual({
      device: 'press-07',
      sensor: 'temp_c',
      resolution: { label: '1h', ms: 3_600_000 },
      from: Date.UTC(2026, 10, 27),
      to: Date.UTC(2026, 10, 28),
      limit: 50,
      cursor: encodeCursor(1_795_737_600_000),
    });
  });

  it('tag instead of device: every device with the tags (repeatable); both, or a bad tag, is an error naming it', () => {
    const q = parse({ device: undefined, tag: ['site=plant-3', 'line=2'] });
    expect(q.device).toBeUndefined();
    expect(q.tags).toEqual([
      { key: 'site', value: 'plant-3' },
      { key: 'line', value: '2' },
    ]);
    expect(errorOf(() => parse({ tag: 'site=plant-3' })).message).toMatch(/^device: give device or tag, not both/);
    expect(errorOf(() => parse({ device: undefined, tag: 'site' })).message).toMatch(/^tag: /);
    expect(errorOf(() => parse({ device: undefined })).message).toMatch(/^device: /);
  });

  it('defaults: the first configured resolution, limit 1000 (or the max page size if smaller), no cursor', () => {
    const q = parse({ resolution: undefined });
    expect(q.resolution.label).toBe('1m');
    expect(q.limit).toBe(1000);
    expect('cursor' in q).toBe(false);
    expect(parse({}, { resolutions: RESOLUTIONS, maxPageSize: 200 }).limit).toBe(200);
    expect(parse({}, { ...OPTS, defaultLimit: 7 }).limit).toBe(7);
  });

  // [parameter at fault, query overrides, code]
  const mistakes: Array<[string, Record<string, unknown>, string]> = [
    ['device', { device: undefined }, 'missing_parameter'],
    ['device', { device: '' }, 'missing_parameter'],
    ['device', { device: 'has space' }, 'invalid_parameter'],
    ['device', { device: '-leading-dash' }, 'invalid_parameter'],
    ['device', { device: 'x'.repeat(65) }, 'invalid_parameter'],
    ['device', { device: ['a', 'b'] }, 'invalid_parameter'],
    ['sensor', { sensor: undefined }, 'missing_parameter'],
    ['sensor', { sensor: 'a/b' }, 'invalid_parameter'],
    ['sensor', { sensor: ['a', 'a'] }, 'invalid_parameter'],
    ['resolution', { resolution: '5m' }, 'invalid_parameter'],
    ['resolution', { resolution: '' }, 'invalid_parameter'],
    ['resolution', { resolution: ['1m', '1h'] }, 'invalid_parameter'],
    ['from', { from: undefined }, 'missing_parameter'],
    ['from', { from: '' }, 'missing_parameter'],
    ['from', { from: 'yesterday' }, 'invalid_parameter'],
    ['from', { from: '1795737600000' }, 'invalid_parameter'],
    ['from', { from: '2026-11-27 10:00:00Z' }, 'invalid_parameter'],
    ['from', { from: '2026-13-01' }, 'invalid_parameter'],
    ['from', { from: '2026-11-27T25:00:00Z' }, 'invalid_parameter'],
    ['from', { from: '2026-11-27T10:60Z' }, 'invalid_parameter'],
    ['from', { from: '2026-02-30' }, 'invalid_parameter'],
    ['from', { from: '2026-11-31T00:00:00Z', to: '2026-12-05T00:00:00Z' }, 'invalid_parameter'],
    ['from', { from: '2026-11-27Z' }, 'invalid_parameter'],
    ['from', { from: { nested: 'object' } }, 'invalid_parameter'],
    ['to', { to: undefined }, 'missing_parameter'],
    ['to', { to: '2026-11-27T10:00:00+25:00' }, 'invalid_parameter'],
    ['to', { to: '2026-11-31' }, 'invalid_parameter'],
    ['to', { to: GOOD.from }, 'invalid_parameter'],
    ['to', { to: '2026-11-26T23:59:59Z' }, 'invalid_parameter'],
    ['limit', { limit: '0' }, 'invalid_parameter'],
    ['limit', { limit: '10001' }, 'invalid_parameter'],
    ['limit', { limit: '-1' }, 'invalid_parameter'],
    ['limit', { limit: '1.5' }, 'invalid_parameter'],
    ['limit', { limit: '1e3' }, 'invalid_parameter'],
    ['limit', { limit: 'ten' }, 'invalid_parameter'],
    ['limit', { limit: '' }, 'invalid_parameter'],
    ['limit', { limit: ['1', '2'] }, 'invalid_parameter'],
    ['cursor', { cursor: 'garbage!' }, 'invalid_parameter'],
    ['cursor', { cursor: '' }, 'invalid_parameter'],
    ['cursor', { cursor: Buffer.from('s:12abc').toString('base64url') }, 'invalid_parameter'],
    ['cursor', { cursor: [encodeCursor(1), encodeCursor(2)] }, 'invalid_parameter'],
    ['bogus', { bogus: '1' }, 'unknown_parameter'],
    ['Device', { Device: 'press-07' }, 'unknown_parameter'],
  ];
  it.each(mistakes)('%s at fault: %j', (name, over, code) => {
    const err = errorOf(() => parse(over));
    expect(err.message.startsWith(`${name}:`), err.message).toBe(true);
    expect(err.code).toBe(code);
  });

  it('limit bounds are inclusive: 1 and maxPageSize are accepted, leading zeros too', () => {
    expect(parse({ limit: '1' }).limit).toBe(1);
    expect(parse({ limit: '10000' }).limit).toBe(10_000);
    expect(parse({ limit: '007' }).limit).toBe(7);
    expect(errorOf(() => parse({ limit: '101' }, { resolutions: RESOLUTIONS, maxPageSize: 100 })).message).toMatch(/^limit: .*1 to 100/);
  });

  it('property: any limit string is either an integer in [1, max] or a limit error', () => {
    fc.assert(
      fc.property(fc.oneof(fc.integer({ min: -5, max: 10_010 }).map(String), fc.string({ maxLength: 8 })), (raw) => {
        let result: number | QueryError;
        try {
          result = parse({ limit: raw }).limit;
        } catch (err) {
          result = err as QueryError;
        }
        if (/^\d+$/.test(raw) && Number(raw) >= 1 && Number(raw) <= 10_000) expect(result).toBe(Number(raw));
        else {
          expect(result).toBeInstanceOf(QueryError);
          expect((result as QueryError).message.startsWith('limit:')).toBe(true);
        }
      }),
    );
  });
});

describe('parseTime', () => {
  const savedTz = process.env.TZ;
  afterEach(() => {
    if (savedTz === undefined) delete process.env.TZ;
    else process.env.TZ = savedTz;
  });

  it('accepts the ISO 8601 variants, all meaning UTC unless an offset says otherwise', () => {
    // Run in a zone far from UTC so that "no zone" being read as local time would show.
    process.env.TZ = 'America/Los_Angeles';
    const base = Date.UTC(2026, 10, 27, 10, 0, 0);
    const cases: Array<[string, number]> = [
      ['2026-11-27', Date.UTC(2026, 10, 27)],
      ['2026-11-27T10:00:00Z', base],
      ['2026-11-27T10:00Z', base],
      ['2026-11-27T10:00:00.250Z', base + 250],
      ['2026-11-27T10:00:00.123456789Z', base + 123],
      ['2026-11-27T10:00:00', base],
      ['2026-11-27T10:00', base],
      ['2026-11-27T10:00:00.5', base + 500],
      ['2026-11-27T11:00:00+01:00', base],
      ['2026-11-27T11:00:00+0100', base],
      ['2026-11-27T05:30:00-04:30', base],
      ['2026-11-27T10:00:00-00:00', base],
      ['2024-02-29', Date.UTC(2024, 1, 29)],
      ['2000-02-29T00:00Z', Date.UTC(2000, 1, 29)],
      ['1969-07-20T20:17:40Z', Date.UTC(1969, 6, 20, 20, 17, 40)],
    ];
    for (const [raw, ms] of cases) expect([raw, parseTime('from', raw)]).toEqual([raw, ms]);
  });

  it('rejects dates that do not exist instead of rolling them over', () => {
    for (const raw of ['2026-02-29', '2026-02-30', '2026-04-31', '1900-02-29T00:00Z', '2026-00-10', '2026-11-00', '2026-11-32']) {
      const err = errorOf(() => parseTime('to', raw));
      expect(err.message.startsWith('to:'), raw).toBe(true);
    }
  });

  it('property: every UTC instant printed by toISOString parses back to itself', () => {
    fc.assert(
      fc.property(fc.integer({ min: Date.UTC(1000, 0, 1), max: Date.UTC(9999, 11, 31) }), (ms) => {
        expect(parseTime('from', new Date(ms).toISOString())).toBe(ms);
      }),
      { numRuns: 500 },
    );
  });
});

describe('cursors', () => {
  it('round-trip any bucket start, including negative ones, through an opaque url-safe token', () => {
    fc.assert(
      fc.property(fc.maxSafeInteger(), (start) => {
        const c = encodeCursor(start);
        expect(c).toMatch(/^[A-Za-z0-9_-]+$/);
        expect(decodeCursor(c)).toBe(start);
        expect(parse({ cursor: c }).cursor).toBe(c);
      }),
    );
  });

  it('rejects tokens this API did not make, naming the cursor', () => {
    for (const c of ['', 'abc', Buffer.from('s:').toString('base64url'), Buffer.from('x:1').toString('base64url'), Buffer.from('s:1 ').toString('base64url')]) {
      expect(errorOf(() => decodeCursor(c)).message.startsWith('cursor:')).toBe(true);
    }
  });
});

describe('parseStreamQuery', () => {
  it('makes every filter optional and keeps the ones given', () => {
    expect(parseStreamQuery({}, OPTS)).toEqual({});
    expect(parseStreamQuery({ device: 'press-07', sensor: 'temp_c', resolution: '1h' }, OPTS)).toEqual({
      device: 'press-07',
      sensor: 'temp_c',
      resolution: { label: '1h', ms: 3_600_000 },
    });
    expect(parseStreamQuery({ sensor: 'temp_c' }, OPTS)).toEqual({ sensor: 'temp_c' });
  });

  const mistakes: Array<[string, Record<string, unknown>, string]> = [
    ['device', { device: '' }, 'invalid_parameter'],
    ['device', { device: 'has space' }, 'invalid_parameter'],
    ['device', { device: ['a', 'b'] }, 'invalid_parameter'],
    ['sensor', { sensor: '' }, 'invalid_parameter'],
    ['sensor', { sensor: 'x'.repeat(65) }, 'invalid_parameter'],
    ['resolution', { resolution: '5m' }, 'invalid_parameter'],
    ['resolution', { resolution: '' }, 'invalid_parameter'],
    ['from', { from: '2026-11-27' }, 'unknown_parameter'],
    ['limit', { limit: '10' }, 'unknown_parameter'],
  ];
  it.each(mistakes)('%s at fault: %j', (name, query, code) => {
    const err = errorOf(() => parseStreamQuery(query, OPTS));
    expect(err.message.startsWith(`${name}:`), err.message).toBe(true);
    expect(err.code).toBe(code);
  });
});
