// The aggregation benchmark's fleet: 50 gateways × 4 sensors sampling at 1, 2, 5 or 10 Hz, sealed into
// 1,000-reading protobuf batches and appended to a SqliteStreamStore in the order a collector would receive
// them. Deterministic (seeded), so every run aggregates the same stream.
//
// Shape: every device starts at 00:00 UTC of DAY. The query target (`QUERY_DEVICE`, 1 Hz) reports the whole
// day, so /api/v1/aggregates has 1,440 one-minute buckets to return; the other 49 devices report for a
// window sized so the total comes to `totalReadings` (a full day of the whole fleet would be ~77M readings).
// Lateness: ~1% of readings miss their batch and travel in the next one (a few seconds to minutes late, within
// allowed_lateness), and batches arrive 0.2–1.5 s after their newest reading.
import { encodeBatch, type Reading } from '../../../proto/src/index.js';
import { mulberry32 } from '../../../shared/src/random/index.js';
import type { AppendItem } from '../../../cloud/src/store/stream-store.js';
import type { SqliteStreamStore } from '../../../cloud/src/store/sqlite-stream-store.js';

export const DAY = Date.UTC(2026, 10, 27);
export const DAY_MS = 86_400_000;
export const DEVICES = 50;
export const SENSORS = ['temp_c', 'pressure_kpa', 'rpm', 'flow_lpm'] as const;
export const RATES_HZ = [1, 2, 5, 10] as const;
export const BATCH_READINGS = 1_000;
export const QUERY_DEVICE = 'gw-000';
export const QUERY_SENSOR = 'temp_c';
const LATE_FRACTION = 0.01;

export const deviceId = (i: number): string => `gw-${String(i).padStart(3, '0')}`;
const rateOf = (i: number): number => RATES_HZ[i % RATES_HZ.length]!;

/** Short decimals as serial sensors print them (what the wire format's scaled-integer path is for). */
function sample(sensor: number, device: number, ts: number, rnd: () => number): number {
  const t = (ts - DAY) / 1000;
  switch (sensor) {
    case 0:
      return Math.round((40 + 15 * Math.sin(t / 3600 + device) + 0.5 * Math.sin(t / 7) + rnd() * 0.2) * 100) / 100;
    case 1:
      return Math.round((101.3 + 2 * Math.sin(t / 600 + device) + rnd() * 0.3) * 10) / 10;
    case 2:
      return 1500 + Math.round(200 * Math.sin(t / 900 + device)) + Math.floor(rnd() * 37);
    default:
      return Math.round((12.5 + 3 * Math.sin(t / 120 + device) + rnd()) * 10) / 10;
  }
}

interface Pending {
  receivedMs: number;
  item: AppendItem;
}

export interface FleetPlan {
  totalReadings: number;
  batches: number;
  /** Seconds the 49 other devices report for (the query device reports a whole day). */
  fleetWindowS: number;
}

/** Builds every device's batches (deterministically) and returns them in collector arrival order. */
export function buildFleet(targetReadings: number, seed = 42): { plan: FleetPlan; items: AppendItem[] } {
  const queryDeviceReadings = (DAY_MS / 1000) * rateOf(0) * SENSORS.length;
  let othersPerSecond = 0;
  for (let d = 1; d < DEVICES; d++) othersPerSecond += rateOf(d) * SENSORS.length;
  const fleetWindowS = Math.max(60, Math.round((targetReadings - queryDeviceReadings) / othersPerSecond));

  const rnd = mulberry32(seed);
  const pending: Pending[] = [];
  let totalReadings = 0;
  for (let d = 0; d < DEVICES; d++) {
    const device = deviceId(d);
    const stepMs = 1000 / rateOf(d);
    const samples = d === 0 ? (DAY_MS / 1000) * rateOf(d) : fleetWindowS * rateOf(d);
    const streamId = Uint8Array.from({ length: 16 }, (_, i) => (d * 31 + i * 7) & 0xff);
    let seq = 0;
    let current: Reading[] = [];
    let deferred: Reading[] = [];
    const seal = () => {
      seq += 1;
      const readings = current;
      current = deferred;
      deferred = [];
      let maxTs = 0;
      for (const r of readings) if (r.ts > maxTs) maxTs = r.ts;
      const receivedMs = maxTs + 200 + Math.floor(rnd() * 1300);
      const payload = encodeBatch({ deviceId: device, streamId, seq, clock: { synced: true, anchorWallMs: receivedMs, anchorMonoMs: 1 }, readings });
      pending.push({ receivedMs, item: { deviceId: device, streamId, seq, receivedMs, readings: readings.length, payload } });
      totalReadings += readings.length;
    };
    for (let k = 0; k < samples; k++) {
      // A few ms of jitter: sensors are not sampled on the exact millisecond.
      const ts = DAY + Math.round(k * stepMs) + Math.floor(rnd() * 4);
      for (let s = 0; s < SENSORS.length; s++) {
        const r = { sensor: SENSORS[s]!, ts, value: sample(s, d, ts, rnd) };
        (rnd() < LATE_FRACTION ? deferred : current).push(r);
        if (current.length >= BATCH_READINGS) seal();
      }
    }
    while (current.length > 0 || deferred.length > 0) {
      if (current.length === 0) {
        current = deferred;
        deferred = [];
      }
      seal();
    }
  }
  // Stable sort: ties keep per-device seq order.
  pending.sort((a, b) => a.receivedMs - b.receivedMs);
  return { plan: { totalReadings, batches: pending.length, fleetWindowS }, items: pending.map((p) => p.item) };
}

/** Appends in groups, as the collector's group commit does (one transaction per group). */
export async function fillStream(stream: SqliteStreamStore, items: readonly AppendItem[], group = 50): Promise<void> {
  for (let i = 0; i < items.length; i += group) {
    const outcomes = await stream.append(items.slice(i, i + group));
    if (outcomes.some((o) => o !== 'ok')) throw new Error('fixture produced a duplicate batch');
  }
}
