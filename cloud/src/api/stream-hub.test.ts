// The hub alone: events in commit order with per-subscriber filters, the replay window's exact edges, gaps,
// a failing subscriber cut off without reaching the publisher, and a closed hub that ignores its source.
import { describe, expect, it } from 'vitest';
import type { BucketRecord } from '../aggregate/aggregate-store.js';
import { addValue, emptyStats } from '../aggregate/bucket-stats.js';
import { BucketUpdateHub, type HubEvent, type StreamSubscriber } from './stream-hub.js';

const T0 = Date.UTC(2026, 10, 27, 10);
const RESOLUTIONS = [
  { label: '1m', ms: 60_000 },
  { label: '1h', ms: 3_600_000 },
];

function bucket(device: string, sensor = 's', resolution = '1m', values = [1]): BucketRecord {
  const stats = emptyStats();
  for (const v of values) addValue(stats, T0, v);
  return { device, sensor, resolution, start: T0, stats, revision: 0 };
}

function recorder() {
  const events: HubEvent[] = [];
  const resets: { reason: string; id: string }[] = [];
  const sub: StreamSubscriber = { events: (e) => events.push(...e), reset: (reason, id) => resets.push({ reason, id }) };
  return { sub, events, resets };
}

const hub = (replayEvents = 4, idleRetainMs?: number) => new BucketUpdateHub({ resolutions: RESOLUTIONS, allowedLatenessMs: 300_000, replayEvents, idleRetainMs });
/** A subscriber that wants nothing, so the hub is not idle. */
const keepActive = (h: BucketUpdateHub) => h.subscribe({ device: '-none-' }, { events: () => {}, reset: () => {} });
const none = new Map<string, number>();

describe('BucketUpdateHub', () => {
  it('delivers matching events in order, each with the next id, and judges final by the watermark given', () => {
    const h = hub();
    const a = recorder();
    const all = recorder();
    h.subscribe({ device: 'a', resolution: '1m' }, a.sub);
    h.subscribe({}, all.sub);
    h.publish([bucket('a'), bucket('b'), bucket('a', 's', '1h'), bucket('a', 't')], new Map([['a', T0 + 6 * 60_000]]));
    expect(all.events.map((e) => e.id)).toEqual([1, 2, 3, 4, 5].map((n) => `${h.epoch}-${n}`));
    expect(all.events.map((e) => e.type)).toEqual(['bucket', 'bucket', 'bucket', 'bucket', 'watermark']);
    expect(a.events.map((e) => [e.type, e.sensor, e.resolution])).toEqual([
      ['bucket', 's', '1m'],
      ['bucket', 't', '1m'],
      ['watermark', undefined, undefined],
    ]);
    expect(JSON.parse(a.events[0]!.data)).toMatchObject({ device: 'a', final: true, count: 1 });
    expect(JSON.parse(all.events[1]!.data)).toMatchObject({ device: 'b', final: false });
    // A resolution this API does not serve is skipped, not numbered.
    h.publish([bucket('a', 's', '5m')], none);
    expect(h.lastId).toBe(`${h.epoch}-5`);
  });

  it('announces a device watermark after its buckets, only when it advanced, to every filter on that device', () => {
    const h = hub();
    const narrow = recorder();
    const other = recorder();
    h.subscribe({ device: 'a', sensor: 'nope', resolution: '1h' }, narrow.sub);
    h.subscribe({ device: 'b' }, other.sub);
    h.publish([bucket('a'), bucket('b')], new Map([['a', T0 + 5_000], ['b', T0]]));
    expect(narrow.events.map((e) => [e.type, JSON.parse(e.data)])).toEqual([
      ['watermark', { device: 'a', watermark: new Date(T0 + 5_000).toISOString(), allowed_lateness_ms: 300_000 }],
    ]);
    expect(other.events.map((e) => e.type)).toEqual(['bucket', 'watermark']);
    h.publish([bucket('a'), bucket('b')], new Map([['a', T0 + 5_000], ['b', T0 + 1]]));
    expect(narrow.events).toHaveLength(1);
    expect(other.events.map((e) => e.type)).toEqual(['bucket', 'watermark', 'bucket', 'watermark']);
  });

  it('resumes exactly within the window and refuses one event past it', () => {
    const h = hub(4);
    keepActive(h);
    h.publish([1, 2, 3, 4, 5, 6].map(() => bucket('a')), none); // ring keeps 3..6
    const ok = recorder();
    h.subscribe({}, ok.sub, `${h.epoch}-2`);
    expect(ok.events.map((e) => e.id)).toEqual([3, 4, 5, 6].map((n) => `${h.epoch}-${n}`));
    expect(ok.resets).toEqual([]);
    const upToDate = recorder();
    h.subscribe({}, upToDate.sub, `${h.epoch}-6`);
    expect(upToDate.events).toEqual([]);
    expect(upToDate.resets).toEqual([]);
    const late = recorder();
    h.subscribe({}, late.sub, `${h.epoch}-1`);
    expect(late.resets).toEqual([{ reason: expect.stringMatching(/older than the replay window/), id: `${h.epoch}-6` }]);
    for (const id of [`${h.epoch}-7`, '0badbeef-1', 'x']) {
      const r = recorder();
      h.subscribe({}, r.sub, id);
      expect(r.resets).toHaveLength(1);
    }
  });

  it('a gap resets every subscriber and no id from before it resumes; the reset id does', () => {
    const h = hub();
    keepActive(h);
    h.publish([bucket('a')], none);
    const live = recorder();
    h.subscribe({ device: 'zzz' }, live.sub);
    h.gap('lost');
    expect(live.resets).toEqual([{ reason: 'lost', id: `${h.epoch}-2` }]);
    const before = recorder();
    h.subscribe({}, before.sub, `${h.epoch}-1`);
    expect(before.resets).toHaveLength(1);
    h.publish([bucket('a')], none);
    const after = recorder();
    h.subscribe({}, after.sub, `${h.epoch}-2`);
    expect(after.resets).toEqual([]);
    expect(after.events.map((e) => e.id)).toEqual([`${h.epoch}-3`]);
  });

  it('without a replay window only an up-to-date id resumes', () => {
    const h = hub(0);
    keepActive(h);
    h.publish([bucket('a'), bucket('a')], none);
    const r = recorder();
    h.subscribe({}, r.sub, `${h.epoch}-1`);
    expect(r.resets).toHaveLength(1);
    const s = recorder();
    h.subscribe({}, s.sub, `${h.epoch}-2`);
    expect(s.resets).toHaveLength(0);
  });

  it('is idle without subscribers: records nothing, and an id from before cannot resume; it keeps recording a while after the last one left', () => {
    const h = hub(100, 60_000);
    expect(h.idle).toBe(true);
    h.publish([bucket('a')], none);
    expect(h.lastId).toBe(`${h.epoch}-0`);
    const first = recorder();
    const off = h.subscribe({}, first.sub);
    expect(h.idle).toBe(false);
    h.publish([bucket('a')], none);
    const seen = first.events[0]!.id;
    off();
    expect(h.idle).toBe(false); // within idleRetainMs: still numbering and keeping
    h.publish([bucket('a', 'x')], none);
    const back = recorder();
    const off2 = h.subscribe({}, back.sub, seen);
    expect(back.resets).toEqual([]);
    expect(back.events.map((e) => e.sensor)).toEqual(['x']);
    off2();

    const quick = hub(100, 0);
    const r = recorder();
    quick.subscribe({}, r.sub)();
    quick.publish([bucket('a')], none); // idle at once: dropped on the floor
    quick.publish([bucket('a')], none);
    const again = recorder();
    quick.subscribe({}, again.sub, `${quick.epoch}-0`);
    expect(again.resets).toHaveLength(1);
    expect(again.events).toEqual([]);
  });

  it('tells a source that works for its updates whether anyone wants them', () => {
    let wanted: (() => boolean) | undefined;
    const h = hub(100, 0).attach({ onUpdate: () => {}, setDemand: (fn) => (wanted = fn) });
    expect(wanted!()).toBe(false);
    const off = h.subscribe({}, recorder().sub);
    expect(wanted!()).toBe(true);
    off();
    expect(wanted!()).toBe(false);
    // What the source skipped counts as missed: an id from before cannot resume.
    const late = recorder();
    h.subscribe({}, late.sub, `${h.epoch}-0`);
    expect(late.resets).toHaveLength(1);
  });

  it('cuts off a subscriber that throws without disturbing the publisher or the others', () => {
    const h = hub();
    const good = recorder();
    h.subscribe({}, { events: () => { throw new Error('boom'); }, reset: () => {} });
    h.subscribe({}, good.sub);
    expect(() => h.publish([bucket('a')], none)).not.toThrow();
    expect(h.subscribers).toBe(1);
    h.publish([bucket('a')], none);
    expect(good.events).toHaveLength(2);
  });

  it('unsubscribes, and after close() ignores its source entirely', () => {
    const h = hub();
    const r = recorder();
    const off = h.subscribe({}, r.sub);
    off();
    h.publish([bucket('a')], none);
    expect(r.events).toEqual([]);
    const listeners: Array<(u: BucketRecord[], w: Map<string, number>) => void> = [];
    const h2 = hub().attach({ onUpdate: (l) => listeners.push(l) });
    const r2 = recorder();
    h2.subscribe({}, r2.sub);
    h2.close();
    listeners[0]!([bucket('a')], none);
    expect(r2.events).toEqual([]);
    expect(h2.lastId).toBe(`${h2.epoch}-0`);
  });
});
