#!/usr/bin/env node
// Writes the v1 wire fixtures in proto/fixtures/v1/: NAME.bin (bytes) + NAME.json (what they must decode to).
// They were generated ONCE and are committed; proto/src/compat.test.ts decodes them forever, which is how a
// schema change proves it is additive. Never regenerate or edit them: add new fixtures (or a v2/ folder).
// Existing files are never overwritten; the script only fills in missing ones.
//
// The bytes are assembled here from the generated static module, independently of src/batch-codec.ts, so
// the test checks the decoder against the wire layout itself, not against our own encoder's habits.
// In the JSON, a value that JSON cannot hold is a string: "-0".
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import protobuf from 'protobufjs/minimal.js';
import { tidemark } from '../src/gen/telemetry.js';

const pb = tidemark.v1;
const outDir = resolve(dirname(fileURLToPath(import.meta.url)), '..', 'fixtures', 'v1');
const STREAM_HEX = '0f1e2d3c4b5a69788796a5b4c3d2e1f0';
const streamId = Uint8Array.from(Buffer.from(STREAM_HEX, 'hex'));
const clock = { synced: true, anchorWallMs: 1741939195000, anchorMonoMs: 86400123 };

/** Columns for one sensor: timestamps as deltas; values decimal-scaled when `exponent` is given. */
function series(sensor, readings, exponent) {
  const mine = readings.filter((r) => r.sensor === sensor);
  let prevTs = 0;
  const timestamps = mine.map((r) => {
    const d = r.ts - prevTs;
    prevTs = r.ts;
    return d;
  });
  if (exponent === undefined) return { sensor, timestamps, values: mine.map((r) => r.value) };
  let prevM = 0;
  const scaledValues = mine.map((r) => {
    const m = Math.round(r.value * 10 ** exponent);
    if (!Object.is(m / 10 ** exponent, r.value)) throw new Error(`${sensor}: ${r.value} is not exact at 10^-${exponent}`);
    const d = m - prevM;
    prevM = m;
    return d;
  });
  return { sensor, timestamps, decimalExponent: exponent, scaledValues };
}

function jsonValue(v) {
  return Object.is(v, -0) ? '-0' : v;
}

/** The expected decode: readings grouped by sensor in series order. */
function expectedBatch(deviceId, seq, readings, sensorOrder) {
  const grouped = sensorOrder.flatMap((s) => readings.filter((r) => r.sensor === s));
  return {
    deviceId,
    streamIdHex: STREAM_HEX,
    seq,
    clock,
    readings: grouped.map((r) => ({ sensor: r.sensor, ts: r.ts, value: jsonValue(r.value) })),
  };
}

const T0 = 1741939200000;

const basicReadings = [
  { sensor: 'temp_c', ts: T0, value: 21.47 },
  { sensor: 'pressure_kpa', ts: T0, value: 101.3 },
  { sensor: 'temp_c', ts: T0 + 101, value: 21.5 },
  { sensor: 'pressure_kpa', ts: T0 + 101, value: 101.2 },
  { sensor: 'temp_c', ts: T0 + 199, value: 21.44 },
  { sensor: 'pressure_kpa', ts: T0 + 199, value: 101.4 },
];
const basicSeries = [series('temp_c', basicReadings, 2), series('pressure_kpa', basicReadings, 1)];

const doublesReadings = [
  { sensor: 'vib_rms', ts: T0 + 500, value: Math.PI },
  { sensor: 'vib_rms', ts: T0 + 400, value: 0.1 + 0.2 }, // out of order: negative delta
  { sensor: 'vib_rms', ts: T0 + 400, value: -0 }, // duplicate timestamp; -0 must survive
  { sensor: 'vib_rms', ts: T0 + 900, value: Number.MAX_VALUE },
  { sensor: 'vib_rms', ts: T0 + 901, value: Number.MIN_VALUE },
  { sensor: 'vib_rms', ts: T0 + 902, value: -1.2345678901234567e-300 },
  { sensor: 'vib_rms', ts: T0 + 903, value: -Number.MAX_VALUE },
];
const doublesSeries = [series('vib_rms', doublesReadings)];

const decimalReadings = [
  { sensor: 'gps_lat', ts: T0, value: 48.137154 },
  { sensor: 'gps_lon', ts: T0, value: 11.576124 },
  { sensor: 'parts_total', ts: 0, value: 9007199254740991 },
  { sensor: 'gps_lat', ts: T0 + 1000, value: 48.137139 },
  { sensor: 'gps_lon', ts: T0 + 1000, value: 11.576201 },
  { sensor: 'parts_total', ts: 9007199254740991, value: 0 },
  { sensor: 'gps_lat', ts: T0 - 1000, value: -33.868820 },
  { sensor: 'gps_lon', ts: T0 - 1000, value: -151.209296 },
  { sensor: 'parts_total', ts: 5, value: -42 },
];
const decimalSeries = [series('gps_lat', decimalReadings, 6), series('gps_lon', decimalReadings, 6), series('parts_total', decimalReadings, 0)];

/** A batch as a future (v1.x) agent might write it: unknown fields at every level. */
function futureBatchBytes() {
  const unknown = (w, field) =>
    w
      .uint32((field << 3) | 0).uint32(12345) // varint
      .uint32(((field + 1) << 3) | 2).string('from the future') // length-delimited
      .uint32(((field + 2) << 3) | 1).double(2.5) // fixed64
      .uint32(((field + 3) << 3) | 5).float(1.5); // fixed32
  const w = protobuf.Writer.create();
  unknown(w, 20);
  w.uint32((1 << 3) | 2).string('press-07');
  w.uint32((2 << 3) | 2).bytes(streamId);
  w.uint32((3 << 3) | 0).uint64(3);
  const c = pb.Batch.ClockState.encode(clock);
  unknown(c, 10);
  w.uint32((4 << 3) | 2).bytes(c.finish());
  for (const s of basicSeries) {
    const sw = pb.Series.encode(s);
    unknown(sw, 30);
    w.uint32((5 << 3) | 2).bytes(sw.finish());
  }
  unknown(w, 100);
  return w.finish();
}

const fixtures = [
  {
    name: 'batch-basic',
    description: 'Two decimal-scaled sensors (2 and 1 decimals), interleaved readings.',
    message: 'tidemark.v1.Batch',
    bytes: pb.Batch.encode({ deviceId: 'press-07', streamId, seq: 1, clock, series: basicSeries }).finish(),
    expected: expectedBatch('press-07', 1, basicReadings, ['temp_c', 'pressure_kpa']),
  },
  {
    name: 'batch-doubles',
    description: 'Raw packed doubles (not decimal-scalable): pi, 0.1+0.2, -0, extremes; out-of-order and duplicate timestamps.',
    message: 'tidemark.v1.Batch',
    bytes: pb.Batch.encode({ deviceId: 'mill.3_b', streamId, seq: 2, clock, series: doublesSeries }).finish(),
    expected: expectedBatch('mill.3_b', 2, doublesReadings, ['vib_rms']),
  },
  {
    name: 'batch-decimal',
    description: 'Decimal scaling with 6 and 0 decimals, negative value and time deltas, ts 0 and MAX_SAFE_INTEGER, seq 2^53-1.',
    message: 'tidemark.v1.Batch',
    bytes: pb.Batch.encode({ deviceId: 'truck-0042', streamId, seq: 9007199254740991, clock, series: decimalSeries }).finish(),
    expected: expectedBatch('truck-0042', 9007199254740991, decimalReadings, ['gps_lat', 'gps_lon', 'parts_total']),
  },
  {
    name: 'batch-future-fields',
    description: 'batch-basic content (seq 3) with unknown fields (all wire types) in Batch, ClockState and Series.',
    message: 'tidemark.v1.Batch',
    bytes: futureBatchBytes(),
    expected: expectedBatch('press-07', 3, basicReadings, ['temp_c', 'pressure_kpa']),
  },
  {
    name: 'ack-basic',
    description: 'One ack result of each status.',
    message: 'tidemark.v1.Ack',
    bytes: pb.Ack.encode({
      deviceId: 'press-07',
      streamId,
      results: [
        { seq: 1, status: pb.AckStatus.ACK_STATUS_OK },
        { seq: 2, status: pb.AckStatus.ACK_STATUS_DUPLICATE },
        { seq: 3, status: pb.AckStatus.ACK_STATUS_REJECTED, reason: 'readings[0].value: expected a finite number, got NaN' },
      ],
    }).finish(),
    expected: {
      deviceId: 'press-07',
      streamIdHex: STREAM_HEX,
      results: [
        { seq: 1, status: 'ok' },
        { seq: 2, status: 'duplicate' },
        { seq: 3, status: 'rejected', reason: 'readings[0].value: expected a finite number, got NaN' },
      ],
    },
  },
];

mkdirSync(outDir, { recursive: true });
for (const f of fixtures) {
  const bin = join(outDir, `${f.name}.bin`);
  const json = join(outDir, `${f.name}.json`);
  if (existsSync(bin) || existsSync(json)) {
    process.stdout.write(`kept    ${f.name} (fixtures are never rewritten)\n`);
    continue;
  }
  writeFileSync(bin, f.bytes);
  const doc = { description: f.description, message: f.message, expected: f.expected };
  writeFileSync(json, `${JSON.stringify(doc, null, 2)}\n`);
  process.stdout.write(`wrote   ${f.name} (${f.bytes.length} bytes)\n`);
}
