// The devices file with tags: a file from before tags still reads and keeps working, tags are edited in place
// (set, replace, remove) and survive a new password, bad tags in a hand-edited file are errors with their
// path, and DevicesFileTags changes version exactly when some device's tags change.
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { ConfigError, createLogger } from '@tidemark/shared';
import { afterEach, describe, expect, it } from 'vitest';
import { TestResources } from '../aggregate/testing/test-resources.js';
import { addDevice, DeviceAuthenticator, hashPassword } from '../broker/device-auth.js';
import { hasTags, parseTagPair } from './device-tags.js';
import { DevicesFileTags } from './device-tag-source.js';
import { listDevices, readDevicesFile, tagDevice } from './devices-file.js';

const logger = createLogger({ name: 'devices-file-test', level: 'silent' });
const res = new TestResources('tidemark-devices-file-');
afterEach(res.closeAll);

const pair = (text: string) => {
  const t = parseTagPair(text);
  if ('problem' in t) throw new Error(t.problem);
  return t;
};

describe('device tags', () => {
  it('parses key=value and says what is wrong with a bad one', () => {
    expect(parseTagPair('site=plant-3')).toEqual({ key: 'site', value: 'plant-3' });
    expect(parseTagPair('expr=a=b c')).toEqual({ key: 'expr', value: 'a=b c' });
    expect(parseTagPair('site')).toEqual({ problem: 'expected key=value, got "site"' });
    expect(parseTagPair('si te=x')).toMatchObject({ problem: expect.stringContaining('invalid tag key "si te"') });
    expect(parseTagPair('-site=x')).toMatchObject({ problem: expect.stringContaining('invalid tag key') });
    expect(parseTagPair(`${'k'.repeat(65)}=x`)).toMatchObject({ problem: expect.stringContaining('invalid tag key') });
    expect(parseTagPair('site=')).toEqual({ problem: 'a tag value cannot be empty' });
    expect(parseTagPair(`site=${'v'.repeat(129)}`)).toMatchObject({ problem: expect.stringContaining('at most 128') });
    expect(parseTagPair('site=a\tb')).toMatchObject({ problem: expect.stringContaining('non-printable') });
    expect(hasTags({ site: 'plant-3', line: '2' }, [pair('site=plant-3'), pair('line=2')])).toBe(true);
    expect(hasTags({ site: 'plant-3' }, [pair('site=plant-3'), pair('line=2')])).toBe(false);
  });
});

describe('devices file with tags', () => {
  it('reads a file from before tags, and authenticates from it after tags are added', async () => {
    const file = path.join(await res.tempDir(), 'devices.yaml');
    // What every earlier version wrote: no tags key at all.
    const password = 'old-password';
    writeFileSync(
      file,
      `# Tidemark device credentials (scrypt hashes). Managed by \`tidemark-cloud device add|remove\`.\ndevices:\n  gw-old:\n    password_hash: ${await hashPassword(password)}\n    added: 2025-01-01T00:00:00.000Z\n`,
    );
    expect(listDevices(file)).toEqual([{ id: 'gw-old', added: expect.any(String), tags: {} }]);
    const auth = new DeviceAuthenticator(file, false);
    expect(await auth.check('gw-old', Buffer.from(password))).toBe(true);
    tagDevice(file, 'gw-old', [pair('site=plant-3')]);
    expect(await auth.check('gw-old', Buffer.from(password))).toBe(true);
    expect(readDevicesFile(file).devices['gw-old']).toEqual({ password_hash: expect.any(String), added: expect.any(String), tags: { site: 'plant-3' } });
  });

  it('sets, replaces and removes tags; a new password keeps them; removing the last drops the key', async () => {
    const file = path.join(await res.tempDir(), 'devices.yaml');
    await addDevice(file, 'oven-1', undefined, [pair('site=plant-3'), pair('line=2')]);
    expect(listDevices(file)[0]!.tags).toEqual({ line: '2', site: 'plant-3' });
    expect(tagDevice(file, 'oven-1', [pair('line=4'), pair('zone=hot')], ['site'])).toEqual({ line: '4', zone: 'hot' });
    await addDevice(file, 'oven-1', undefined, [pair('site=plant-9')]);
    expect(listDevices(file)[0]!.tags).toEqual({ line: '4', site: 'plant-9', zone: 'hot' });
    expect(tagDevice(file, 'oven-1', [], ['line', 'site', 'zone', 'absent'])).toEqual({});
    expect(readFileSync(file, 'utf8')).not.toMatch(/^\s+tags:/m);
    expect(() => tagDevice(file, 'oven-2', [pair('a=b')])).toThrow(/device "oven-2" is not registered/);
  });

  it('a hand-edited file with bad tags is an error naming each', async () => {
    const file = path.join(await res.tempDir(), 'devices.yaml');
    writeFileSync(
      file,
      'devices:\n  gw-1:\n    password_hash: x\n    tags: { "bad key": a, ok: "", n: 3 }\n  gw-2:\n    password_hash: y\n    tags: [a]\n',
    );
    let err: unknown;
    try {
      readDevicesFile(file);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as ConfigError).issues.map((i) => i.path)).toEqual(['devices.gw-1.tags.bad key', 'devices.gw-1.tags.ok', 'devices.gw-1.tags.n', 'devices.gw-2.tags']);
  });

  it('DevicesFileTags: the version changes when tags change, not on a new password; a broken file keeps the last tags', async () => {
    const file = path.join(await res.tempDir(), 'devices.yaml');
    const tags = new DevicesFileTags(file, logger);
    const v0 = tags.current().version;
    await addDevice(file, 'oven-1');
    expect(tags.current().version).toBe(v0); // a device without tags: nothing a tag rule could see
    tagDevice(file, 'oven-1', [pair('site=plant-3')]);
    const v1 = tags.current();
    expect(v1.version).toBeGreaterThan(v0);
    expect(v1.of('oven-1')).toEqual({ site: 'plant-3' });
    expect(v1.of('oven-2')).toEqual({});
    await addDevice(file, 'oven-1'); // new password, same tags
    expect(tags.current().version).toBe(v1.version);
    const good = readFileSync(file, 'utf8');
    writeFileSync(file, 'devices: [not, a, mapping');
    expect(tags.current()).toBe(v1);
    writeFileSync(file, good);
    tagDevice(file, 'oven-1', [pair('site=plant-4')]);
    expect(tags.current().of('oven-1')).toEqual({ site: 'plant-4' });
  });
});
