import { describe, expect, it } from 'vitest';
import { createRegexParser } from './regex.js';

describe('regex parser', () => {
  const p = createRegexParser({ format: 'regex', pattern: '^T=(?<temp_c>\\S+) P=(?<pressure_kpa>\\S+)(?: @(?<at>\\S+))?$' });

  it('turns named groups into sensors', () => {
    expect(p('T=21.5 P=101.3')).toEqual({
      readings: [
        { sensor: 'temp_c', value: 21.5 },
        { sensor: 'pressure_kpa', value: 101.3 },
      ],
    });
  });

  it('counts lines that do not match, and non-numeric groups', () => {
    expect(p('hello')).toMatchObject({ error: 'no_match' });
    expect(p('T=hot P=101.3')).toEqual({ error: 'not_a_number', detail: 'temp_c: "hot"', readings: [{ sensor: 'pressure_kpa', value: 101.3 }] });
  });

  it('skips groups that did not take part, and counts a match without values', () => {
    const alt = createRegexParser({ format: 'regex', pattern: 'T=(?<temp_c>[\\d.]+)|P=(?<pressure_kpa>[\\d.]*)' });
    expect(alt('P=7').readings).toEqual([{ sensor: 'pressure_kpa', value: 7 }]);
    expect(alt('P=')).toMatchObject({ error: 'no_readings' });
  });

  it('takes the device time from timestamp_group', () => {
    const t = createRegexParser({ format: 'regex', pattern: '^(?<at>\\S+) T=(?<temp_c>\\S+)$', timestamp_group: 'at' });
    expect(t('2024-05-01T12:00:00Z T=21.5').readings).toEqual([{ sensor: 'temp_c', value: 21.5, ts: Date.UTC(2024, 4, 1, 12) }]);
    expect(t('1714564800000 T=21.5').readings).toEqual([{ sensor: 'temp_c', value: 21.5, ts: 1714564800000 }]);
    expect(t('later T=21.5')).toMatchObject({ error: 'bad_timestamp' });
    const optional = createRegexParser({ format: 'regex', pattern: '^(?:(?<at>\\d+) )?T=(?<temp_c>\\S+)$', timestamp_group: 'at' });
    expect(optional('T=1')).toMatchObject({ error: 'bad_timestamp' });
  });
});
