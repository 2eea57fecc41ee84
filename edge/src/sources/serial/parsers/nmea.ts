// nmea: NMEA 0183 GGA / RMC / VTG sentences from any talker (GP, GN, GL, GA, BD …), checksum required.
// Readings: lat, lon (signed decimal degrees, S/W negative), alt_m, fix_quality, satellites, hdop (GGA);
// speed_kn, course_deg (RMC, VTG). No device time: GGA carries only a time of day, so readings get the
// receive time. Other sentences (GSA, GSV, proprietary $P…) are checked and ignored without error.
//
// One fix is reported by several sentences (GGA and RMC both carry the position, RMC and VTG the speed).
// So that a fix yields each quantity once, the parser keeps one piece of state: the UTC time field of the
// last GGA/RMC (the "epoch") and which quantities it already produced in that epoch.
import type { SourceReading } from '../../source.js';
import type { SerialParserConfig } from '../config.js';
import { fail, NO_READINGS, quote, type LineParser, type ParseResult } from './parse-result.js';
import { parseDecimal } from './values.js';

export type NmeaParserConfig = Extract<SerialParserConfig, { format: 'nmea' }>;

const POSITION = 1;
const MOTION = 2;

/** Fields (address included) up to the last one each sentence's readings need. */
const MIN_FIELDS = { GGA: 10, RMC: 8, VTG: 5 } as const;

export function createNmeaParser(config: NmeaParserConfig): LineParser {
  return new NmeaParser(config.sentences).parse;
}

class NmeaParser {
  private readonly gga: boolean;
  private readonly rmc: boolean;
  private readonly vtg: boolean;
  private epoch: string | undefined;
  private produced = 0;

  constructor(sentences: readonly string[]) {
    this.gga = sentences.includes('GGA');
    this.rmc = sentences.includes('RMC');
    this.vtg = sentences.includes('VTG');
  }

  readonly parse = (line: string): ParseResult => {
    // A sentence never contains '$': anything before the last one is line noise.
    const start = line.lastIndexOf('$');
    if (start < 0) return fail('bad_sentence', `not an NMEA sentence: ${quote(line)}`);
    const star = line.length - 3;
    if (star <= start || line.charCodeAt(star) !== 42 /* '*' */) {
      return fail('bad_checksum', line.indexOf('*', start) < 0 ? 'missing checksum' : 'checksum must be the last 2 characters');
    }
    const expected = hexByte(line.charCodeAt(star + 1), line.charCodeAt(star + 2));
    let sum = 0;
    for (let i = start + 1; i < star; i++) sum ^= line.charCodeAt(i);
    if (expected < 0 || sum !== expected) {
      return fail('bad_checksum', `computed ${sum.toString(16).toUpperCase().padStart(2, '0')}, sentence says ${line.slice(star + 1)}`);
    }
    const fields = line.slice(start + 1, star).split(',');
    const address = fields[0]!;
    // Standard sentences: 2-letter talker + 3-letter type. Proprietary ($P…) and others are not ours.
    if (address.length !== 5 || address.charCodeAt(0) === 80 /* 'P' */) return { readings: NO_READINGS };
    const type = address.slice(2);
    if (type === 'GGA' && this.gga) return this.parseGga(fields);
    if (type === 'RMC' && this.rmc) return this.parseRmc(fields);
    if (type === 'VTG' && this.vtg) return this.parseVtg(fields);
    return { readings: NO_READINGS };
  };

  /** GGA: time, lat, N/S, lon, E/W, quality, satellites, hdop, altitude, M, geoid separation, M, … */
  private parseGga(f: string[]): ParseResult {
    if (f.length < MIN_FIELDS.GGA) return fail('wrong_field_count', `GGA needs at least ${MIN_FIELDS.GGA} fields, got ${f.length}`);
    this.enterEpoch(f[1]!);
    const out: SourceReading[] = [];
    const quality = f[6]!;
    if (quality !== '') {
      const q = parseDecimal(quality);
      if (Number.isNaN(q)) return fail('not_a_number', `GGA fix quality ${quote(quality)}`);
      out.push({ sensor: 'fix_quality', value: q, ts: undefined });
      if (q > 0) {
        const bad = this.position(f[2]!, f[3]!, f[4]!, f[5]!, out);
        if (bad !== undefined) return bad;
        if (f[9] !== '') {
          const alt = parseDecimal(f[9]!);
          if (Number.isNaN(alt)) return fail('not_a_number', `GGA altitude ${quote(f[9]!)}`);
          out.push({ sensor: 'alt_m', value: alt, ts: undefined });
        }
      }
    }
    const sats = optionalNumber(f[7]!, 'satellites', out);
    if (sats !== undefined) return sats;
    const hdop = optionalNumber(f[8]!, 'hdop', out);
    if (hdop !== undefined) return hdop;
    return { readings: out };
  }

  /** RMC: time, status A/V, lat, N/S, lon, E/W, speed (knots), course (true), date, … */
  private parseRmc(f: string[]): ParseResult {
    if (f.length < MIN_FIELDS.RMC) return fail('wrong_field_count', `RMC needs at least ${MIN_FIELDS.RMC} fields, got ${f.length}`);
    this.enterEpoch(f[1]!);
    if (f[2] !== 'A') return { readings: NO_READINGS }; // V: no valid fix, nothing to report
    const out: SourceReading[] = [];
    const bad = this.position(f[3]!, f[4]!, f[5]!, f[6]!, out);
    if (bad !== undefined) return bad;
    return this.motion('RMC', f[7]!, f[8] ?? '', out);
  }

  /** VTG: course true, T, course magnetic, M, speed knots, N, speed km/h, K, mode — or the old 4-field form. */
  private parseVtg(f: string[]): ParseResult {
    if (f.length < MIN_FIELDS.VTG) return fail('wrong_field_count', `VTG needs at least ${MIN_FIELDS.VTG} fields, got ${f.length}`);
    const modern = f[2] === 'T';
    if (modern && f.length < 7) return fail('wrong_field_count', `VTG needs at least 7 fields, got ${f.length}`);
    if (modern && f[9] === 'N') return { readings: NO_READINGS }; // mode: data not valid
    // Without a time of its own, VTG belongs to the epoch of the last GGA/RMC; with none seen, it stands alone.
    if (this.epoch === undefined) this.produced = 0;
    return this.motion('VTG', modern ? f[5]! : f[3]!, f[1]!, []);
  }

  private enterEpoch(time: string): void {
    if (time === '' || time !== this.epoch) {
      this.epoch = time === '' ? undefined : time;
      this.produced = 0;
    }
  }

  private position(lat: string, ns: string, lon: string, ew: string, out: SourceReading[]): ParseResult | undefined {
    if (lat === '' || lon === '') return undefined;
    if ((this.produced & POSITION) !== 0) return undefined;
    const latDeg = degrees(lat, 90);
    const lonDeg = degrees(lon, 180);
    if (Number.isNaN(latDeg)) return fail('not_a_number', `latitude ${quote(lat)}`);
    if (Number.isNaN(lonDeg)) return fail('not_a_number', `longitude ${quote(lon)}`);
    if ((ns !== 'N' && ns !== 'S') || (ew !== 'E' && ew !== 'W')) return fail('bad_sentence', `hemisphere ${quote(`${ns}/${ew}`)}`);
    out.push({ sensor: 'lat', value: ns === 'S' ? -latDeg : latDeg, ts: undefined });
    out.push({ sensor: 'lon', value: ew === 'W' ? -lonDeg : lonDeg, ts: undefined });
    this.produced |= POSITION;
    return undefined;
  }

  private motion(sentence: string, speed: string, course: string, out: SourceReading[]): ParseResult {
    if ((this.produced & MOTION) !== 0 || (speed === '' && course === '')) return { readings: out };
    if (speed !== '') {
      const v = parseDecimal(speed);
      if (Number.isNaN(v)) return fail('not_a_number', `${sentence} speed ${quote(speed)}`, out);
      out.push({ sensor: 'speed_kn', value: v, ts: undefined });
    }
    if (course !== '') {
      const v = parseDecimal(course);
      if (Number.isNaN(v)) return fail('not_a_number', `${sentence} course ${quote(course)}`, out);
      out.push({ sensor: 'course_deg', value: v, ts: undefined });
    }
    if (this.epoch !== undefined) this.produced |= MOTION;
    return { readings: out };
  }
}

/** Pushes a reading for a non-empty field; a failure result when it is not a number. */
function optionalNumber(raw: string, sensor: string, out: SourceReading[]): ParseResult | undefined {
  if (raw === '') return undefined;
  const v = parseDecimal(raw);
  if (Number.isNaN(v)) return fail('not_a_number', `GGA ${sensor} ${quote(raw)}`);
  out.push({ sensor, value: v, ts: undefined });
  return undefined;
}

/** `ddmm.mmmm` / `dddmm.mmmm` → decimal degrees, NaN when malformed or out of range. */
function degrees(field: string, max: number): number {
  const v = parseDecimal(field);
  if (Number.isNaN(v) || v < 0) return NaN;
  const whole = Math.trunc(v / 100);
  const minutes = v - whole * 100;
  if (minutes >= 60) return NaN;
  const deg = whole + minutes / 60;
  return deg > max ? NaN : deg;
}

function hexByte(hi: number, lo: number): number {
  const h = hexDigit(hi);
  const l = hexDigit(lo);
  return h < 0 || l < 0 ? -1 : h * 16 + l;
}

function hexDigit(c: number): number {
  if (c >= 48 && c <= 57) return c - 48;
  if (c >= 65 && c <= 70) return c - 55;
  if (c >= 97 && c <= 102) return c - 87;
  return -1;
}
