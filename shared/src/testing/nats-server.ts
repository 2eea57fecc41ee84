// A private nats-server per test (JetStream on by default, state in a temp dir), on its own port on
// 127.0.0.1; optionally a cluster member. Never touches the system server on 4222.

import { spawnProcess } from './managed-process.js';
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
  return args;
}
