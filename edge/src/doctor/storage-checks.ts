// data_dir, free disk and the buffer file. Side-effect free apart from one probe file written and removed
// in data_dir; the buffer is only ever opened read-only.
import { constants } from 'node:fs';
import { access, open, stat, statfs, unlink } from 'node:fs/promises';
import { userInfo } from 'node:os';
import { dirname, join } from 'node:path';
import { formatDuration } from '@tidemark/shared';
import { BufferReader } from '../buffer/export.js';
import type { EdgeConfig } from '../config.js';
import { describeError, errorCode } from './error-text.js';
import { fail, pass, warn, type DoctorCheck } from './report.js';

/** Below this much free space the agent is about to fail, whatever buffer.max_bytes says. */
export const MIN_FREE_BYTES = 50 * 1000 * 1000;

const RUN_AS_HINT = 'run doctor as the agent\'s user: sudo -u tidemark tidemark-edge doctor -c <config>';

export interface StorageCheckOptions {
  now?: () => number;
  /** Free bytes for an unprivileged user on the file system holding `path` (default: statfs). */
  freeBytes?: (path: string) => Promise<number>;
}

export async function storageChecks(config: EdgeConfig, opts: StorageCheckOptions = {}): Promise<DoctorCheck[]> {
  const dir = config.data_dir;
  const existing = await nearestExisting(dir);
  return [await dataDirCheck(dir, existing), await diskCheck(config, existing, opts.freeBytes), bufferCheck(config, opts.now)];
}

async function statfsFree(path: string): Promise<number> {
  const fs = await statfs(path);
  return fs.bavail * fs.bsize;
}

async function nearestExisting(path: string): Promise<string> {
  for (let p = path; ; p = dirname(p)) {
    try {
      await stat(p);
      return p;
    } catch {
      if (dirname(p) === p) return p;
    }
  }
}

/** Permission results depend on who asks: `checked as pi`, or a note that root sees more than the agent. */
function checkedAs(): string {
  try {
    const u = userInfo();
    return u.uid === 0 ? "checked as root, which may write where the agent's user cannot" : `checked as ${u.username}`;
  } catch {
    return `checked as uid ${process.getuid?.() ?? '?'}`;
  }
}

export async function dataDirCheck(dir: string, existing: string): Promise<DoctorCheck> {
  const name = 'data_dir';
  if (existing !== dir) {
    try {
      await access(existing, constants.W_OK);
      return pass(name, `${dir} does not exist yet; the agent will create it in ${existing} (writable; ${checkedAs()})`);
    } catch {
      return fail(name, `${dir} does not exist and ${existing} is not writable (${checkedAs()})`, `sudo install -d -o tidemark -g tidemark ${dir}`);
    }
  }
  const st = await stat(dir);
  if (!st.isDirectory()) return fail(name, `${dir} exists but is not a directory`, 'point data_dir at a directory');
  const probe = join(dir, `.tidemark-doctor-${process.pid}`);
  try {
    const fh = await open(probe, 'wx');
    try {
      await fh.writeFile('doctor write probe\n');
      await fh.sync();
    } finally {
      await fh.close();
    }
    await unlink(probe);
  } catch (err) {
    await unlink(probe).catch(() => undefined);
    const code = errorCode(err);
    if (code === 'EACCES' || code === 'EPERM') {
      return fail(name, `${dir} is not writable (${checkedAs()})`, `sudo chown -R tidemark:tidemark ${dir} (the systemd unit's StateDirectory does this), or ${RUN_AS_HINT}`);
    }
    if (code === 'EROFS') return fail(name, `${dir} is on a read-only file system`, 'mount it read-write or choose another data_dir');
    if (code === 'ENOSPC') return fail(name, `${dir}: no space left on the device`, 'free disk space; the agent cannot buffer readings');
    return fail(name, `${dir}: write test failed: ${describeError(err)}`);
  }
  return pass(name, `${dir} exists and is writable (${checkedAs()})`);
}

export async function diskCheck(config: EdgeConfig, existing: string, freeBytes = statfsFree): Promise<DoctorCheck> {
  const name = 'disk';
  let free: number;
  try {
    free = await freeBytes(existing);
  } catch (err) {
    return warn(name, `cannot read free space of ${existing}: ${describeError(err)}`);
  }
  const dbPath = join(config.data_dir, 'buffer.db');
  const used = (await sizeOf(dbPath)) + (await sizeOf(`${dbPath}-wal`));
  const max = config.buffer.max_bytes;
  const growth = Math.max(0, max - used);
  const detail = `${humanBytes(free)} free; buffer uses ${humanBytes(used)} of buffer.max_bytes ${humanBytes(max)}`;
  if (free < MIN_FREE_BYTES) return fail(name, `only ${detail}`, `free disk space (at least ${humanBytes(MIN_FREE_BYTES)}); the agent cannot commit readings when the disk is full`);
  if (free < growth) {
    return warn(name, `${detail}: the buffer may need ${humanBytes(growth)} more than is free`, `free disk space or lower buffer.max_bytes; otherwise the disk fills before buffer.on_full (${config.buffer.on_full}) applies`);
  }
  return pass(name, detail);
}

export function bufferCheck(config: EdgeConfig, now: () => number = Date.now): DoctorCheck {
  const name = 'buffer';
  const path = join(config.data_dir, 'buffer.db');
  let reader: BufferReader;
  try {
    reader = BufferReader.open(path);
  } catch (err) {
    if (/no buffer at/.test((err as Error).message)) return pass(name, `no buffer yet at ${path} (the agent creates it on first run)`);
    return fail(name, describeError(err), `rescue what you can (tidemark-edge buffer export -c <config> > rescue.jsonl), then move the file aside so the agent starts a new buffer`);
  }
  try {
    try {
      reader.checkOwner(config.device.id);
    } catch (err) {
      return fail(name, describeError(err), 'use another data_dir, or move the old buffer aside after exporting it');
    }
    const s = reader.summary();
    const parts = [`${s.bufferedReadings} reading${s.bufferedReadings === 1 ? '' : 's'} (${s.pendingReadings} pending, ${s.sealedReadings} in ${s.sealedBatches} unacked batches)`];
    const age = s.oldestTs === null ? undefined : Math.max(0, now() - s.oldestTs);
    if (s.oldestTs !== null) parts.push(`oldest ${new Date(s.oldestTs).toISOString()} (${roughAge(age ?? 0)} ago)`);
    parts.push(`file ${humanBytes(s.fileBytes)}`);
    const drops = Object.entries(s.drops).filter(([, n]) => n > 0);
    if (drops.length > 0) parts.push(`dropped so far: ${drops.map(([reason, n]) => `${reason} ${n}`).join(', ')}`);
    const detail = parts.join('; ');
    if (drops.length > 0) return warn(name, detail, 'readings were dropped (buffer full or expired): the uplink was down longer than the buffer can hold');
    if (age !== undefined && age > config.buffer.max_age / 2) {
      return warn(name, detail, `the oldest reading is past half of buffer.max_age (${formatDuration(config.buffer.max_age)}): the uplink is not keeping up`);
    }
    if (s.fileBytes > 0.8 * config.buffer.max_bytes) return warn(name, detail, 'the buffer is over 80% of buffer.max_bytes');
    return pass(name, detail);
  } catch (err) {
    return fail(name, `cannot read ${path}: ${describeError(err)}`);
  } finally {
    reader.close();
  }
}

/** `950 B`, `12.3 MB`, `84.3 GB` (decimal units, as buffer.max_bytes `256MB` means 256 000 000 bytes). */
export function humanBytes(n: number): string {
  const units = ['B', 'kB', 'MB', 'GB', 'TB'];
  let v = n;
  let i = 0;
  while (v >= 1000 && i < units.length - 1) {
    v /= 1000;
    i++;
  }
  return i === 0 ? `${Math.round(v)} B` : `${v < 10 ? v.toFixed(1) : Math.round(v)} ${units[i]}`;
}

/** `42s`, `17m`, `5h`, `3d`: enough precision for a report line. */
export function roughAge(ms: number): string {
  const s = Math.floor(ms / 1000);
  if (s < 120) return `${s}s`;
  if (s < 7200) return `${Math.floor(s / 60)}m`;
  if (s < 172_800) return `${Math.floor(s / 3600)}h`;
  return `${Math.floor(s / 86_400)}d`;
}

async function sizeOf(path: string): Promise<number> {
  try {
    return (await stat(path)).size;
  } catch {
    return 0;
  }
}
