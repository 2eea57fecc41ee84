import { describe, expect, it } from 'vitest';
import { register as globalRegistry } from 'prom-client';
import { counterValue, gaugeValue, MetricsRegistry, tally } from './registry.js';

describe('MetricsRegistry', () => {
  it('prefixes names and exposes Prometheus text', async () => {
    const m = new MetricsRegistry('tidemark_cloud');
    m.counter('batches_total', 'Batches received', ['status']).inc({ status: 'ok' }, 3);
    const text = await m.metrics();
    expect(text).toContain('# TYPE tidemark_cloud_batches_total counter');
    expect(text).toContain('tidemark_cloud_batches_total{status="ok"} 3');
    expect(m.contentType).toMatch(/^text\/plain/);
  });

  it('keeps registries apart and off the global registry', async () => {
    const a = new MetricsRegistry('tidemark_edge');
    const b = new MetricsRegistry('tidemark_edge');
    a.counter('readings_total', 'r').inc();
    b.counter('readings_total', 'r').inc(5);
    expect(await counterValue(a.counter('readings_total', 'r'))).toBe(1);
    expect(await counterValue(b.counter('readings_total', 'r'))).toBe(5);
    expect(globalRegistry.getSingleMetric('tidemark_edge_readings_total')).toBeUndefined();
  });

  it('returns the existing metric for a matching re-registration, and refuses a conflicting one', () => {
    const m = new MetricsRegistry('tidemark_edge');
    const c = m.counter('dropped_total', 'd', ['reason', 'source']);
    expect(m.counter('dropped_total', 'd', ['source', 'reason'])).toBe(c);
    expect(m.counter('tidemark_edge_dropped_total', 'd', ['reason', 'source'])).toBe(c);
    expect(() => m.gauge('dropped_total', 'd', ['reason', 'source'])).toThrow(/already registered as a counter/);
    expect(() => m.counter('dropped_total', 'd', ['reason'])).toThrow(/already registered/);
  });

  it('makes gauges (also collected on scrape) and histograms', async () => {
    const m = new MetricsRegistry('tidemark_edge');
    let backlog = 7;
    m.gauge('backlog_readings', 'b', [], {
      collect() {
        this.set(backlog);
      },
    });
    const h = m.histogram('ack_seconds', 'a', [], [0.1, 1]);
    h.observe(0.05);
    backlog = 9;
    const text = await m.metrics();
    expect(text).toContain('tidemark_edge_backlog_readings 9');
    expect(text).toContain('tidemark_edge_ack_seconds_bucket{le="0.1"} 1');
    expect(m.histogram('ack_seconds', 'a')).toBe(h);
  });

  it('adds default process metrics on request, prefixed', async () => {
    const m = new MetricsRegistry('tidemark_cloud', { defaultMetrics: true });
    expect(await m.metrics()).toContain('tidemark_cloud_process_cpu_user_seconds_total');
  });

  it('rejects invalid names', () => {
    expect(() => new MetricsRegistry('bad-prefix')).toThrow();
    expect(() => new MetricsRegistry('tidemark_edge').counter('has space', 'x')).toThrow(/invalid metric name/);
  });
});

describe('counterValue', () => {
  it('reads one series, a subset of labels, or the sum', async () => {
    const m = new MetricsRegistry('tidemark_cloud');
    const c = m.counter('rejected_total', 'r', ['reason', 'device']);
    c.inc({ reason: 'bad', device: 'a' });
    c.inc({ reason: 'bad', device: 'b' }, 2);
    c.inc({ reason: 'late', device: 'a' }, 4);
    expect(await counterValue(c, { reason: 'bad', device: 'b' })).toBe(2);
    expect(await counterValue(c, { reason: 'bad' })).toBe(3);
    expect(await counterValue(c)).toBe(7);
    expect(await counterValue(c, { reason: 'none' })).toBe(0);
    const g = m.gauge('clients', 'c');
    g.set(4);
    expect(await gaugeValue(g)).toBe(4);
  });

  it('tally: a series counted in a plain number shows every increment at the next read, beside plain inc()s', async () => {
    const m = new MetricsRegistry('tidemark_edge');
    const c = m.counter('lines_total', 'l', ['source']);
    const a = tally(c, { source: 'a' });
    const a2 = tally(m.counter('lines_total', 'l', ['source']), { source: 'a' }); // a second tally of one series
    const b = tally(c, { source: 'b' });
    a.inc();
    a.inc(4);
    a2.inc(2);
    c.inc({ source: 'b' }, 10);
    b.inc(3);
    expect(await counterValue(c, { source: 'a' })).toBe(7);
    expect(await counterValue(c, { source: 'b' })).toBe(13);
    a.inc();
    const text = await m.metrics();
    expect(text).toContain('tidemark_edge_lines_total{source="a"} 8');
    expect(text).toContain('tidemark_edge_lines_total{source="b"} 13');
    expect(await counterValue(c)).toBe(21); // nothing counted twice
  });

  it('tally: refuses a bad label at creation and a bad increment at the call, never at a scrape', async () => {
    const m = new MetricsRegistry('tidemark_edge');
    const c = m.counter('x_total', 'x', ['source']);
    expect(() => tally(c, { nope: 'a' } as never)).toThrow();
    const t = tally(c, { source: 'a' });
    expect(() => t.inc(-1)).toThrow(TypeError);
    expect(() => t.inc(Number.NaN)).toThrow(TypeError);
    expect(() => t.inc(Number.POSITIVE_INFINITY)).toThrow(TypeError);
    t.inc(2);
    expect(await m.metrics()).toContain('tidemark_edge_x_total{source="a"} 2');
  });
});
