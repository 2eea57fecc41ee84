// Event-time windows end to end: device-timestamped csv lines through a socat pty → agent → collector,
// the collector SIGKILLed twice mid-stream, then late readings for a bucket that is already final. Every 1m
// and 1h bucket must equal a reference computed here from the lines written (exactly once); `final` and
// `revision` must follow SPEC.md (re-derived independently from the stored stream order); and a replay must
// reproduce the API output byte for byte.
import { closeSync, openSync, writeSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { openPtyPair, requireTool, useProcessReaper, waitFor } from '@tidemark/shared/testing';
import { CLOUD_BIN, runCli } from './support/cli.js';
import { fetchBuckets, setupCloud, setupEdge, waitForAggregated } from './support/pipeline.js';
import { readStream } from './support/stream-check.js';
import type { BucketItem as Bucket } from '@tidemark/cloud';


const MIN = 60_000;
const HOUR = 3_600_000;
const LATENESS = 5 * MIN;

function writeTo(path: string, text: string): void {
  const fd = openSync(path, 'w');
  try {
    writeSync(fd, text);
  } finally {
    closeSync(fd);
  }
}

describe('event-time windows through crashes and late data', () => {
  useProcessReaper();

  it('buckets, final flags and revisions are exact, and replay reproduces them byte for byte', async () => {
    requireTool('socat', 'socat');
    const cloud = await setupCloud();
    const pty = await openPtyPair();
    const edge = setupEdge(cloud, 'gw-win', {
      sources: [{ type: 'serial', name: 'plc', path: pty.a, parser: { format: 'csv', columns: ['ts', 'level'], timestamp_column: 'ts' } }],
      batch: { max_readings: 20, max_delay_ms: 50 },
    });
    let collector = await cloud.start();
    const agent = edge.start();
    await agent.waitForOutput('connected to collector', 20_000);

    // One reading every 10 s over an hour that started two hours ago (UTC-aligned), values with 2 decimals.
    const t0 = Math.floor((Date.now() - 2 * HOUR) / HOUR) * HOUR;
    const lines: { ts: number; value: number }[] = [];
    for (let i = 0; i < 360; i++) lines.push({ ts: t0 + i * 10_000, value: Math.round((20 + 10 * Math.sin(i / 7)) * 100) / 100 });
    const send = (part: { ts: number; value: number }[]) => writeTo(pty.b, `\n${part.map((l) => `${l.ts},${l.value}\n`).join('')}`);

    send(lines.slice(0, 180));
    await waitForAggregated(cloud.api, 'gw-win', 'level', 180);
    await collector.sigkill(); // crash 1
    send(lines.slice(180, 270)); // buffered by the agent meanwhile
    await waitFor(() => edge.bufferStats().readings >= 90, { timeoutMs: 10_000, intervalMs: 200, description: 'agent buffering' });
    collector = await cloud.start();
    send(lines.slice(270, 360));
    await waitFor(() => readStream(cloud.dataDir).length >= 300, { timeoutMs: 20_000, intervalMs: 100, description: 'stream growing' });
    await collector.sigkill(); // crash 2, mid-stream
    collector = await cloud.start();
    await waitForAggregated(cloud.api, 'gw-win', 'level', 360);

    // Late data: minute 2 is long final (the watermark is ~t0 + 60 min) but still gets corrected.
    const late = [0, 20, 40].map((s) => ({ ts: t0 + 2 * MIN + 5_000 + s * 100, value: 99.5 }));
    send(late);
    lines.push(...late);
    await waitForAggregated(cloud.api, 'gw-win', 'level', 363);
    expect((await agent.kill('SIGTERM')).code).toBe(0);

    // Reference 1: the buckets, from the lines written (not from anything the pipeline stored).
    const reference = (resMs: number) => {
      const m = new Map<number, number[]>();
      for (const l of lines) {
        const start = l.ts - (l.ts % resMs);
        m.set(start, [...(m.get(start) ?? []), l.value]);
      }
      return m;
    };
    // Reference 2: final and revision, re-derived from the stream order (per-device watermark before each batch).
    const stored = readStream(cloud.dataDir);
    const revisions = new Map<string, number>();
    let wm = -Infinity;
    const bySeq = new Map<string, typeof stored>();
    for (const r of stored) {
      const k = `${r.stream}/${r.seq}`;
      bySeq.set(k, [...(bySeq.get(k) ?? []), r]);
    }
    for (const batch of bySeq.values()) {
      const touched = new Set<string>();
      for (const r of batch) {
        for (const resMs of [MIN, HOUR]) {
          const start = r.ts - (r.ts % resMs);
          if (wm >= start + resMs + LATENESS) touched.add(`${resMs}/${start}`);
        }
      }
      for (const k of touched) revisions.set(k, (revisions.get(k) ?? 0) + 1);
      wm = Math.max(wm, ...batch.map((r) => r.ts));
    }
    expect(revisions.get(`${MIN}/${t0 + 2 * MIN}`)).toBeGreaterThanOrEqual(1);

    for (const [label, resMs] of [['1m', MIN], ['1h', HOUR]] as const) {
      const want = reference(resMs);
      const got = await fetchBuckets<Bucket>(cloud.api, 'gw-win', 'level', label, t0, t0 + 2 * HOUR);
      expect(got.map((b) => Date.parse(b.start)), label).toEqual([...want.keys()].sort((a, b) => a - b));
      for (const b of got) {
        const start = Date.parse(b.start);
        const values = want.get(start)!;
        const mean = values.reduce((a, v) => a + v, 0) / values.length;
        const sorted = lines.filter((l) => l.ts - (l.ts % resMs) === start).sort((a, c) => a.ts - c.ts || a.value - c.value);
        expect({ count: b.count, min: b.min, max: b.max, first: b.first, last: b.last }, `${label} ${b.start}`).toEqual({
          count: values.length,
          min: Math.min(...values),
          max: Math.max(...values),
          first: sorted[0]!.value,
          last: sorted[sorted.length - 1]!.value,
        });
        expect(b.sum).toBeCloseTo(values.reduce((a, v) => a + v, 0), 8);
        expect(b.stddev).toBeCloseTo(Math.sqrt(values.reduce((a, v) => a + (v - mean) ** 2, 0) / values.length), 8);
        expect(b.final, `${label} ${b.start} final`).toBe(wm >= start + resMs + LATENESS);
        expect(b.revision, `${label} ${b.start} revision`).toBe(revisions.get(`${resMs}/${start}`) ?? 0);
      }
    }

    // Replay: byte-identical API output.
    const snapshot = async () =>
      Promise.all(
        ['1m', '1h', '1d'].map(async (res) =>
          (await fetch(`${cloud.api}/api/v1/aggregates?device=gw-win&sensor=level&resolution=${res}&from=${new Date(t0 - 86_400_000).toISOString()}&to=${new Date(t0 + 86_400_000).toISOString()}`)).text(),
        ),
      );
    const live = await snapshot();
    expect((await collector.kill('SIGTERM')).code).toBe(0);
    const r = runCli(CLOUD_BIN, ['replay', '-c', cloud.configPath]);
    expect(r.code, r.stderr).toBe(0);
    collector = await cloud.start();
    expect(await snapshot()).toEqual(live);
    expect((await collector.kill('SIGTERM')).code).toBe(0);
    await pty.close();
  });
});
