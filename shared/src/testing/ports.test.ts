import net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { TimeoutError } from '../errors/index.js';
import { freePort, waitForPort } from './ports.js';

const servers: net.Server[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => new Promise((resolve) => s.close(resolve))));
});

function listen(port: number): Promise<net.Server> {
  return new Promise((resolve, reject) => {
    const server = net.createServer((socket) => socket.destroy());
    servers.push(server);
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => resolve(server));
  });
}

describe('freePort', () => {
  it('returns a port nobody listens on, which can then be bound', async () => {
    const port = await freePort();
    expect(port).toBeGreaterThan(1024);
    expect(port).not.toBe(1883);
    await listen(port);
  });

  it('returns different ports on consecutive calls while the first is in use', async () => {
    const first = await freePort();
    await listen(first);
    const second = await freePort();
    expect(second).not.toBe(first);
  });
});

describe('waitForPort', () => {
  it('resolves once something starts listening', async () => {
    const port = await freePort();
    const waiting = waitForPort(port, '127.0.0.1', 5_000);
    await listen(port);
    await expect(waiting).resolves.toBeUndefined();
  });

  it('times out naming the port and the connection error', async () => {
    const port = await freePort();
    const err = await waitForPort(port, '127.0.0.1', 500).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(TimeoutError);
    expect((err as Error).message).toMatch(
      new RegExp(`^timed out after 500 ms waiting for TCP port 127\\.0\\.0\\.1:${port} to accept connections; last error: .*ECONNREFUSED`),
    );
  });
});
