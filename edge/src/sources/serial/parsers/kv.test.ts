import { describe, expect, it } from 'vitest';
import { createKvParser } from './kv.js';

const kv = (separator = '=') => createKvParser({ format: 'kv', separator });

describe('kv parser', () => {
  it('reads name=value pairs separated by blanks, commas or semicolons', () => {
    expect(kv()('temp_c=21.5 rh=40')).toEqual({
      readings: [
        { sensor: 'temp_c', value: 21.5 },
        { sensor: 'rh', value: 40 },
      ],
    });
    expect(kv()('  temp_c=21.5,\trh=40; co2=412 ').readings?.map((r) => r.sensor)).toEqual(['temp_c', 'rh', 'co2']);
  });

  it('uses the configured separator, even a multi-character one', () => {
    expect(kv(':')('temp_c:21.5 rh:40').readings).toHaveLength(2);
    expect(kv('=>')('t=>1').readings).toEqual([{ sensor: 't', value: 1 }]);
    // A separator with a blank: pairs are split at , and ; only.
    expect(kv(': ')('temp_c: 21.5, rh: 40').readings).toEqual([
      { sensor: 'temp_c', value: 21.5 },
      { sensor: 'rh', value: 40 },
    ]);
    // A comma separator is not also a pair delimiter.
    expect(kv(',')('t,1 u,2').readings).toEqual([
      { sensor: 't', value: 1 },
      { sensor: 'u', value: 2 },
    ]);
  });

  it('counts non-numeric values as not_a_number, keeping the good pairs', () => {
    expect(kv()('temp_c=hot rh=40')).toEqual({ error: 'not_a_number', detail: '"temp_c=hot"', readings: [{ sensor: 'rh', value: 40 }] });
    expect(kv()('t=NaN')).toEqual({ error: 'not_a_number', detail: '"t=NaN"' });
  });

  it('refuses bad names and pairs without a separator', () => {
    expect(kv()('=5 t=1')).toMatchObject({ error: 'invalid_sensor_name', readings: [{ sensor: 't', value: 1 }] });
    expect(kv()('-x=5')).toMatchObject({ error: 'invalid_sensor_name' });
    expect(kv()('hello t=1')).toMatchObject({ error: 'missing_separator', detail: '"hello"' });
  });

  it('skips empty values and counts a line with no readings', () => {
    expect(kv()('t= u=2').readings).toEqual([{ sensor: 'u', value: 2 }]);
    expect(kv()('t=')).toMatchObject({ error: 'no_readings' });
    expect(kv()(' ')).toMatchObject({ error: 'no_readings' });
  });
});
