// Resource health: one log line per state change (never one per failed attempt), the up gauge and the
// failure counter per resource, what /readyz lists, and a backoff that grows while failing and resets.
import { counterValue, createLogger, MetricsRegistry } from '@tidemark/shared';
import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { ResourceHealth } from './resource-health.js';

function capture() {
  const lines: { level: number; msg: string; resource?: string; reason?: string }[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _enc, cb) {
      for (const l of chunk.toString().split('\n').filter(Boolean)) lines.push(JSON.parse(l));
      cb();
    },
  });
  return { lines, logger: createLogger({ name: 'health-test', level: 'info', destination: stream }) };
}

describe('ResourceHealth', () => {
  it('logs once per state change, counts every failure, and lists what is failing', async () => {
    const { lines, logger } = capture();
    const metrics = new MetricsRegistry('tidemark_cloud');
    let now = 1_000;
    const health = new ResourceHealth(logger, metrics, {}, () => now);
    const stream = health.reporter('stream-store');
    const devices = health.reporter('device-registry');
    const up = metrics.gauge('resource_up', '', ['resource']);
    const failures = metrics.counter('resource_failures_total', '', ['resource']);
    expect(await counterValue(up, { resource: 'stream-store' })).toBe(1);
    expect(health.failing()).toEqual([]);

    for (let i = 0; i < 50; i++) stream.fail(Object.assign(new Error('database or disk is full'), { code: 'SQLITE_FULL' }));
    now = 2_000;
    devices.fail(new Error('connect ECONNREFUSED 127.0.0.1:5432'));
    expect(stream.failing).toBe(true);
    expect(await counterValue(up, { resource: 'stream-store' })).toBe(0);
    expect(await counterValue(failures, { resource: 'stream-store' })).toBe(50);
    expect(health.failing()).toEqual([
      { resource: 'stream-store', reason: 'SQLITE_FULL: database or disk is full', since: new Date(1_000).toISOString() },
      { resource: 'device-registry', reason: 'connect ECONNREFUSED 127.0.0.1:5432', since: new Date(2_000).toISOString() },
    ]);

    for (let i = 0; i < 10; i++) stream.ok();
    expect(stream.failing).toBe(false);
    expect(await counterValue(up, { resource: 'stream-store' })).toBe(1);
    expect(health.failing().map((f) => f.resource)).toEqual(['device-registry']);

    await new Promise((r) => setImmediate(r));
    const stateLines = lines.filter((l) => l.resource !== undefined).map((l) => [l.resource, l.msg]);
    expect(stateLines).toEqual([
      ['stream-store', 'stream-store failing; retrying with backoff until it recovers'],
      ['device-registry', 'device-registry failing; retrying with backoff until it recovers'],
      ['stream-store', 'stream-store recovered'],
    ]);
  });

  it('backs off exponentially while failing, capped, and starts over after a recovery', () => {
    const health = new ResourceHealth(createLogger({ name: 't', level: 'silent' }), new MetricsRegistry('tidemark_cloud'), { initialMs: 100, maxMs: 1_000 });
    const r = health.reporter('aggregate-store');
    expect(r.nextDelayMs()).toBe(0);
    const delays: number[] = [];
    for (let i = 0; i < 8; i++) {
      r.fail(new Error('down'));
      delays.push(r.nextDelayMs());
    }
    expect(delays[0]).toBeGreaterThanOrEqual(80);
    expect(delays[0]).toBeLessThanOrEqual(120);
    expect(delays[3]).toBeGreaterThanOrEqual(640);
    for (const d of delays) expect(d).toBeLessThanOrEqual(1_200);
    r.ok();
    expect(r.nextDelayMs()).toBe(0);
  });
});
