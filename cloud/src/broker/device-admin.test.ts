import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { addDevice, DeviceAuthenticator, listDevices, removeDevice } from './device-auth.js';

const dir = mkdtempSync(join(tmpdir(), 'tidemark-devices-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('device administration', () => {
  it('adds, lists and removes devices; the authenticator follows the file', async () => {
    const file = join(dir, 'devices.yaml');
    const auth = new DeviceAuthenticator(file, false);
    const pa = await addDevice(file, 'gw-a');
    await addDevice(file, 'gw-b');
    expect(listDevices(file).map((d) => d.id)).toEqual(['gw-a', 'gw-b']);
    expect(await auth.check('gw-a', Buffer.from(pa))).toBe(true);
    expect(await auth.check('gw-a', Buffer.from('wrong'))).toBe(false);
    expect(await auth.check('gw-a', undefined)).toBe(false);

    expect(removeDevice(file, 'gw-a')).toBe(true);
    expect(removeDevice(file, 'gw-a')).toBe(false);
    expect(listDevices(file).map((d) => d.id)).toEqual(['gw-b']);
    // The file was replaced on disk: the next check re-reads it.
    expect(await auth.check('gw-a', Buffer.from(pa))).toBe(false);
    await expect(addDevice(file, 'bad id')).rejects.toThrow(/invalid device id/);
  });

  it('remembers a verified password only for the hash it verified against', async () => {
    const file = join(dir, 'devices-cache.yaml');
    const auth = new DeviceAuthenticator(file, false);
    const first = await addDevice(file, 'gw-c');
    expect(await auth.check('gw-c', Buffer.from(first))).toBe(true);
    expect(await auth.check('gw-c', Buffer.from(first))).toBe(true); // remembered
    expect(await auth.check('gw-c', Buffer.from(`${first}x`))).toBe(false);
    // A new password for the device: the remembered one no longer opens it.
    const second = await addDevice(file, 'gw-c');
    expect(await auth.check('gw-c', Buffer.from(first))).toBe(false);
    expect(await auth.check('gw-c', Buffer.from(second))).toBe(true);
    removeDevice(file, 'gw-c');
    expect(await auth.check('gw-c', Buffer.from(second))).toBe(false);
  });
});
