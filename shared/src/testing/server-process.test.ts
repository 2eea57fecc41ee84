import net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { spawnProcess } from './managed-process.js';
import { freePort, tryConnect } from './ports.js';
import { useProcessReaper } from './process-reaper.js';
import { startServer } from './server-process.js';

useProcessReaper();

/** A tiny TCP server in a child node process. */
function nodeServer(port: number) {
  const script = `require('net').createServer((s) => s.end()).listen(${port}, '127.0.0.1', () => console.log('ready on ' + ${port}));`;
  return spawnProcess(process.execPath, ['-e', script], { name: `node-server-${port}` });
}

/** A "server" that starts but never listens. */
function stuckServer(port: number) {
  return spawnProcess('sh', ['-c', 'echo booting; exec sleep 1000'], { name: `stuck-server-${port}` });
}

const blockers: net.Server[] = [];
afterEach(async () => {
  await Promise.all(blockers.splice(0).map((s) => new Promise((r) => s.close(r))));
});

describe('startServer', { timeout: 20_000 }, () => {
  it('waits for the ready line and the port, and restarts on the same port', async () => {
    const { port, control } = await startServer({ label: 'node-server', spawn: (p) => nodeServer(p), readyLine: /ready on/ }, undefined);
    await expect(tryConnect(port)).resolves.toBe(true);
    const first = control.process;
    await control.restart();
    expect(first.running).toBe(false);
    expect(control.process).not.toBe(first);
    await expect(tryConnect(port)).resolves.toBe(true);
    await control.kill();
    await expect(tryConnect(port)).rejects.toThrow(/ECONNREFUSED/);
  });

  it('kills a server that never becomes ready and says why', async () => {
    const port = await freePort();
    let spawned: ReturnType<typeof stuckServer> | undefined;
    const err = await startServer(
      { label: 'stuck-server', spawn: (p) => (spawned = stuckServer(p)), readyLine: /booting/, timeoutMs: 500 },
      port,
    ).catch((e: unknown) => e);
    expect((err as Error).message).toMatch(
      new RegExp(`^stuck-server on 127\\.0\\.0\\.1:${port} did not become ready: timed out after 500 ms waiting for stuck-server to listen`),
    );
    expect((err as Error).message).toContain('last output:\n    booting');
    expect(spawned?.running).toBe(false);
  });

  it('moves to another free port when its first choice was taken (a freePort race)', async () => {
    // The first spawn is forced onto a port that is already in use, as if another process won the race.
    const taken = await freePort();
    const blocker = net.createServer();
    blockers.push(blocker);
    await new Promise<void>((r) => blocker.listen(taken, '127.0.0.1', r));
    let attempts = 0;
    const { port } = await startServer(
      {
        label: 'node-server',
        spawn: (p) => (++attempts === 1 ? nodeServer(taken) : nodeServer(p)),
        readyLine: /ready on/,
      },
      undefined,
    );
    expect(attempts).toBe(2);
    expect(port).not.toBe(taken);
  });
});
