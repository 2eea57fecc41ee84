import { describe, expect, it } from 'vitest';
import type { EdgeConfig } from '../config.js';
import { refusedChanges } from './reload-plan.js';

const base: EdgeConfig = {
  device: { id: 'gw-1' },
  data_dir: '/var/lib/tidemark',
  sources: [{ type: 'simulated', name: 'sim', rate_hz: 1, sensors: [{ name: 't', shape: 'sine', min: 0, max: 1, period_s: 60, decimals: 2 }] }],
  buffer: { max_bytes: 1e6, max_age: 86_400_000, on_full: 'drop_oldest', commit_interval_ms: 100, persist: 'unacked' },
  batch: { max_readings: 1000, max_delay_ms: 250 },
  uplink: { url: 'mqtt://127.0.0.1:1883', keepalive_s: 30, max_inflight: 8, ack_timeout_ms: 30_000, reconnect_min_ms: 500, reconnect_max_ms: 30_000 },
  clock: { sync_check: 'assume_synced', min_plausible_time: 0 },
  log: { level: 'info' },
};

describe('refusedChanges', () => {
  it('allows sources, transforms, batch limits, the log level and the uplink to change', () => {
    const next: EdgeConfig = {
      ...base,
      sources: [],
      transforms: [{ type: 'round', sensors: '*', decimals: 1 }],
      batch: { max_readings: 10, max_delay_ms: 5 },
      log: { level: 'debug' },
      uplink: { ...base.uplink, password: 'rotated', keepalive_s: 10 },
    };
    expect(refusedChanges(base, next)).toEqual([]);
  });

  it('refuses device.id, data_dir, buffer, clock and status changes, each with its reason', () => {
    const next: EdgeConfig = {
      ...base,
      device: { id: 'gw-2' },
      data_dir: '/elsewhere',
      buffer: { ...base.buffer, on_full: 'block' },
      clock: { ...base.clock, sync_check: 'auto' },
      status: { listen: { host: '127.0.0.1', port: 9101 } },
    };
    const issues = refusedChanges(base, next);
    expect(issues.map((i) => i.path)).toEqual(['device.id', 'data_dir', 'buffer', 'clock', 'status']);
    for (const i of issues) expect(i.message).toMatch(/^cannot be changed by a reload: .*restart the agent/);
  });
});
