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

/** Devices whose last good password is remembered (oldest forgotten first): bounds the memory of the cache. */
const VERIFIED_MAX = 100_000;

/**
 * Checks credentials against the devices file, re-reading it when it changes on disk.
 * A password that verified once is remembered as an HMAC under a key that lives only in this process, next to
 * the hash it verified against: when thousands of devices reconnect at once after a network outage, each
 * costs one HMAC instead of one scrypt (~50-180 ms of CPU and 16 MiB each on a small VM), so the reconnect
 * storm ends in seconds instead of minutes. A changed hash in the devices file (device add, remove) forgets it.
 */
export class DeviceAuthenticator {
  private cache: { mtimeMs: number; file: DevicesFile } | undefined;
  private readonly verified = new Map<string, { hash: string; mac: Buffer }>();
  private readonly macKey = randomBytes(32);
  constructor(
    private readonly path: string | undefined,
    private readonly allowAnonymous: boolean,
  ) {}

  private devices(): DevicesFile {
    if (!this.path) return { devices: {} };
    let mtimeMs: number;
    try {
      mtimeMs = statSync(this.path).mtimeMs;
    } catch {
      return { devices: {} }; // no file yet: nobody is registered
    }
    if (!this.cache || this.cache.mtimeMs !== mtimeMs) this.cache = { mtimeMs, file: readDevicesFile(this.path) };
    return this.cache.file;
  }

  async check(deviceId: string, password: Buffer | undefined): Promise<boolean> {
    const entry = this.devices().devices[deviceId];
    if (!entry) return this.allowAnonymous && password === undefined;
    if (password === undefined) return false;
    const mac = createHmac('sha256', this.macKey).update(password).digest();
    const known = this.verified.get(deviceId);
    if (known && known.hash === entry.password_hash && timingSafeEqual(known.mac, mac)) return true;
    const ok = await verifyPassword(password, entry.password_hash);
    if (ok) {
      this.verified.delete(deviceId);
      this.verified.set(deviceId, { hash: entry.password_hash, mac });
      if (this.verified.size > VERIFIED_MAX) this.verified.delete(this.verified.keys().next().value!);
    }
    return ok;
  }
}

