// The devices file (`auth.devices_file`): the operator's record of devices — each id with the scrypt hash of
// its password (broker/device-auth.ts), when it was added, and its tags. `tidemark-cloud device add|tag|remove`
// write it (atomically: a temp file renamed over it); the broker, the alert rules and the devices API read it
// and follow its changes without a restart (DevicesFileCache). A file from before tags (no `tags:` keys) is
// read as devices without tags, and is written back in the same shape plus any tags given.
import { existsSync, readFileSync, renameSync, statSync, writeFileSync } from 'node:fs';
import { parse, stringify } from 'yaml';
import { ConfigError, ValidationError } from '@tidemark/shared';
import { isValidName } from '@tidemark/proto';
import { NO_TAGS, tagKeyProblem, tagValueProblem, type DeviceTags, type TagPair } from './device-tags.js';

export interface DeviceEntry {
  password_hash: string;
  added?: string;
  tags?: Record<string, string>;
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
    const tags = (entry as DeviceEntry | null)?.tags;
    if (tags === undefined || tags === null) continue;
    if (typeof tags !== 'object' || Array.isArray(tags)) {
      issues.push({ path: `devices.${id}.tags`, message: 'expected a mapping of tag key to value' });
      continue;
    }
    for (const [k, v] of Object.entries(tags)) {
      const problem = tagKeyProblem(k) ?? (typeof v === 'string' ? tagValueProblem(v) : 'expected a string value');
      if (problem) issues.push({ path: `devices.${id}.tags.${k}`, message: problem });
    }
  }
  if (issues.length) throw new ConfigError(issues, path);
  return { devices: devices as Record<string, DeviceEntry> };
}

/** Atomic replace (write a temp file, rename), readable by the owner only. */
export function writeDevicesFile(path: string, file: DevicesFile): void {
  const tmp = `${path}.tmp-${process.pid}`;
  writeFileSync(tmp, `# Tidemark devices (scrypt hashes, tags). Managed by \`tidemark-cloud device add|tag|remove\`.\n${stringify(file)}`, { mode: 0o600 });
  renameSync(tmp, path);
}

/** Removes a device; returns false when it was not registered. The broker refuses it from its next connect. */
export function removeDevice(path: string, deviceId: string): boolean {
  const file = readDevicesFile(path);
  if (!(deviceId in file.devices)) return false;
  delete file.devices[deviceId];
  writeDevicesFile(path, file);
  return true;
}

export function listDevices(path: string): { id: string; added: string | null; tags: DeviceTags }[] {
  return Object.entries(readDevicesFile(path).devices)
    .map(([id, e]) => ({ id, added: e.added ?? null, tags: e.tags ?? NO_TAGS }))
    .sort((a, b) => a.id.localeCompare(b.id));
}

/** `tags` with `set` applied and `remove` deleted; undefined when nothing is left (the file keeps no empty `tags:`). */
export function editTags(tags: DeviceTags | undefined, set: readonly TagPair[], remove: readonly string[] = []): Record<string, string> | undefined {
  const out: Record<string, string> = { ...tags };
  for (const k of remove) delete out[k];
  for (const { key, value } of set) out[key] = value;
  const keys = Object.keys(out).sort();
  return keys.length === 0 ? undefined : Object.fromEntries(keys.map((k) => [k, out[k]!]));
}

/**
 * Sets and removes tags of a registered device (a removed key it does not have is no error); returns its
 * tags afterwards. A device that is not in the file is a ValidationError naming it.
 */
export function tagDevice(path: string, deviceId: string, set: readonly TagPair[], remove: readonly string[] = []): DeviceTags {
  const file = readDevicesFile(path);
  const entry = file.devices[deviceId];
  if (!entry) throw new ValidationError(`device "${deviceId}" is not registered in ${path} (add it first: device add ${deviceId})`, 'ID');
  const tags = editTags(entry.tags, set, remove);
  if (tags) entry.tags = tags;
  else delete entry.tags;
  writeDevicesFile(path, file);
  return tags ?? NO_TAGS;
}

/**
 * The devices file as last read, re-read whenever it changes on disk: its inode, size, mtime or ctime
 * (device add|tag|remove replace it by rename, so the inode changes even when a coarse-grained filesystem
 * gives the new file the same mtime). One stat per call; a missing file is an empty one.
 */
export class DevicesFileCache {
  private cache: { stamp: string; file: DevicesFile } | undefined;
  constructor(readonly path: string) {}

  /** The current file; throws the ConfigError of a file that cannot be read (retried on every call). */
  current(): DevicesFile {
    let stamp: string;
    try {
      const st = statSync(this.path, { bigint: true });
      stamp = `${st.ino}:${st.size}:${st.mtimeNs}:${st.ctimeNs}`;
    } catch {
      this.cache = undefined;
      return { devices: {} }; // no file yet: nobody is registered
    }
    if (!this.cache || this.cache.stamp !== stamp) this.cache = { stamp, file: readDevicesFile(this.path) };
    return this.cache.file;
  }
}
