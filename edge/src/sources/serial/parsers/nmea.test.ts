import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import type { SourceReading } from '../../source.js';
import { NMEA_SENTENCES } from '../config.js';
import { createNmeaParser } from './nmea.js';
import { sentence } from '../test-support/nmea-sentence.js';

const CAPTURES = fileURLToPath(new URL('../../../../../test/fixtures/nmea/', import.meta.url));

const nmea = (sentences: ('GGA' | 'RMC' | 'VTG')[] = [...NMEA_SENTENCES]) => createNmeaParser({ format: 'nmea', sentences });

function byName(readings: readonly SourceReading[] | undefined): Record<string, number> {
  return Object.fromEntries((readings ?? []).map((r) => [r.sensor, r.value]));
}

describe('nmea parser', () => {
  it('decodes GGA: signed position, altitude, fix quality, satellites, hdop; no device time', () => {
    // Adafruit Ultimate GPS HAT (mt3339.log), Bend, Oregon: north and WEST.
    const r = nmea()('$GPGGA,202640.000,4404.1306,N,12118.8515,W,2,10,0.98,1127.7,M,-19.6,M,0000,0000*6C');
    expect(r.error).toBeUndefined();
    const v = byName(r.readings);
    expect(v.lat).toBeCloseTo(44 + 4.1306 / 60, 9);
    expect(v.lon).toBeCloseTo(-(121 + 18.8515 / 60), 9);
    expect(v).toMatchObject({ alt_m: 1127.7, fix_quality: 2, satellites: 10, hdop: 0.98 });
    expect(r.readings?.every((x) => x.ts === undefined)).toBe(true);
  });

  it('gives SOUTH latitudes and EAST longitudes their signs', () => {
    // GlobalSat BU-353-S4 (bu353s4.log), Hamilton, New Zealand.
    const v = byName(nmea()('$GPGGA,030719.000,3747.0873,S,17518.8938,E,1,08,1.1,59.9,M,23.7,M,,0000*7D').readings);
    expect(v.lat).toBeCloseTo(-(37 + 47.0873 / 60), 9);
    expect(v.lon).toBeCloseTo(175 + 18.8938 / 60, 9);
  });

  it('decodes RMC position, speed and course; a void RMC gives nothing', () => {
    const v = byName(nmea()('$GPRMC,225308,A,4527.458,S,16709.165,E,000.0,094.5,060601,024.1,E*6D').readings);
    expect(v.lat).toBeCloseTo(-(45 + 27.458 / 60), 9);
    expect(v.lon).toBeCloseTo(167 + 9.165 / 60, 9);
    expect(v).toMatchObject({ speed_kn: 0, course_deg: 94.5 });
    expect(nmea()(sentence('GPRMC,225309,V,,,,,,,060601,,,N'))).toEqual({ readings: [] });
  });

  it('decodes VTG in the modern and the old form', () => {
    expect(byName(nmea()('$GPVTG,296.61,T,,M,0.00,N,0.0,K,A*07').readings)).toEqual({ speed_kn: 0, course_deg: 296.61 });
    expect(byName(nmea()(sentence('GPVTG,054.7,034.4,005.5,010.2')).readings)).toEqual({ speed_kn: 5.5, course_deg: 54.7 });
    expect(nmea()(sentence('GPVTG,,T,,M,,N,,K,N'))).toEqual({ readings: [] });
  });

  it('accepts any talker', () => {
    for (const talker of ['GP', 'GN', 'GL', 'GA', 'BD']) {
      const v = byName(nmea()(sentence(`${talker}GGA,120000.00,5130.0000,N,00007.5000,W,1,12,0.7,35.0,M,47.0,M,,`)).readings);
      expect(v.lat, talker).toBeCloseTo(51.5, 9);
      expect(v.lon, talker).toBeCloseTo(-0.125, 9);
    }
  });

  it('reports a GGA without fix as fix_quality 0 and no position', () => {
    expect(byName(nmea()(sentence('GPGGA,120000.00,,,,,0,03,,,,,,,')).readings)).toEqual({ fix_quality: 0, satellites: 3 });
  });

  it('refuses bad and missing checksums, and lines that are not sentences', () => {
    expect(nmea()('$GPGGA,202640.000,4404.1306,N,12118.8515,W,2,10,0.98,1127.7,M,-19.6,M,0000,0000*6D')).toEqual({
      error: 'bad_checksum',
      detail: 'computed 6C, sentence says 6D',
    });
    expect(nmea()('$GPGGA,202640.000,4404.1306,N,12118.8515,W,2,10,0.98,1127.7,M,-19.6,M,0000,0000')).toEqual({
      error: 'bad_checksum',
      detail: 'missing checksum',
    });
    expect(nmea()('$GPGGA,1*ZZ')).toMatchObject({ error: 'bad_checksum' });
    expect(nmea()('hello')).toMatchObject({ error: 'bad_sentence' });
  });

  it('tolerates noise before the $ (the checksum still protects the sentence)', () => {
    expect(nmea()('\u0000\u00ff$GPVTG,296.61,T,,M,0.00,N,0.0,K,A*07').readings).toHaveLength(2);
  });

  it('refuses malformed fields in a sentence with a good checksum', () => {
    expect(nmea()(sentence('GPGGA,1,4404.1306,X,12118.8515,W,1,10,1,1,M,,,,'))).toMatchObject({ error: 'bad_sentence' });
    expect(nmea()(sentence('GPGGA,1,4475.0000,N,12118.8515,W,1,10,1,1,M,,,,'))).toMatchObject({ error: 'not_a_number' });
    expect(nmea()(sentence('GPGGA,1,9100.0000,N,12118.8515,W,1,10,1,1,M,,,,'))).toMatchObject({ error: 'not_a_number' });
    expect(nmea()(sentence('GPGGA,1,4404.1306,N'))).toMatchObject({ error: 'wrong_field_count' });
    expect(nmea()(sentence('GPRMC,1,A,4404.1306,N,12118.8515,W,fast,,'))).toMatchObject({ error: 'not_a_number' });
  });

  it('ignores other sentence types and the unconfigured ones without error', () => {
    expect(nmea()('$GPGSA,A,3,17,28,06,01,30,20,26,13,,,,,1.8,1.1,1.5*33')).toEqual({ readings: [] });
    expect(nmea()('$PGRME,9.1,M,15.0,M,12.0,M*21')).toEqual({ readings: [] });
    expect(nmea(['RMC'])('$GPGGA,030719.000,3747.0873,S,17518.8938,E,1,08,1.1,59.9,M,23.7,M,,0000*7D')).toEqual({ readings: [] });
  });

  it('reports each quantity once per fix although GGA, RMC and VTG repeat it', () => {
    const p = nmea();
    const cycle = [
      '$GPGGA,185244.000,4854.2575,N,00219.9816,E,1,05,1.7,124.4,M,47.3,M,,0000*56',
      '$GPRMC,185244.000,A,4854.2575,N,00219.9816,E,0.00,296.61,210706,,,A*6C',
      '$GPVTG,296.61,T,,M,0.00,N,0.0,K,A*07',
    ];
    const sensors = cycle.flatMap((l) => p(l).readings ?? []).map((r) => r.sensor);
    expect(sensors.sort()).toEqual(['alt_m', 'course_deg', 'fix_quality', 'hdop', 'lat', 'lon', 'satellites', 'speed_kn']);
    // The next fix (a new UTC time) reports again.
    expect(byName(p(sentence('GPRMC,185245.000,A,4854.2575,N,00219.9816,E,1.00,296.61,210706,,,A')).readings)).toMatchObject({ speed_kn: 1 });
    // Only RMC configured: it supplies the position; only VTG: every VTG counts.
    expect(byName(nmea(['RMC'])(cycle[1]!).readings)).toHaveProperty('lat');
    const vtgOnly = nmea(['VTG']);
    expect(vtgOnly(cycle[2]!).readings).toHaveLength(2);
    expect(vtgOnly(cycle[2]!).readings).toHaveLength(2);
  });

  describe('real receivers (test/fixtures/nmea)', () => {
    const files = readdirSync(CAPTURES).filter((f) => f.endsWith('.log'));

    it('has the captures', () => {
      expect(files.sort()).toEqual(['bu353s4.log', 'garmin48.log', 'gpslim236.log', 'mt3339.log']);
    });

    for (const file of ['bu353s4.log', 'garmin48.log', 'gpslim236.log', 'mt3339.log']) {
      it(`${file}: every fix parses, errors below 2%`, () => {
        // `#` lines are the capture's own annotations, not receiver output.
        const lines = readFileSync(CAPTURES + file, 'utf8')
          .split(/\r?\n/)
          .filter((l) => l !== '' && !l.startsWith('#'));
        const p = nmea();
        const errors: string[] = [];
        const counts: Record<string, number> = {};
        for (const line of lines) {
          const r = p(line);
          if (r.error !== undefined) errors.push(`${r.error}: ${line}`);
          for (const x of r.readings ?? []) {
            expect(Number.isFinite(x.value)).toBe(true);
            counts[x.sensor] = (counts[x.sensor] ?? 0) + 1;
          }
        }
        expect(errors.length / lines.length).toBeLessThan(0.02);
        const fixes = lines.filter((l) => /^\$..GGA,/.test(l)).length;
        // One position per GGA (RMC of the same fix adds none), all with a fix in these captures.
        expect(counts.lat).toBe(fixes);
        expect(counts.fix_quality).toBe(fixes);
        expect(counts.speed_kn).toBe(lines.filter((l) => /^\$..RMC,/.test(l)).length);
      });
    }

    it('garmin48.log: the one truncated sentence fails its checksum', () => {
      const p = nmea();
      const bad = readFileSync(CAPTURES + 'garmin48.log', 'utf8')
        .split(/\r?\n/)
        .filter((l) => l.startsWith('$'))
        .map((l) => ({ l, r: p(l) }))
        .filter(({ r }) => r.error !== undefined);
      expect(bad.map(({ r }) => r.error)).toEqual(['bad_checksum']);
      expect(bad[0]!.l).toMatch(/\*7$/);
    });

    it('mt3339.log (our HAT): the first fix decodes to Bend, Oregon', () => {
      const p = nmea();
      const first = readFileSync(CAPTURES + 'mt3339.log', 'utf8').split(/\r?\n/).find((l) => l.startsWith('$GPGGA'))!;
      const v = byName(p(first).readings);
      expect(v.lat).toBeCloseTo(44.0688, 4);
      expect(v.lon).toBeCloseTo(-121.3142, 4);
    });
  });
});
