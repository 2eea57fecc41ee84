import { mkdtempSync, rmSync, statSync, utimesSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { listDevices, removeDevice } from '../devices/devices-file.js';
import { addDevice, DeviceAuthenticator, verifyPassword } from './device-auth.js';

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

  it('a remembered password costs no scrypt; wrong ones always do; at most maxRemembered devices (LRU)', async () => {
    const file = join(dir, 'devices-lru.yaml');
    let scrypts = 0;
    const auth = new DeviceAuthenticator(file, false, { maxRemembered: 2, verify: (pw, h) => (scrypts++, verifyPassword(pw, h)) });
    const pw = { a: await addDevice(file, 'a'), b: await addDevice(file, 'b'), c: await addDevice(file, 'c') };
    const check = (id: 'a' | 'b' | 'c', p = pw[id]) => auth.check(id, Buffer.from(p));
    expect(await check('a')).toBe(true);
    expect(await check('a')).toBe(true);
    expect(scrypts).toBe(1);
    expect(await check('a', 'wrong')).toBe(false);
    expect(await check('a', 'wrong')).toBe(false);
    expect(scrypts).toBe(3); // failures are never remembered
    expect(await check('a')).toBe(true); // ...nor do they make it forget the good one
    expect(scrypts).toBe(3);
    await check('b');
    await check('a'); // a is now the most recently used
    await check('c'); // evicts b
    expect(scrypts).toBe(5);
    await check('a');
    await check('c');
    expect(scrypts).toBe(5);
    await check('b');
    expect(scrypts).toBe(6);
  });

  it('a devices file replaced with the same mtime is still re-read (inode and ctime change)', async () => {
    const file = join(dir, 'devices-mtime.yaml');
    const auth = new DeviceAuthenticator(file, false);
    const pw = await addDevice(file, 'gw-m');
    // A whole second, which every filesystem stores exactly (as a coarse-grained one would leave it).
    const second = new Date(Math.floor(Date.now() / 1000) * 1000 - 5000);
    utimesSync(file, second, second);
    expect(await auth.check('gw-m', Buffer.from(pw))).toBe(true);
    removeDevice(file, 'gw-m');
    utimesSync(file, second, second);
    expect(statSync(file).mtimeMs).toBe(second.getTime());
    expect(await auth.check('gw-m', Buffer.from(pw))).toBe(false);
  });
});
