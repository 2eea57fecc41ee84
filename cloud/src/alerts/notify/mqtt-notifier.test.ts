import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { createLogger } from '@tidemark/shared';
import { LogNotifier } from './log-notifier.js';
import { alertTopic, MqttAlertNotifier, type MqttPublish } from './mqtt-notifier.js';
import { makeTransition } from './testing/transition-fixture.js';

function recorder(fail?: () => Error | undefined) {
  const published: { topic: string; payload: Record<string, unknown>; retain: boolean; qos: number }[] = [];
  const publish: MqttPublish = async (topic, payload, opts) => {
    const err = fail?.();
    if (err) throw err;
    published.push({ topic, payload: JSON.parse(payload.toString()) as Record<string, unknown>, retain: opts.retain, qos: opts.qos });
  };
  return { published, publish };
}

describe('MqttAlertNotifier', () => {
  it('publishes each transition retained at QoS 1 to tidemark/v1/alerts/<rule>/<device>', async () => {
    const { published, publish } = recorder();
    const n = new MqttAlertNotifier({ publish });
    expect(n.name).toBe('mqtt');
    const firing = makeTransition({ rule: 'oven-hot', device: 'oven-7', state: 'firing', event_time: '2026-01-01T00:02:00.000Z' });
    const resolved = makeTransition({ rule: 'oven-hot', device: 'oven-7', state: 'resolved', previous: 'firing', event_time: '2026-01-01T00:09:00.000Z' });
    const offline = makeTransition({ rule: 'gw-offline', device: 'oven-7', sensor: null, event_time: '2026-01-01T00:03:00.000Z' });
    for (const t of [firing, offline, resolved]) expect(await n.send(t)).toEqual({ kind: 'delivered' });
    expect(published.map((p) => [p.topic, p.payload.state, p.retain, p.qos])).toEqual([
      ['tidemark/v1/alerts/oven-hot/oven-7', 'firing', true, 1],
      ['tidemark/v1/alerts/gw-offline/oven-7', 'firing', true, 1],
      ['tidemark/v1/alerts/oven-hot/oven-7', 'resolved', true, 1],
    ]);
    expect(published[2]!.payload).toEqual({ type: 'alert.transition', ...resolved });
    expect(alertTopic('r', 'd')).toBe('tidemark/v1/alerts/r/d');
  });

  it('a late retry of an older transition is published but does not replace the retained state', async () => {
    let down = true;
    const { published, publish } = recorder(() => (down ? new Error('not connected') : undefined));
    const n = new MqttAlertNotifier({ publish, name: 'mqtt' });
    const firing = makeTransition({ state: 'firing', event_time: '2026-01-01T00:02:00.000Z' });
    const resolved = makeTransition({ state: 'resolved', previous: 'firing', event_time: '2026-01-01T00:09:00.000Z' });
    expect(await n.send(firing)).toEqual({ kind: 'retry', error: 'not connected' });
    down = false;
    expect(await n.send(resolved)).toEqual({ kind: 'delivered' });
    expect(await n.send(firing)).toEqual({ kind: 'delivered' });
    expect(published.map((p) => [p.payload.state, p.retain])).toEqual([
      ['resolved', true],
      ['firing', false],
    ]);
  });

  it('refuses a rule name that is not a single topic level', async () => {
    const { published, publish } = recorder();
    const n = new MqttAlertNotifier({ publish });
    expect((await n.send(makeTransition({ rule: 'a/b' }))).kind).toBe('rejected');
    expect((await n.send(makeTransition({ rule: 'a+' }))).kind).toBe('rejected');
    expect(published).toEqual([]);
  });
});

describe('LogNotifier', () => {
  it('writes one info line per transition', async () => {
    const lines: Record<string, unknown>[] = [];
    const sink = new Writable({
      write(chunk: Buffer, _e, done) {
        for (const l of chunk.toString().split('\n')) if (l.trim()) lines.push(JSON.parse(l) as Record<string, unknown>);
        done();
      },
    });
    const n = new LogNotifier({ logger: createLogger({ name: 'test', destination: sink }) });
    const t = makeTransition({ rule: 'oven-hot', device: 'oven-1', sensor: 'temp_c', state: 'firing', previous: 'pending' });
    expect(await n.send(t)).toEqual({ kind: 'delivered' });
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatchObject({ level: 'info', component: 'alerts', transition: t.id, rule: 'oven-hot', state: 'firing' });
    expect(String(lines[0]!.msg)).toContain('alert oven-hot oven-1/temp_c: pending -> firing');
  });
});
