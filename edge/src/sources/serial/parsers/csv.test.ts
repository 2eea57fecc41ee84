import { describe, expect, it } from 'vitest';
import { createCsvParser, type CsvParserConfig } from './csv.js';

const csv = (over: Partial<CsvParserConfig> = {}) =>
  createCsvParser({ format: 'csv', columns: ['temp_c', 'pressure_kpa'], delimiter: ',', skip_header: false, ...over });

describe('csv parser', () => {
  it('maps values to columns in order, with receive time', () => {
    expect(csv()('21.5,101.3')).toEqual({
      readings: [
        { sensor: 'temp_c', value: 21.5 },
        { sensor: 'pressure_kpa', value: 101.3 },
      ],
    });
    expect(csv()('21.5,101.3').readings?.every((r) => r.ts === undefined)).toBe(true);
  });

  it('uses the configured delimiter', () => {
    expect(csv({ delimiter: ';' })('1;2').readings).toEqual([
      { sensor: 'temp_c', value: 1 },
      { sensor: 'pressure_kpa', value: 2 },
    ]);
    expect(csv({ delimiter: '\t' })('1\t2').readings).toHaveLength(2);
  });

  it('refuses a line with the wrong number of fields', () => {
    expect(csv()('1,2,3')).toEqual({ error: 'wrong_field_count', detail: 'expected 2 fields, got 3' });
    expect(csv()('1')).toMatchObject({ error: 'wrong_field_count' });
  });

  it('skips empty cells', () => {
    expect(csv()(',101.3')).toEqual({ readings: [{ sensor: 'pressure_kpa', value: 101.3 }] });
    expect(csv()(' ,')).toMatchObject({ error: 'no_readings' });
  });

  it('refuses a non-numeric cell but keeps its neighbours', () => {
    expect(csv()('ERR,101.3')).toEqual({
      error: 'not_a_number',
      detail: 'temp_c: "ERR"',
      readings: [{ sensor: 'pressure_kpa', value: 101.3 }],
    });
    expect(csv()('temp_c,pressure_kpa')).toEqual({ error: 'not_a_number', detail: 'temp_c: "temp_c"' });
  });

  it('takes the device time from timestamp_column (ms or ISO 8601), which is not a sensor', () => {
    const p = csv({ columns: ['time', 'temp_c'], timestamp_column: 'time' });
    expect(p('1714564800000,21.5')).toEqual({ readings: [{ sensor: 'temp_c', value: 21.5, ts: 1714564800000 }] });
    expect(p('2024-05-01T12:00:00Z,21.5').readings).toEqual([{ sensor: 'temp_c', value: 21.5, ts: Date.UTC(2024, 4, 1, 12) }]);
    expect(p('noon,21.5')).toMatchObject({ error: 'bad_timestamp' });
    expect(p(',21.5')).toMatchObject({ error: 'bad_timestamp' });
  });
});
