// Both device registries (SQLite in data_dir; PostgreSQL for roles on different hosts) behave the same:
// status messages and accepted batches become the rows GET /api/v1/devices serves, across a restart.
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { createLogger } from '@tidemark/shared';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { dropSchemas, requirePostgres, schemaPrefix } from '../aggregate/testing/postgres.js';
import { SqliteDeviceRegistry, type DeviceRegistry } from './device-registry.js';
import { PostgresDeviceRegistry } from './postgres-device-registry.js';

const logger = createLogger({ name: 'device-registry-test', level: 'silent' });
const prefix = schemaPrefix();
let usedPostgres: string | undefined;
afterAll(async () => {
  if (usedPostgres) await dropSchemas(usedPostgres, prefix);
});
const dirs: string[] = [];
afterEach(async () => {
  for (const d of dirs.splice(0)) await fs.rm(d, { recursive: true, force: true });
});

/** A factory that reopens the same storage each time it is called. */
type Backend = [name: string, make: () => Promise<() => DeviceRegistry>];
let n = 0;
const backends: Backend[] = [
  [
    'sqlite',
    async () => {
      const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'tidemark-devices-'));
      dirs.push(dir);
      return () => new SqliteDeviceRegistry(path.join(dir, 'devices.db'), logger);
    },
  ],
  [
    'postgres',
    async () => {
      const url = (usedPostgres = await requirePostgres());
      const schema = `${prefix}_${++n}`;
      return () => new PostgresDeviceRegistry({ url, schema, logger });
    },
  ],
];

const status = (o: Record<string, unknown>) => Buffer.from(JSON.stringify(o));
const T = Date.UTC(2026, 10, 27, 12);

describe.each(backends)('device registry (%s)', (_name, backend) => {
  it('turns status messages and accepted batches into device rows, kept across a restart', async () => {
    const open = await backend();
    const reg = open();
    await reg.start();
    reg.status('press-07', status({ online: true, agent_version: '0.1.0', backlog_readings: 12, oldest_buffered_time: '2026-11-27T11:59:00.000Z', clock_synced: true, dropped_readings: 3 }), T);
    reg.rejected('press-07');
    reg.rejected('press-07');
    reg.seen('press-07', T + 1000, 1000);
    reg.seen('press-07', T + 2000, 500);
    reg.seen('van.3', T + 500, 10);
    reg.status('broken', Buffer.from('{not json'), T); // logged and ignored
    await reg.flush();
    expect(await reg.list()).toEqual([
      {
        id: 'press-07',
        online: true,
        last_seen: new Date(T + 2000).toISOString(),
        backlog_readings: 12,
        oldest_buffered_time: '2026-11-27T11:59:00.000Z',
        clock_synced: true,
        agent_version: '0.1.0',
        batches: 2,
        readings: 1500,
        dropped_readings: 3,
        rejected_batches: 2,
      },
      {
        id: 'van.3', online: false, last_seen: new Date(T + 500).toISOString(), backlog_readings: null, oldest_buffered_time: null, clock_synced: null, agent_version: null,
        batches: 1, readings: 10, dropped_readings: null, rejected_batches: 0,
      },
    ]);
    reg.rejected('press-07');
    // The will: offline; last seen stays what it was, the version (and the last drop count) is kept.
    reg.status('press-07', status({ online: false, backlog_readings: 40, clock_synced: false }), T + 60_000);
    await reg.stop();

    const again = open();
    await again.start();
    try {
      expect(await again.get('press-07')).toMatchObject({ online: false, last_seen: new Date(T + 2000).toISOString(), backlog_readings: 40, clock_synced: false, agent_version: '0.1.0', batches: 2, dropped_readings: 3, rejected_batches: 3 });
      expect(await again.get('nobody')).toBeUndefined();
    } finally {
      await again.stop();
    }
  });
});

describe('device registry (sqlite) opened on a devices.db from before drops and rejects were kept', () => {
  it('adds the new columns and keeps the rows', async () => {
    const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'tidemark-devices-'));
    dirs.push(dir);
    const file = path.join(dir, 'devices.db');
    const { default: Database } = await import('better-sqlite3');
    const old = new Database(file);
    old.exec(`CREATE TABLE devices (id TEXT PRIMARY KEY, online INTEGER NOT NULL DEFAULT 0, last_seen_ms INTEGER, backlog_readings INTEGER,
      oldest_buffered_time TEXT, clock_synced INTEGER, agent_version TEXT, batches INTEGER NOT NULL DEFAULT 0, readings INTEGER NOT NULL DEFAULT 0) STRICT`);
    old.prepare('INSERT INTO devices(id, online, batches, readings) VALUES (?, 1, 4, 40)').run('press-07');
    old.close();
    const reg = new SqliteDeviceRegistry(file, logger);
    await reg.start();
    try {
      reg.rejected('press-07');
      expect(await reg.get('press-07')).toMatchObject({ id: 'press-07', batches: 4, readings: 40, dropped_readings: null, rejected_batches: 1 });
    } finally {
      await reg.stop();
    }
  });
});

describe('SQLite device registry on a full disk', () => {
  it('never throws from status(), keeps every write pending while the disk is full, and writes it all once there is room', async () => {
    const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'tidemark-devices-'));
    dirs.push(dir);
    const reg = new SqliteDeviceRegistry(path.join(dir, 'devices.db'), logger);
    await reg.start();
    // The disk fills: this connection may not grow the file by another page (SQLITE_FULL, as on a full disk).
    const db = (reg as unknown as { db: import('better-sqlite3').Database }).db;
    const pages = db.pragma('page_count', { simple: true }) as number;
    db.pragma(`max_page_count = ${pages}`);
    const many = Array.from({ length: 300 }, (_, i) => `gw-${String(i).padStart(4, '0')}-${'x'.repeat(40)}`);
    for (const id of many) reg.seen(id, T, 7);
    await expect(reg.flush()).rejects.toThrow(/database or disk is full/);
    expect(() => reg.status(many[0]!, status({ online: true, backlog_readings: 5 }), T)).not.toThrow();
    for (const id of many.slice(1)) reg.status(id, status({ online: true }), T);
    await expect(reg.flush()).rejects.toThrow(/full/);
    reg.seen(many[0]!, T + 1, 3);
    // The reader gets what is stored (some statuses fitted in the last free page), never an error.
    expect((await reg.list()).length).toBeLessThan(300);

    db.pragma('max_page_count = 1073741823'); // room again
    await reg.flush();
    const rows = await reg.list();
    expect(rows).toHaveLength(300);
    expect(rows.every((r) => r.online)).toBe(true);
    expect(rows.find((r) => r.id === many[0])).toMatchObject({ batches: 2, readings: 10, backlog_readings: 5 });
    expect(rows.filter((r) => r.id !== many[0]).every((r) => r.batches === 1 && r.readings === 7)).toBe(true);
    await reg.stop();
  });
});
