// Device tags in a running collector, without a restart: an aggregator-role collector's tag rule starts
// evaluating a device once `device tag` writes the tag, and an api-role collector on the same host serves the
// new tags (and filters by them) at once.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import { afterEach, describe, expect, it } from 'vitest';
import { encodeBatch, newStreamId } from '@tidemark/proto';
import { createLogger } from '@tidemark/shared';
import { waitFor } from '@tidemark/shared/testing';
import { capturedLogger } from './alerts/notify/testing/worker-harness.js';
import { addDevice } from './broker/device-auth.js';
import { Collector, dataFiles } from './collector.js';
import { defaultCloudConfig } from './config.js';
import { tagDevice } from './devices/devices-file.js';
import { SqliteDeviceRegistry } from './ingest/device-registry.js';
import { SqliteStreamStore } from './store/sqlite-stream-store.js';
import { runQuery, type QueryCommandOptions } from './query-command.js';

const cleanup: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanup.splice(0).reverse()) await c();
});

async function started(collector: Collector): Promise<Collector> {
  await collector.start();
  cleanup.push(() => collector.stop());
  return collector;
}

describe('collector: device tags', { timeout: 60_000 }, () => {
  it('a tag rule evaluates a device once it is tagged; the API serves and filters the new tags; no restart', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'tidemark-collector-tags-'));
    cleanup.push(async () => rmSync(dir, { recursive: true, force: true }));
    const devicesFile = path.join(dir, 'devices.yaml');
    await addDevice(devicesFile, 'oven-1', 'pw');
    await addDevice(devicesFile, 'oven-2', 'pw', [{ key: 'site', value: 'plant-3' }, { key: 'line', value: '1' }]);
    const config = (listen: string) =>
      defaultCloudConfig({
        data_dir: dir,
        api: { listen },
        auth: { devices_file: devicesFile },
        alerts: { rules: [{ name: 'hot', sensor: 'temp_c', kind: 'threshold', above: 250, devices: { tag: 'site=plant-3' } }] },
      });
    const { logger } = capturedLogger();
    const aggregator = await started(new Collector(config('127.0.0.1:0'), { role: 'aggregator', logger }));
    const api = await started(new Collector(config('127.0.0.1:0'), { role: 'api', logger }));

    // What the collector role would have written: the devices have been seen, and their batches are in the stream.
    const registry = new SqliteDeviceRegistry(dataFiles(dir).devices, createLogger({ name: 'test', level: 'silent' }));
    await registry.start();
    cleanup.push(() => registry.stop());
    for (const id of ['oven-1', 'oven-2']) registry.status(id, Buffer.from(JSON.stringify({ online: true })), Date.now());
    await registry.flush();
    const stream = new SqliteStreamStore({ path: dataFiles(dir).stream });
    await stream.start();
    cleanup.push(() => stream.stop());
    const hot = async (device: string) => {
      const now = Date.now();
      const streamId = newStreamId();
      const batch = { deviceId: device, streamId, seq: 1, clock: { synced: true, anchorWallMs: now, anchorMonoMs: 0 }, readings: [{ sensor: 'temp_c', ts: now, value: 300 }] };
      await stream.append([{ deviceId: device, streamId, seq: 1, receivedMs: now, readings: 1, payload: encodeBatch(batch) }]);
      const end = await stream.endOffset();
      aggregator.evaluator!.notify();
      await waitFor(() => (aggregator.alertStore!.checkpoint(0) ?? 0) >= end, { timeoutMs: 20_000, description: `the evaluator read ${device}'s batch` });
    };
    const firing = () => aggregator.alertStore!.loadSeries().filter((s) => s.item.state === 'firing').map((s) => s.item.id).sort();

    await hot('oven-1');
    await hot('oven-2');
    expect(firing()).toEqual(['hot:oven-2:temp_c']);

    const devices = async (query = '') => {
      const res = await fetch(`http://127.0.0.1:${api.api!.boundPort}/api/v1/devices${query}`);
      return { status: res.status, body: (await res.json()) as { items?: { id: string; tags: Record<string, string> }[]; error?: { code: string; message: string } } };
    };
    expect((await devices()).body.items!.map((d) => [d.id, d.tags])).toEqual([
      ['oven-1', {}],
      ['oven-2', { line: '1', site: 'plant-3' }],
    ]);

    tagDevice(devicesFile, 'oven-1', [{ key: 'site', value: 'plant-3' }, { key: 'line', value: '2' }]);
    await hot('oven-1');
    expect(firing()).toEqual(['hot:oven-1:temp_c', 'hot:oven-2:temp_c']);
    expect((await devices('?tag=site=plant-3')).body.items!.map((d) => d.id)).toEqual(['oven-1', 'oven-2']);
    expect((await devices('?tag=site=plant-3&tag=line=2')).body.items!.map((d) => d.id)).toEqual(['oven-1']);
    expect((await devices('?tag=site=plant-9')).body.items).toEqual([]);
    const bad = await devices('?tag=site');
    expect(bad).toEqual({ status: 400, body: { error: { code: 'invalid_parameter', message: 'tag: expected key=value, got "site"' } } });

    // GET /api/v1/aggregates?tag=: the buckets of every device with the tags, merged (device "*").
    interface Page {
      items?: { device: string; count: number; sum: number; max: number }[];
      next_cursor?: string | null;
      error?: { code: string; message: string };
    }
    const aggregates = async (query: string) => {
      const range = `sensor=temp_c&resolution=1m&from=${new Date(Date.now() - 3_600_000).toISOString()}&to=${new Date(Date.now() + 3_600_000).toISOString()}`;
      const res = await fetch(`http://127.0.0.1:${api.api!.boundPort}/api/v1/aggregates?${query}&${range}`);
      return { status: res.status, body: (await res.json()) as Page };
    };
    const total = (p: Page) => (p.items ?? []).reduce((n, b) => n + b.count, 0);
    await waitFor(async () => total((await aggregates('device=oven-1')).body) === 2 && total((await aggregates('device=oven-2')).body) === 1, {
      timeoutMs: 20_000,
      description: 'the three readings aggregated',
    });
    const site = (await aggregates('tag=site=plant-3')).body;
    expect(site.items!.every((b) => b.device === '*')).toBe(true);
    expect([total(site), site.items!.reduce((n, b) => n + b.sum, 0), Math.max(...site.items!.map((b) => b.max))]).toEqual([3, 900, 300]);
    expect(total((await aggregates('tag=site=plant-3&tag=line=2')).body)).toBe(2);
    expect((await aggregates('tag=site=plant-9')).body).toEqual({ items: [], next_cursor: null });
    expect(await aggregates('tag=site=plant-3&device=oven-1')).toMatchObject({ status: 400, body: { error: { code: 'invalid_parameter' } } });

    // `tidemark-cloud query --tag` prints the same merged buckets; --device, or --tag, is required, not both.
    const query = async (o: Partial<QueryCommandOptions>) => {
      let text = '';
      const out = new Writable({ write: (chunk: Buffer, _e, done) => ((text += chunk.toString()), done()) });
      const code = await runQuery({ url: `http://127.0.0.1:${api.api!.boundPort}`, sensor: 'temp_c', resolution: '1m', from: '-1h', to: 'now', format: 'json', ...o }, out);
      return { code, items: code === 0 ? (JSON.parse(text) as { device: string; count: number }[]) : [] };
    };
    const byTag = await query({ tag: ['site=plant-3'] });
    expect(byTag.code).toBe(0);
    expect([byTag.items.every((b) => b.device === '*'), byTag.items.reduce((n, b) => n + b.count, 0)]).toEqual([true, 3]);
    expect((await query({ tag: ['site=plant-3', 'line=2'] })).items.reduce((n, b) => n + b.count, 0)).toBe(2);
    expect((await query({ device: 'oven-2' })).items.reduce((n, b) => n + b.count, 0)).toBe(1);
    await expect(query({})).rejects.toThrow(/--device: give --device ID, or --tag/);
    await expect(query({ device: 'oven-1', tag: ['site=plant-3'] })).rejects.toThrow(/--device: give --device ID, or --tag/);
  });
});
