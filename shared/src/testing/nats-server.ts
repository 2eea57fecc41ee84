// A private nats-server per test (JetStream on by default, state in a temp dir), on its own port on
// 127.0.0.1; optionally a cluster member, or a whole JetStream cluster. Never touches the system server on 4222.

import { spawnProcess } from './managed-process.js';
import { freePort } from './ports.js';
import { requireTool } from './require-tool.js';
import { startServer, type ServerControl } from './server-process.js';
import { makeTempDir } from './temp-dirs.js';

export interface NatsServerOptions {
  /** Default: a free port. */
  port?: number;
  /** JetStream store directory (kept across restart()). Default: a fresh temp dir. */
  dataDir?: string;
  /** Default true. */
  jetstream?: boolean;
  /** Server name; required to differ between cluster members. Default with a cluster: `nats-<port>`. */
  serverName?: string;
  /** Listen for cluster routes on 127.0.0.1:<clusterPort>. */
  clusterPort?: number;
  /** Route URLs of the other members, e.g. `nats://127.0.0.1:6222`. */
  routes?: string[];
  /** Default with a cluster: "tidemark-test". */
  clusterName?: string;
  /** More command-line flags, e.g. `['--user', 'u', '--pass', 'p']`. */
  args?: string[];
}

export interface NatsServer extends ServerControl {
  port: number;
  /** nats://127.0.0.1:<port> */
  url: string;
  dataDir: string;
}

export async function startNatsServer(opts: NatsServerOptions = {}): Promise<NatsServer> {
  const bin = requireTool('nats-server', 'nats-server');
  const dataDir = opts.dataDir ?? (await makeTempDir('tidemark-nats-'));
  const { port, control } = await startServer(
    {
      label: 'nats-server',
      spawn: (p) => spawnProcess(bin, natsArgs(p, dataDir, opts), { name: `nats-server-${p}` }),
      readyLine: /Server is ready/,
    },
    opts.port,
  );
  return Object.assign(control, { port, url: `nats://127.0.0.1:${port}`, dataDir });
}

function natsArgs(port: number, dataDir: string, opts: NatsServerOptions): string[] {
  const args = ['-a', '127.0.0.1', '-p', String(port)];
  if (opts.jetstream ?? true) args.push('-js', '-sd', dataDir);
  const clustered = opts.clusterPort !== undefined;
  const name = opts.serverName ?? (clustered ? `nats-${port}` : undefined);
  if (name !== undefined) args.push('-n', name);
  if (clustered) {
    args.push('--cluster', `nats://127.0.0.1:${opts.clusterPort}`, '--cluster_name', opts.clusterName ?? 'tidemark-test');
    if (opts.routes && opts.routes.length > 0) args.push('--routes', opts.routes.join(','));
  }
  if (opts.args) args.push(...opts.args);
  return args;
}

export interface NatsClusterOptions {
  /** Members; default 3 (the smallest JetStream cluster that survives losing one). */
  size?: number;
  /** Default true. */
  jetstream?: boolean;
  /** Default "tidemark-test". */
  clusterName?: string;
  /** How long to wait for the JetStream metadata leader election. Default 30 s. */
  timeoutMs?: number;
}

export interface NatsCluster {
  /** The members, `n0`, `n1`, …; each can be killed and restarted on its own port and store. */
  servers: NatsServer[];
  /** Client URLs of every member (give them all to a client so it can fail over). */
  urls: string[];
}

/**
 * Starts `size` servers routed to each other (every member lists every other, so any one of them can be
 * restarted and rejoin) and, with JetStream, waits until the cluster elected its metadata leader.
 */
export async function startNatsCluster(opts: NatsClusterOptions = {}): Promise<NatsCluster> {
  const size = opts.size ?? 3;
  const clusterPorts: number[] = [];
  while (clusterPorts.length < size) {
    const p = await freePort();
    if (!clusterPorts.includes(p)) clusterPorts.push(p);
  }
  const routes = clusterPorts.map((p) => `nats://127.0.0.1:${p}`);
  const jetstream = opts.jetstream ?? true;
  const servers = await Promise.all(
    clusterPorts.map((clusterPort, i) =>
      startNatsServer({
        clusterPort,
        routes: routes.filter((_, j) => j !== i),
        serverName: `n${i}`,
        jetstream,
        ...(opts.clusterName !== undefined ? { clusterName: opts.clusterName } : {}),
      }),
    ),
  );
  if (jetstream) {
    // Every member logs the election it took part in; one that joined after it learns the leader silently.
    const leader = /JetStream cluster new metadata leader|Self is new JetStream cluster metadata leader/;
    await Promise.any(servers.map((s) => s.process.waitForOutput(leader, opts.timeoutMs ?? 30_000))).catch((err: AggregateError) => {
      throw err.errors[0] as Error;
    });
  }
  return { servers, urls: servers.map((s) => s.url) };
}
