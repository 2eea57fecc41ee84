// Device credentials: the devices file maps a device id to a scrypt hash of its password. The file is
// the single source of truth; `tidemark-cloud device add` writes it, the broker reads it.
// Hash format: `scrypt$<N>$<r>$<p>$<salt b64>$<hash b64>` (self-describing, so parameters can grow).
import { createHmac, randomBytes, scrypt as scryptCb, timingSafeEqual, type ScryptOptions } from 'node:crypto';
import { existsSync, readFileSync, renameSync, statSync, writeFileSync } from 'node:fs';
import { parse, stringify } from 'yaml';
import { ConfigError, ValidationError } from '@tidemark/shared';
import { isValidName } from '@tidemark/proto';

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

export interface DeviceEntry {
  password_hash: string;
  added?: string;
}

export type DevicesFile = { devices: Record<string, DeviceEntry> };

export function readDevicesFile(path: string): DevicesFile {
  if (!existsSync(path)) return { devices: {} };
  let doc: unknown;
  try {
    doc = parse(readFileSync(path, 'utf8'));
  } catch (err) {
    throw new ConfigError([{ path: '', message: `cannot parse devices file: ${(err as Error).message}` }], path);
  }
  const devices = (doc as { devices?: unknown } | null)?.devices ?? {};
  if (typeof devices !== 'object' || devices === null) throw new ConfigError([{ path: 'devices', message: 'expected a mapping of device id to entry' }], path);
  const issues = [];
  for (const [id, entry] of Object.entries(devices)) {
    if (!isValidName(id)) issues.push({ path: `devices.${id}`, message: 'invalid device id' });
    if (typeof (entry as DeviceEntry | null)?.password_hash !== 'string') issues.push({ path: `devices.${id}.password_hash`, message: 'expected a string' });
  }
  if (issues.length) throw new ConfigError(issues, path);
  return { devices: devices as Record<string, DeviceEntry> };
}

/** Adds (or replaces) a device and returns its new password; the file is replaced atomically. */
export async function addDevice(path: string, deviceId: string, password = generatePassword()): Promise<string> {
  if (!isValidName(deviceId)) throw new ValidationError(`invalid device id "${deviceId}": expected ^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$`, 'ID');
  const file = readDevicesFile(path);
  file.devices[deviceId] = { password_hash: await hashPassword(password), added: new Date().toISOString() };
  writeDevicesFile(path, file);
  return password;
}

/** Removes a device; returns false when it was not registered. The broker refuses it from its next connect. */
export function removeDevice(path: string, deviceId: string): boolean {
  const file = readDevicesFile(path);
  if (!(deviceId in file.devices)) return false;
  delete file.devices[deviceId];
  writeDevicesFile(path, file);
  return true;
}

export function listDevices(path: string): { id: string; added: string | null }[] {
  return Object.entries(readDevicesFile(path).devices)
    .map(([id, e]) => ({ id, added: e.added ?? null }))
    .sort((a, b) => a.id.localeCompare(b.id));
}

/** Atomic replace (write a temp file, rename), readable by the owner only. */
function writeDevicesFile(path: string, file: DevicesFile): void {
  const tmp = `${path}.tmp-${process.pid}`;
  writeFileSync(tmp, `# Tidemark device credentials (scrypt hashes). Managed by \`tidemark-cloud device add|remove\`.\n${stringify(file)}`, { mode: 0o600 });
  renameSync(tmp, path);
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
  private cache: { stamp: string; file: DevicesFile } | undefined;
  private readonly verified = new Map<string, { hash: string; mac: Buffer }>();
  private readonly macKey = randomBytes(32);
  private readonly max: number;
  private readonly verify: (password: Buffer, encoded: string) => Promise<boolean>;
  constructor(
    private readonly path: string | undefined,
    private readonly allowAnonymous: boolean,
    opts: DeviceAuthenticatorOptions = {},
  ) {
    this.max = opts.maxRemembered ?? VERIFIED_MAX;
    this.verify = opts.verify ?? verifyPassword;
  }

  private devices(): DevicesFile {
    if (!this.path) return { devices: {} };
    let stamp: string;
    try {
      // Not the mtime alone: a coarse-grained filesystem can give a replaced file the same one.
      const st = statSync(this.path, { bigint: true });
      stamp = `${st.ino}:${st.size}:${st.mtimeNs}:${st.ctimeNs}`;
    } catch {
      return { devices: {} }; // no file yet: nobody is registered
    }
    if (!this.cache || this.cache.stamp !== stamp) this.cache = { stamp, file: readDevicesFile(this.path) };
    return this.cache.file;
  }

  async check(deviceId: string, password: Buffer | undefined): Promise<boolean> {
    const entry = this.devices().devices[deviceId];
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
