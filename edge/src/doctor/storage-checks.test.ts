import { mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { SqliteBuffer } from '../buffer/sqlite-buffer.js';
import { encoderFor, numbered, range, T0, tempDir, type TempDir } from '../buffer/test-support/buffer-fixtures.js';
import type { DoctorCheck } from './report.js';
import { humanBytes, MIN_FREE_BYTES, roughAge, storageChecks } from './storage-checks.js';
import { doctorConfig } from './test-support/doctor-config.js';

let dir: TempDir;

beforeEach(() => {
  dir = tempDir('tidemark-doctor-');
});

afterEach(() => {
  dir.remove();
});

const plenty = async () => 100e9;

function byName(checks: DoctorCheck[], name: string): DoctorCheck {
  const c = checks.find((x) => x.name === name);
  if (!c) throw new Error(`no check ${name}`);
  return c;
}

function makeBuffer(dataDir: string, deviceId = 'press-07'): SqliteBuffer {
  mkdirSync(dataDir, { recursive: true });
  return SqliteBuffer.open({ path: join(dataDir, 'buffer.db'), deviceId });
}

describe('data_dir', () => {
  it('an existing directory passes after a real write, and leaves nothing behind', async () => {
    const config = doctorConfig(dir.path);
    mkdirSync(config.data_dir);
    const checks = await storageChecks(config, { freeBytes: plenty });
    expect(byName(checks, 'data_dir')).toMatchObject({ status: 'pass', detail: expect.stringContaining(`${config.data_dir} exists and is writable`) });
    expect(readdirSync(config.data_dir)).toEqual([]);
  });

  it('a missing directory under a writable parent passes: the agent creates it (doctor does not)', async () => {
    const config = doctorConfig(dir.path, { data_dir: `${dir.path}/a/b` });
    const checks = await storageChecks(config, { freeBytes: plenty });
    expect(byName(checks, 'data_dir')).toMatchObject({ status: 'pass', detail: expect.stringContaining('does not exist yet; the agent will create it in') });
    expect(readdirSync(dir.path)).toEqual([]);
  });

  it('a file where the directory should be fails', async () => {
    const config = doctorConfig(dir.path);
    writeFileSync(config.data_dir, 'oops');
    const checks = await storageChecks(config, { freeBytes: plenty });
    expect(byName(checks, 'data_dir')).toMatchObject({ status: 'fail', detail: expect.stringContaining('is not a directory') });
  });
});

describe('disk', () => {
  it('passes with room for buffer.max_bytes and names the numbers', async () => {
    const config = doctorConfig(dir.path, { buffer: { max_bytes: '256MB' } });
    const c = byName(await storageChecks(config, { freeBytes: plenty }), 'disk');
    expect(c.status).toBe('pass');
    expect(c.detail).toBe('100 GB free; buffer uses 0 B of buffer.max_bytes 256 MB');
  });

  it('warns when free space is below what the buffer may still grow by', async () => {
    const config = doctorConfig(dir.path, { buffer: { max_bytes: '10GB' } });
    const c = byName(await storageChecks(config, { freeBytes: async () => 1e9 }), 'disk');
    expect(c.status).toBe('warn');
    expect(c.hint).toMatch(/lower buffer\.max_bytes/);
  });

  it(`fails below ${MIN_FREE_BYTES / 1e6} MB free whatever max_bytes says`, async () => {
    const config = doctorConfig(dir.path, { buffer: { max_bytes: '1MB' } });
    const c = byName(await storageChecks(config, { freeBytes: async () => 10e6 }), 'disk');
    expect(c).toMatchObject({ status: 'fail', detail: 'only 10 MB free; buffer uses 0 B of buffer.max_bytes 1.0 MB' });
  });

  it('measures the real file system by default', async () => {
    const config = doctorConfig(dir.path);
    const c = byName(await storageChecks(config), 'disk');
    expect(c.detail).toMatch(/free; buffer uses 0 B/);
  });
});

describe('buffer', () => {
  it('no buffer yet passes', async () => {
    const config = doctorConfig(dir.path);
    expect(byName(await storageChecks(config, { freeBytes: plenty }), 'buffer')).toMatchObject({ status: 'pass', detail: expect.stringContaining('no buffer yet') });
  });

  it('reports counts and the oldest reading of a buffer in use, without writing to it', async () => {
    const config = doctorConfig(dir.path);
    const live = makeBuffer(config.data_dir);
    try {
      live.append(range(1, 10).map((n) => numbered(n)));
      live.commit();
      live.seal(4, encoderFor(live), T0);
      const c = byName(await storageChecks(config, { freeBytes: plenty, now: () => T0 + 90_000 }), 'buffer');
      expect(c.status).toBe('pass');
      expect(c.detail).toContain('10 readings (6 pending, 4 in 1 unacked batches)');
      expect(c.detail).toContain(`oldest ${new Date(T0 + 1).toISOString()} (89s ago)`);
      // The agent keeps working after doctor looked.
      live.append([numbered(11)]);
      expect(live.commit()).toBe(1);
    } finally {
      live.close();
    }
  });

  it('warns about drops and about a backlog older than half of max_age', async () => {
    const config = doctorConfig(dir.path, { buffer: { max_age: '1h' } });
    const live = makeBuffer(config.data_dir);
    live.append([numbered(1)]);
    live.commit();
    live.close();
    let c = byName(await storageChecks(config, { freeBytes: plenty, now: () => T0 + 40 * 60_000 }), 'buffer');
    expect(c).toMatchObject({ status: 'warn', hint: expect.stringContaining('half of buffer.max_age (1h)') });
    const again = makeBuffer(config.data_dir);
    again.recordDrop('overflow', 12);
    again.close();
    c = byName(await storageChecks(config, { freeBytes: plenty, now: () => T0 }), 'buffer');
    expect(c).toMatchObject({ status: 'warn', detail: expect.stringContaining('dropped so far: overflow 12') });
  });

  it('fails for a buffer of another device, naming both', async () => {
    const config = doctorConfig(dir.path);
    makeBuffer(config.data_dir, 'press-99').close();
    const c = byName(await storageChecks(config, { freeBytes: plenty }), 'buffer');
    expect(c.status).toBe('fail');
    expect(c.detail).toContain('belongs to device "press-99"');
    expect(c.detail).toContain('"press-07"');
  });

  it('fails for a file that is not a buffer, with a rescue hint', async () => {
    const config = doctorConfig(dir.path);
    mkdirSync(config.data_dir);
    writeFileSync(join(config.data_dir, 'buffer.db'), 'this is not a database, just text that is long enough to matter'.repeat(100));
    const c = byName(await storageChecks(config, { freeBytes: plenty }), 'buffer');
    expect(c.status).toBe('fail');
    expect(c.hint).toContain('buffer export');
  });
});

describe('humanBytes', () => {
  it('uses decimal units with about three digits', () => {
    expect([humanBytes(950), humanBytes(1500), humanBytes(12_345_678), humanBytes(84_321_000_000)]).toEqual(['950 B', '1.5 kB', '12 MB', '84 GB']);
  });
});

describe('roughAge', () => {
  it('picks one unit', () => {
    expect([roughAge(5_000), roughAge(600_000), roughAge(5 * 3_600_000), roughAge(3 * 86_400_000)]).toEqual(['5s', '10m', '5h', '3d']);
  });
});
