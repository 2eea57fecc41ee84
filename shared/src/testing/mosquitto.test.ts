import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { startMosquitto } from './mosquitto.js';
import { freePort, waitForPort } from './ports.js';
import { useProcessReaper } from './process-reaper.js';
import { requireTool } from './require-tool.js';
import { makeTempDir } from './temp-dirs.js';
import { waitFor } from './wait-for.js';

requireTool('mosquitto', 'mosquitto');
useProcessReaper();

/** MQTT 3.1.1 CONNECT, clean session, keepalive 10 s, client id "t". */
const CONNECT = Buffer.from([0x10, 0x0d, 0x00, 0x04, 0x4d, 0x51, 0x54, 0x54, 0x04, 0x02, 0x00, 0x0a, 0x00, 0x01, 0x74]);

/** Connects over plain TCP, sends CONNECT and resolves with the broker's first 4 bytes (a CONNACK). */
function connack(port: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ port, host: '127.0.0.1' }, () => socket.write(CONNECT));
    let received = Buffer.alloc(0);
    socket.on('data', (chunk) => {
      received = Buffer.concat([received, chunk]);
      if (received.length >= 4) {
        socket.destroy();
        resolve(received.subarray(0, 4));
      }
    });
    socket.on('error', reject);
    socket.on('close', () => reject(new Error(`closed after ${received.length} bytes`)));
  });
}

const blockers: net.Server[] = [];
afterEach(async () => {
  await Promise.all(blockers.splice(0).map((s) => new Promise((r) => s.close(r))));
});

describe('startMosquitto', { timeout: 30_000 }, () => {
  it('starts a private broker on a free port that accepts an MQTT connection', async () => {
    const broker = await startMosquitto();
    expect(broker.port).not.toBe(1883);
    expect(broker.url).toBe(`mqtt://127.0.0.1:${broker.port}`);
    const config = fs.readFileSync(broker.configPath, 'utf8');
    expect(config).toContain(`listener ${broker.port} 127.0.0.1\n`);
    expect(config).toContain('allow_anonymous true\n');
    expect(config).toContain('log_dest stderr\n');
    expect(await connack(broker.port)).toEqual(Buffer.from([0x20, 0x02, 0x00, 0x00])); // CONNACK, accepted
    await waitFor(() => broker.process.output().includes('New client connected'), { description: 'the connection in the broker log' });
  });

  it('stops, is killed and restarts on the same port', async () => {
    const broker = await startMosquitto();
    const { port } = broker;
    const first = broker.process;

    await broker.stop();
    expect(await first.exited).toEqual({ code: 0, signal: null });
    await expect(connack(port)).rejects.toThrow(/ECONNREFUSED/);

    await broker.restart();
    expect(broker.process).not.toBe(first);
    expect(broker.port).toBe(port);
    expect((await connack(port))[0]).toBe(0x20);

    await broker.kill();
    expect((await broker.process.exited).signal).toBe('SIGKILL');
    await broker.restart();
    await waitForPort(port);
    await broker.stop();
    await broker.stop(); // idempotent
  });

  it('never loses a stop() sent right after a (re)start', async () => {
    // mosquitto 2.0 accepts connections before its main loop runs; a SIGTERM in that window used to hang stop().
    const broker = await startMosquitto();
    for (let i = 0; i < 10; i++) {
      await broker.stop();
      expect(await broker.process.exited).toEqual({ code: 0, signal: null });
      await broker.restart();
    }
  });

  it('persists into dataDir and honours extra config lines and allowAnonymous', async () => {
    const dataDir = await makeTempDir();
    const broker = await startMosquitto({ dataDir, allowAnonymous: false, configLines: ['max_keepalive 30'] });
    const config = fs.readFileSync(broker.configPath, 'utf8');
    expect(config).toContain(`persistence true\npersistence_location ${dataDir}/\n`);
    expect(config).toMatch(/max_keepalive 30\n$/);
    expect(await connack(broker.port)).toEqual(Buffer.from([0x20, 0x02, 0x00, 0x05])); // not authorized
    await broker.stop();
    expect(fs.existsSync(path.join(dataDir, 'mosquitto.db'))).toBe(true);
  });

  it('fails loudly with the broker output when the config is wrong', async () => {
    const err = await startMosquitto({ configLines: ['no_such_option true'] }).catch((e: unknown) => e);
    expect((err as Error).message).toMatch(/^mosquitto on 127\.0\.0\.1:\d+ exited with code \d+/);
    expect((err as Error).message).toContain('no_such_option');
  });

  it('fails loudly when the requested port is taken', async () => {
    const port = await freePort();
    const blocker = net.createServer();
    blockers.push(blocker);
    await new Promise<void>((r) => blocker.listen(port, '127.0.0.1', r));
    const err = await startMosquitto({ port }).catch((e: unknown) => e);
    expect((err as Error).message).toMatch(new RegExp(`^mosquitto on 127\\.0\\.0\\.1:${port} exited with code \\d+`));
    expect((err as Error).message).toMatch(/address already in use/i);
  });
});
