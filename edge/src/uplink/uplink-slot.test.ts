import { describe, expect, it } from 'vitest';
import type { DeviceStatus, Uplink, UplinkEvents } from './uplink.js';
import { UplinkSlot, type UplinkSettings } from './uplink-slot.js';

const settings = (keepalive_s: number): UplinkSettings => ({ url: 'mqtt://127.0.0.1:1', keepalive_s, max_inflight: 8, ack_timeout_ms: 1000, reconnect_min_ms: 10, reconnect_max_ms: 100 });
const offline = (): DeviceStatus => ({ online: false, agent_version: 't', backlog_readings: 0, oldest_buffered_time: null, clock_synced: true, dropped_readings: 0, at: '' });

describe('UplinkSlot', () => {
  it('replace closes the old link before starting the new one, ignores the old link\'s events, and reports a disconnect', async () => {
    const log: string[] = [];
    const made: { keepalive: number; events: UplinkEvents; link: Uplink }[] = [];
    const slot = new UplinkSlot(
      (s, events) => {
        const n = made.length;
        const link: Uplink = {
          connected: false,
          start: async () => void log.push(`start ${n}`),
          stop: async () => void log.push(`stop ${n}`),
          publish: async (topic) => void log.push(`publish ${n} ${topic}`),
        };
        made.push({ keepalive: s.keepalive_s, events, link });
        return link;
      },
      settings(30),
      {
        onConnect: () => log.push('connect'),
        onDisconnect: (reason) => log.push(`disconnect: ${reason}`),
        onAck: () => log.push('ack'),
      },
      offline,
    );
    await slot.start();
    made[0]!.events.onConnect();
    await slot.replace(settings(10));
    expect(made.map((m) => m.keepalive)).toEqual([30, 10]);
    made[0]!.events.onAck(new Uint8Array()); // a late ack on the replaced link: ignored
    made[1]!.events.onAck(new Uint8Array());
    await slot.publish('t', 'x');
    expect(log).toEqual(['start 0', 'connect', 'stop 0', 'disconnect: uplink settings reloaded', 'start 1', 'ack', 'publish 1 t']);
  });
});
