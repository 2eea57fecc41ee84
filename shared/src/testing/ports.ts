// TCP port helpers: find a port nobody listens on, and wait until something does.
// freePort can race with other processes; servers started from it should retry on "address in use".

import net from 'node:net';
import { waitFor } from './wait-for.js';

/** A port that was free a moment ago: listen on 0, read the port the kernel chose, close. */
export function freePort(host = '127.0.0.1'): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.unref();
    server.once('error', reject);
    server.listen({ port: 0, host, exclusive: true }, () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : undefined;
      server.close(() => (port === undefined ? reject(new Error(`no port assigned on ${host}`)) : resolve(port)));
    });
  });
}

/** Resolves once one TCP connection to host:port succeeds (the connection is closed again). */
export async function waitForPort(port: number, host = '127.0.0.1', timeoutMs = 10_000): Promise<void> {
  await waitFor(() => tryConnect(port, host), { timeoutMs, description: `TCP port ${host}:${port} to accept connections` });
}

/** One connection attempt; resolves true on connect, rejects with the socket error otherwise. */
export function tryConnect(port: number, host = '127.0.0.1', timeoutMs = 1_000): Promise<true> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ port, host });
    socket.setTimeout(timeoutMs, () => socket.destroy(new Error(`connect to ${host}:${port} timed out`)));
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', reject);
  });
}
