import net from 'node:net';
import { describe, expect, it } from 'vitest';
import { startNatsCluster, startNatsServer } from './nats-server.js';
import { freePort } from './ports.js';
import { useProcessReaper } from './process-reaper.js';
import { requireTool } from './require-tool.js';

requireTool('nats-server', 'nats-server');
useProcessReaper();

/** The server's INFO line, which it sends first to every client. */
function serverInfo(port: number): Promise<Record<string, unknown>> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ port, host: '127.0.0.1' });
    let text = '';
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => {
      text += chunk;
      const end = text.indexOf('\r\n');
      if (end >= 0) {
        socket.destroy();
        const line = text.slice(0, end);
        if (!line.startsWith('INFO ')) reject(new Error(`unexpected greeting: ${line}`));
        else resolve(JSON.parse(line.slice(5)) as Record<string, unknown>);
      }
    });
    socket.on('error', reject);
  });
}

describe('startNatsServer', { timeout: 30_000 }, () => {
  it('starts a private JetStream server and restarts it on the same port and store', async () => {
    const nats = await startNatsServer();
    expect(nats.port).not.toBe(4222);
    expect(nats.url).toBe(`nats://127.0.0.1:${nats.port}`);
    expect(nats.process.commandLine).toContain(`-js -sd ${nats.dataDir}`);
    const info = await serverInfo(nats.port);
    expect(info.port).toBe(nats.port);
    expect(info.jetstream).toBe(true);

    const first = nats.process;
    await nats.kill();
    expect((await first.exited).signal).toBe('SIGKILL');
    await nats.restart();
    expect(nats.process).not.toBe(first);
    expect((await serverInfo(nats.port)).server_id).not.toBe(info.server_id);
    expect(nats.process.output()).toContain(`Store Directory: "${nats.dataDir}/jetstream"`);
    await nats.stop();
    expect(nats.process.running).toBe(false);
  });

  it('can run without JetStream under a given name', async () => {
    const nats = await startNatsServer({ jetstream: false, serverName: 'edge-hub' });
    const info = await serverInfo(nats.port);
    expect(info.server_name).toBe('edge-hub');
    expect(info.jetstream).toBeUndefined();
  });

  it('forms a two-node cluster over routes', async () => {
    const [clusterA, clusterB] = [await freePort(), await freePort()];
    const a = await startNatsServer({ clusterPort: clusterA, serverName: 'a', jetstream: false });
    const b = await startNatsServer({ clusterPort: clusterB, serverName: 'b', routes: [`nats://127.0.0.1:${clusterA}`], jetstream: false });
    expect(b.process.commandLine).toContain(`--cluster nats://127.0.0.1:${clusterB} --cluster_name tidemark-test --routes nats://127.0.0.1:${clusterA}`);
    await a.process.waitForOutput(/Route connection created/);
    await b.process.waitForOutput(/Route connection created/);
    expect((await serverInfo(a.port)).cluster).toBe('tidemark-test');
  });

  it('starts a 3-node JetStream cluster whose members route to each other and elected a metadata leader', async () => {
    const cluster = await startNatsCluster();
    expect(cluster.servers.map((s) => s.url)).toEqual(cluster.urls);
    for (const [i, s] of cluster.servers.entries()) {
      const info = await serverInfo(s.port);
      expect(info.server_name).toBe(`n${i}`);
      expect(info.cluster).toBe('tidemark-test');
      expect(info.jetstream).toBe(true);
      expect(s.process.commandLine.match(/--routes (\S+)/)?.[1]?.split(',')).toHaveLength(2);
    }
  });
});
