// The CLIs as a field tech and an operator use them: init → validate, every config error listed with its
// path and line and exit 2, a taken port is exit 1 naming the port, and a running collector survives
// malformed MQTT payloads (counted and dead-lettered, never a crash).
import { execFileSync } from 'node:child_process';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { writeFileSync } from 'node:fs';
import Database from 'better-sqlite3';
import { connectAsync } from 'mqtt';
import { describe, expect, it } from 'vitest';
import { decodeAck, encodeBatch, newStreamId, topics } from '@tidemark/proto';
import { freePort, makeTempDir, useProcessReaper, waitFor } from '@tidemark/shared/testing';
import { CLOUD_BIN, EDGE_BIN, ROOT, runCli, startCli, writeYaml } from './support/cli.js';

describe('tidemark-edge validate / init', () => {
  it('init prints a commented example that validates', async () => {
    const dir = await makeTempDir();
    const init = runCli(EDGE_BIN, ['init']);
    expect(init.code).toBe(0);
    expect(init.stdout).toMatch(/^# /m);
    const file = join(dir, 'edge.yaml');
    writeFileSync(file, init.stdout);
    const v = runCli(EDGE_BIN, ['validate', '-c', file]);
    expect(v.stderr).toBe('');
    expect(v.code).toBe(0);
  });

  it('lists every error of a config with three mistakes, with paths and lines, and exits 2', async () => {
    const dir = await makeTempDir();
    const file = join(dir, 'edge.yaml');
    writeFileSync(
      file,
      [
        'device:',
        '  id: press 07', // 1: invalid id (space)
        'sources:',
        '  - type: serial',
        '    name: plc',
        '    path: /dev/ttyUSB0',
        '    baud_rate: -5', // 2: not a positive integer
        '    parser: { format: csv, columns: [temp_c] }',
        'uplink:',
        '  url: mqtt://127.0.0.1:1883',
        '  pasword: x', // 3: unknown key (typo)
        '',
      ].join('\n'),
    );
    const r = runCli(EDGE_BIN, ['validate', '-c', file]);
    expect(r.code).toBe(2);
    expect(r.stdout).toBe('');
    const lines = r.stderr.split('\n');
    expect(lines.find((l) => l.includes('device.id:'))).toMatch(/line 2/);
    expect(lines.find((l) => l.includes('sources[0].baud_rate:'))).toMatch(/line 7/);
    expect(lines.find((l) => l.includes('uplink.pasword'))).toMatch(/line 11/);
    expect(r.stderr).toMatch(/3 errors/);
  });

  it('a missing file and an unknown command are usage errors (exit 2)', () => {
    expect(runCli(EDGE_BIN, ['validate', '-c', '/nonexistent/edge.yaml']).code).toBe(2);
    expect(runCli(EDGE_BIN, ['frobnicate']).code).toBe(2);
    expect(runCli(CLOUD_BIN, ['validate']).code).toBe(2);
  });
});

describe('tidemark-cloud', () => {
  useProcessReaper();

  it('validate reports every error with its path', async () => {
    const dir = await makeTempDir();
    const file = writeYaml(join(dir, 'cloud.yaml'), {
      broker: { mode: 'embedded', listen: '0.0.0.0:99999' },
      aggregation: { resolutions: ['1m', '7m'], allowed_lateness: 'soon' },
    });
    const r = runCli(CLOUD_BIN, ['validate', '-c', file]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/broker\.listen/);
    expect(r.stderr).toMatch(/aggregation\.resolutions\[1\]/);
    expect(r.stderr).toMatch(/aggregation\.allowed_lateness/);
  });

  it('run exits 1 naming the port when the MQTT port is taken', async () => {
    const dir = await makeTempDir();
    const blocker = createServer();
    await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve));
    const taken = (blocker.address() as { port: number }).port;
    try {
      const file = writeYaml(join(dir, 'cloud.yaml'), {
        data_dir: join(dir, 'data'),
        broker: { listen: `127.0.0.1:${taken}` },
        api: { listen: `127.0.0.1:${await freePort()}` },
      });
      const r = runCli(CLOUD_BIN, ['run', '-c', file]);
      expect(r.code).toBe(1);
      expect(r.stderr).toContain(`port ${taken}`);
      expect(r.stderr).toContain('broker.listen');
    } finally {
      blocker.close();
    }
  });

  it('npm start exits 1 naming the port and its variable when the API port is taken', async () => {
    const blocker = createServer();
    await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve));
    const taken = (blocker.address() as { port: number }).port;
    try {
      let stderr = '';
      let code = 0;
      try {
        execFileSync(process.execPath, [join(ROOT, 'scripts/demo.js')], {
          env: { ...process.env, TIDEMARK_MQTT_PORT: String(await freePort()), TIDEMARK_API_PORT: String(taken) },
          encoding: 'utf8',
          stdio: 'pipe',
          timeout: 60_000,
        });
      } catch (err) {
        const e = err as { status: number; stderr: string };
        code = e.status;
        stderr = e.stderr;
      }
      expect(code).toBe(1);
      expect(stderr).toContain(`port ${taken}`);
      expect(stderr).toContain('TIDEMARK_API_PORT');
    } finally {
      blocker.close();
    }
  });

  it('counts and dead-letters malformed payloads, rejects invalid batches, and keeps serving', async () => {
    const dir = await makeTempDir();
    const [mqttPort, apiPort] = [await freePort(), await freePort()];
    const file = writeYaml(join(dir, 'cloud.yaml'), {
      data_dir: join(dir, 'data'),
      broker: { listen: `127.0.0.1:${mqttPort}` },
      auth: { devices_file: join(dir, 'devices.yaml') },
      api: { listen: `127.0.0.1:${apiPort}` },
    });
    const password = runCli(CLOUD_BIN, ['device', 'add', 'gw-bad', '-c', file]).stdout.trim();
    const cloud = startCli('collector', CLOUD_BIN, ['run', '-c', file]);
    const api = `http://127.0.0.1:${apiPort}`;
    await waitFor(async () => (await fetch(`${api}/readyz`).catch(() => undefined))?.ok, { timeoutMs: 20_000, description: 'collector ready' });

    // Wrong password: refused by the broker.
    await expect(
      connectAsync(`mqtt://127.0.0.1:${mqttPort}`, { clientId: 'gw-bad', username: 'gw-bad', password: 'wrong', reconnectPeriod: 0, connectTimeout: 5000 }),
    ).rejects.toThrow();

    const client = await connectAsync(`mqtt://127.0.0.1:${mqttPort}`, { clientId: 'gw-bad', username: 'gw-bad', password, reconnectPeriod: 0 });
    const acks: Buffer[] = [];
    client.on('message', (_t, payload) => acks.push(payload));
    await client.subscribeAsync(topics.ack('gw-bad'), { qos: 1 });
    for (let i = 0; i < 20; i++) await client.publishAsync(topics.batch('gw-bad'), Buffer.from(`garbage ${i} \u0000\u00ff`), { qos: 1 });
    // A decodable batch claiming another device: refused (payload device != topic device).
    const streamId = newStreamId();
    const other = encodeBatch({
      deviceId: 'someone-else',
      streamId,
      seq: 1,
      clock: { synced: true, anchorWallMs: Date.now(), anchorMonoMs: 0 },
      readings: [{ sensor: 'x', ts: Date.now(), value: 1 }],
    });
    await client.publishAsync(topics.batch('gw-bad'), Buffer.from(other), { qos: 1 });
    // And a valid one still goes through and is acked ok.
    const good = encodeBatch({
      deviceId: 'gw-bad',
      streamId,
      seq: 1,
      clock: { synced: true, anchorWallMs: Date.now(), anchorMonoMs: 0 },
      readings: [{ sensor: 'x', ts: Date.now(), value: 1 }],
    });
    await client.publishAsync(topics.batch('gw-bad'), Buffer.from(good), { qos: 1 });
    await waitFor(() => acks.length >= 1, { description: 'ack for the valid batch' });
    // The same batch again (a resend): acked `duplicate`, counted, not stored twice.
    await client.publishAsync(topics.batch('gw-bad'), Buffer.from(good), { qos: 1 });
    await waitFor(() => acks.length >= 2, { description: 'ack for the resent batch' });
    const statuses = acks.map((a) => decodeAck(new Uint8Array(a)).results.map((r) => r.status)).flat();
    expect(statuses).toEqual(['ok', 'duplicate']);

    // ACL: no reading another device's acks, no publishing under another device's topics.
    await expect(client.subscribeAsync(topics.ack('gw-other'), { qos: 1 })).rejects.toThrow(/Subscribe error/); // SUBACK 0x80
    const intruder = await connectAsync(`mqtt://127.0.0.1:${mqttPort}`, { clientId: 'gw-bad', username: 'gw-other', password, reconnectPeriod: 0, connectTimeout: 5000 }).catch((e: Error) => e);
    expect(intruder).toBeInstanceOf(Error); // username must equal the client id
    const spoof = encodeBatch({ deviceId: 'gw-other', streamId: newStreamId(), seq: 1, clock: { synced: true, anchorWallMs: 0, anchorMonoMs: 0 }, readings: [{ sensor: 'x', ts: Date.now(), value: 2 }] });
    // The broker refuses it and closes the connection, so there is no PUBACK to wait for: the metric tells.
    client.publish(topics.batch('gw-other'), Buffer.from(spoof), { qos: 1 }, () => undefined);

    const metrics = await waitFor(
      async () => {
        const text = await (await fetch(`${api}/metrics`)).text();
        return /tidemark_cloud_rejected_total\{reason="undecodable"\} 20/.test(text) && /broker_denied_total\{action="publish"\} 1/.test(text) ? text : undefined;
      },
      { description: '20 undecodable payloads and the spoofed publish counted' },
    );
    expect(metrics).toMatch(/tidemark_cloud_rejected_total\{reason="device_mismatch"\} 1/);
    expect(metrics).toMatch(/tidemark_cloud_batches_total\{status="ok"\} 1/);
    expect(metrics).toMatch(/tidemark_cloud_duplicates_total 1/);
    expect(metrics).toMatch(/tidemark_cloud_broker_denied_total\{action="subscribe"\} 1/);
    expect(metrics).toMatch(/tidemark_cloud_broker_denied_total\{action="publish"\} 1/);
    client.end(true);

    // Logged once per device per minute, not once per payload.
    const lines = cloud.output().split('\n').filter((l) => l.includes('batch refused'));
    expect(lines.length).toBe(1);

    expect(cloud.running).toBe(true);
    expect((await cloud.kill('SIGTERM')).code).toBe(0);
    const db = new Database(join(dir, 'data', 'stream.db'), { readonly: true });
    try {
      const dead = db.prepare("SELECT count(*) AS n FROM dead_letters WHERE device = 'gw-bad'").get() as { n: number };
      expect(dead.n).toBe(21);
      const stored = db.prepare('SELECT count(*) AS n FROM stream').get() as { n: number };
      expect(stored.n).toBe(1);
    } finally {
      db.close();
    }
  });
});
