// Device credentials: the devices file (devices/devices-file.ts) maps a device id to a scrypt hash of its
// password. The file is the single source of truth; `tidemark-cloud device add` writes it, the broker reads it.
// Hash format: `scrypt$<N>$<r>$<p>$<salt b64>$<hash b64>` (self-describing, so parameters can grow).
import { createHmac, randomBytes, scrypt as scryptCb, timingSafeEqual, type ScryptOptions } from 'node:crypto';
import { ValidationError } from '@tidemark/shared';
import { isValidName } from '@tidemark/proto';
import type { TagPair } from '../devices/device-tags.js';
import { DevicesFileCache, editTags, readDevicesFile, writeDevicesFile } from '../devices/devices-file.js';

const scrypt = (password: string | Buffer, salt: Buffer, keylen: number, opts: ScryptOptions): Promise<Buffer> =>
  new Promise((resolve, reject) => scryptCb(password, salt, keylen, opts, (err, key) => (err ? reject(err) : resolve(key))));

const DEFAULT_PARAMS = { N: 16384, r: 8, p: 1 };

export async function hashPassword(password: string): Promise<string> {
  const salt = randomBytes(16);
  const { N, r, p } = DEFAULT_PARAMS;
  const hash = await scrypt(password, salt, 32, { N, r, p, maxmem: 64 * 1024 * 1024 });
  return `scrypt$${N}$${r}$${p}$${salt.toString('base64')}$${hash.toString('base64')}`;
}

export async function verifyPassword(password: string | Buffer, encoded: string): Promise<boolean> {
  const parts = encoded.split('$');
  if (parts.length !== 6 || parts[0] !== 'scrypt') return false;
  const [N, r, p] = parts.slice(1, 4).map(Number) as [number, number, number];
  const salt = Buffer.from(parts[4]!, 'base64');
  const expected = Buffer.from(parts[5]!, 'base64');
  const actual = await scrypt(password, salt, expected.length, { N, r, p, maxmem: 256 * 1024 * 1024 });
  return actual.length === expected.length && timingSafeEqual(actual, expected);
}

export function generatePassword(): string {
  return randomBytes(18).toString('base64url');
}

/**
 * Adds a device (or gives a registered one a new password) and returns its new password; the file is replaced
 * atomically. `tags` are set on top of the ones it has (a re-added device keeps its tags).
 */
export async function addDevice(path: string, deviceId: string, password = generatePassword(), tags: readonly TagPair[] = []): Promise<string> {
  if (!isValidName(deviceId)) throw new ValidationError(`invalid device id "${deviceId}": expected ^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$`, 'ID');
  const file = readDevicesFile(path);
  const merged = editTags(file.devices[deviceId]?.tags, tags);
  file.devices[deviceId] = { password_hash: await hashPassword(password), added: new Date().toISOString(), ...(merged ? { tags: merged } : {}) };
  writeDevicesFile(path, file);
  return password;
}

/** Devices whose last good password is remembered (least recently used forgotten first): bounds the cache's memory. */
const VERIFIED_MAX = 100_000;

export interface DeviceAuthenticatorOptions {
  /** At most this many devices' verified passwords are remembered (default 100,000: ~28 MB, measured on Node 20). */
  maxRemembered?: number;
  /** The slow check (default verifyPassword: scrypt). Tests count its calls. */
  verify?: (password: Buffer, encoded: string) => Promise<boolean>;
}

/**
 * Checks credentials against the devices file, re-reading it when it changes on disk.
 * A password that verified once is remembered so that a reconnect storm (thousands of devices after a network
 * outage) costs one HMAC per device instead of one scrypt (~50-180 ms of CPU and 16 MiB each on a small VM).
 * Why that is sound (docs/operations.md, "Device password cache"):
 *  - what is kept is HMAC-SHA256(password) under a random key that exists only in this process's memory:
 *    not the password, nothing that logs in (the broker takes only passwords), and without the key not even
 *    a dictionary-attack target; it is never written anywhere, so a restart forgets it;
 *  - it opens the device only together with the exact hash it verified against: a changed entry in the
 *    devices file (device add = new salt and hash, device remove = no entry) makes it useless at once, and the
 *    file is re-read whenever its inode, size, mtime or ctime changes (device add/remove replace it by rename);
 *  - only successes are remembered, at most `maxRemembered` devices (LRU); a wrong password always costs scrypt;
 *  - secret-dependent comparisons are constant-time (timingSafeEqual on equal-length MACs and scrypt outputs).
 */
export class DeviceAuthenticator {
  private readonly file: DevicesFileCache | undefined;
  private readonly verified = new Map<string, { hash: string; mac: Buffer }>();
  private readonly macKey = randomBytes(32);
  private readonly max: number;
  private readonly verify: (password: Buffer, encoded: string) => Promise<boolean>;
  constructor(
    path: string | undefined,
    private readonly allowAnonymous: boolean,
    opts: DeviceAuthenticatorOptions = {},
  ) {
    this.max = opts.maxRemembered ?? VERIFIED_MAX;
    this.verify = opts.verify ?? verifyPassword;
    this.file = path === undefined ? undefined : new DevicesFileCache(path);
  }

  async check(deviceId: string, password: Buffer | undefined): Promise<boolean> {
    const entry = this.file?.current().devices[deviceId];
    if (!entry) return this.allowAnonymous && password === undefined;
    if (password === undefined) return false;
    const mac = createHmac('sha256', this.macKey).update(password).digest();
    const known = this.verified.get(deviceId);
    if (known && known.hash !== entry.password_hash) this.verified.delete(deviceId); // credentials changed: forget
    else if (known && timingSafeEqual(known.mac, mac)) {
      this.remember(deviceId, known); // most recently used
      return true;
    }
    const ok = await this.verify(password, entry.password_hash);
    if (ok) this.remember(deviceId, { hash: entry.password_hash, mac });
    return ok;
  }

  private remember(deviceId: string, v: { hash: string; mac: Buffer }): void {
    this.verified.delete(deviceId);
    this.verified.set(deviceId, v);
    if (this.verified.size > this.max) this.verified.delete(this.verified.keys().next().value!);
  }
}
