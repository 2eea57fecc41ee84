// `tidemark-cloud device add --tag` / `device tag` / `device list` through main(): tags land in the devices
// file, bad keys and values are exit 2 naming them, and an unregistered device is exit 1.
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { TestResources } from './aggregate/testing/test-resources.js';
import { main } from './cli.js';
import { listDevices } from './devices/devices-file.js';

const res = new TestResources('tidemark-cli-device-');
afterEach(res.closeAll);

async function run(...args: string[]): Promise<{ code: number; out: string; err: string }> {
  const out: string[] = [];
  const err: string[] = [];
  vi.spyOn(process.stdout, 'write').mockImplementation((c: string | Uint8Array) => (out.push(String(c)), true));
  vi.spyOn(process.stderr, 'write').mockImplementation((c: string | Uint8Array) => (err.push(String(c)), true));
  try {
    const code = await main(['node', 'tidemark-cloud', ...args]);
    return { code, out: out.join(''), err: err.join('') };
  } finally {
    vi.restoreAllMocks();
  }
}

async function setup(): Promise<{ config: string; devices: string }> {
  const dir = await res.tempDir();
  const devices = path.join(dir, 'devices.yaml');
  const config = path.join(dir, 'cloud.yaml');
  writeFileSync(config, `data_dir: ${JSON.stringify(dir)}\nauth:\n  devices_file: ${JSON.stringify(devices)}\n`);
  return { config, devices };
}

describe('tidemark-cloud device add --tag / device tag', () => {
  it('adds with tags, edits them, lists them', async () => {
    const { config, devices } = await setup();
    const added = await run('device', 'add', 'oven-1', '--tag', 'site=plant-3', '--tag', 'line=2', '-c', config);
    expect(added.code).toBe(0);
    expect(added.out.trim()).toMatch(/^\S{20,}$/); // the password, once
    expect(listDevices(devices)[0]!.tags).toEqual({ line: '2', site: 'plant-3' });

    const tagged = await run('device', 'tag', 'oven-1', 'line=4', 'zone=hot', '--remove', 'site', '-c', config);
    expect(tagged).toMatchObject({ code: 0, err: expect.stringContaining('now has tags line=4 zone=hot') });
    expect(listDevices(devices)[0]!.tags).toEqual({ line: '4', zone: 'hot' });

    const listed = await run('device', 'list', '-c', config);
    expect(listed.out).toMatch(/^oven-1\t\S+\tline=4 zone=hot\n$/);
  });

  it('bad tags are exit 2 naming each; nothing is written', async () => {
    const { config, devices } = await setup();
    const bad = await run('device', 'add', 'oven-1', '--tag', 'site', '--tag', 'bad key=x', '-c', config);
    expect(bad.code).toBe(2);
    expect(bad.err).toContain('--tag: "site": expected key=value');
    expect(bad.err).toContain('--tag: "bad key=x": invalid tag key "bad key"');
    expect(listDevices(devices)).toEqual([]);

    expect((await run('device', 'add', 'oven-1', '-c', config)).code).toBe(0);
    const empty = await run('device', 'tag', 'oven-1', 'site=', '-c', config);
    expect(empty).toMatchObject({ code: 2, err: expect.stringContaining('tags: "site=": a tag value cannot be empty') });
    const long = await run('device', 'tag', 'oven-1', `site=${'x'.repeat(129)}`, '-c', config);
    expect(long).toMatchObject({ code: 2, err: expect.stringContaining('at most 128') });
    expect(await run('device', 'tag', 'oven-1', '--remove', 'a b', '-c', config)).toMatchObject({ code: 2, err: expect.stringContaining('--remove: a b: invalid tag key') });
    expect(await run('device', 'tag', 'oven-1', '-c', config)).toMatchObject({ code: 2, err: expect.stringContaining('give tags to set') });
    expect(listDevices(devices)[0]!.tags).toEqual({});

    const unknown = await run('device', 'tag', 'oven-9', 'site=plant-3', '-c', config);
    expect(unknown).toMatchObject({ code: 1, err: expect.stringContaining('device "oven-9" is not registered') });
  });
});
