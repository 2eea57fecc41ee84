import { describe, expect, it } from 'vitest';
import { createJsonParser } from './json.js';

const json = (timestamp_field = 'ts') => createJsonParser({ format: 'json', timestamp_field });

describe('json parser', () => {
  it('makes numeric members sensors and ignores strings, nulls and arrays', () => {
    expect(json()('{"temp_c":21.5,"rh":40,"unit":"C","err":null,"hist":[1,2]}')).toEqual({
      readings: [
        { sensor: 'temp_c', value: 21.5 },
        { sensor: 'rh', value: 40 },
      ],
    });
  });

  it('turns booleans into 1/0', () => {
    expect(json()('{"door_open":true,"alarm":false}').readings).toEqual([
      { sensor: 'door_open', value: 1 },
      { sensor: 'alarm', value: 0 },
    ]);
  });

  it('flattens nested objects with "."', () => {
    expect(json()('{"env":{"temp_c":21.5,"air":{"co2":412}},"ok":1}').readings).toEqual([
      { sensor: 'env.temp_c', value: 21.5 },
      { sensor: 'env.air.co2', value: 412 },
      { sensor: 'ok', value: 1 },
    ]);
  });

  it('takes the time from the ts member (ms or ISO 8601), which is not a sensor', () => {
    expect(json()('{"ts":1714564800000,"t":1}').readings).toEqual([{ sensor: 't', value: 1, ts: 1714564800000 }]);
    expect(json()('{"t":1,"ts":"2024-05-01T12:00:00Z"}').readings).toEqual([{ sensor: 't', value: 1, ts: Date.UTC(2024, 4, 1, 12) }]);
    expect(json()('{"t":1,"ts":null}').readings).toEqual([{ sensor: 't', value: 1 }]);
    expect(json()('{"t":1,"ts":-5}')).toMatchObject({ error: 'bad_timestamp' });
    expect(json()('{"t":1,"ts":"soon"}')).toMatchObject({ error: 'bad_timestamp' });
    expect(json()('{"t":1,"ts":true}')).toMatchObject({ error: 'bad_timestamp' });
  });

  it('honours timestamp_field, also as a dotted path', () => {
    expect(json('time')('{"time":1714564800000,"ts":3}').readings).toEqual([{ sensor: 'ts', value: 3, ts: 1714564800000 }]);
    expect(json('meta.time')('{"meta":{"time":1714564800000,"seq":7},"t":1}').readings).toEqual([
      { sensor: 'meta.seq', value: 7, ts: 1714564800000 },
      { sensor: 't', value: 1, ts: 1714564800000 },
    ]);
  });

  it('refuses what is not a JSON object', () => {
    expect(json()('{"t":')).toMatchObject({ error: 'bad_json' });
    expect(json()('[1,2]')).toEqual({ error: 'bad_json', detail: 'expected an object, got an array' });
    expect(json()('42')).toMatchObject({ error: 'bad_json' });
    expect(json()('null')).toMatchObject({ error: 'bad_json' });
  });

  it('refuses invalid sensor names and non-finite numbers but keeps the good members', () => {
    expect(json()('{"bad name":1,"t":2}')).toEqual({ error: 'invalid_sensor_name', detail: '"bad name"', readings: [{ sensor: 't', value: 2 }] });
    expect(json()(`{"${'x'.repeat(65)}":1}`)).toMatchObject({ error: 'invalid_sensor_name' });
    expect(json()('{"t":1e999,"u":1}')).toMatchObject({ error: 'not_a_number', readings: [{ sensor: 'u', value: 1 }] });
  });

  it('counts an object without readings', () => {
    expect(json()('{"status":"booting"}')).toMatchObject({ error: 'no_readings' });
    expect(json()('{}')).toMatchObject({ error: 'no_readings' });
  });

  it('survives deep nesting', () => {
    const deep = `${'{"a":'.repeat(5000)}1${'}'.repeat(5000)}`;
    expect(json()(deep)).toMatchObject({ error: 'invalid_sensor_name' });
  });
});
