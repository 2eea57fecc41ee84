// A private PostgreSQL for fault tests: initdb in a temp dir, one postmaster on a free port on 127.0.0.1
// (trust auth, user postgres), as the `postgres` user when the tests run as root (PostgreSQL refuses root).
// The test owns it: it can stop it (fast shutdown: clients are disconnected) and start it again on the same
// port and data directory, and the process reaper kills it at the end.
import { spawnSync } from 'node:child_process';
import { chownSync, existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { makeTempDir, spawnProcess } from '@tidemark/shared/testing';
import { startServer, type ServerControl } from '../../shared/src/testing/server-process.js';

export interface PrivatePostgres extends ServerControl {
  port: number;
  url: string;
  /** Fast shutdown (SIGINT): every session is disconnected, then the server exits. */
  fastStop(): Promise<void>;
}

function binDir(): string {
  const root = '/usr/lib/postgresql';
  const versions = existsSync(root) ? readdirSync(root).filter((v) => existsSync(join(root, v, 'bin', 'postgres'))).sort((a, b) => Number(b) - Number(a)) : [];
  if (versions.length === 0) throw new Error('PostgreSQL server binaries not found under /usr/lib/postgresql/*/bin: install the Debian package "postgresql"');
  return join(root, versions[0]!, 'bin');
}

/** `[command, ...args]` run as the postgres user when we are root. */
function asPostgres(cmd: string, args: string[]): [string, string[]] {
  if (process.getuid?.() !== 0) return [cmd, args];
  return ['setpriv', ['--reuid=postgres', '--regid=postgres', '--init-groups', '--reset-env', cmd, ...args]];
}

/** `port`: a fixed one (a test that configured a client for a server not started yet); default a free one. */
export async function startPrivatePostgres(opts: { port?: number } = {}): Promise<PrivatePostgres> {
  const bin = binDir();
  const dir = await makeTempDir('tidemark-pg-');
  const data = join(dir, 'data');
  if (process.getuid?.() === 0) {
    const r = spawnSync('id', ['-u', 'postgres'], { encoding: 'utf8' });
    const uid = Number(r.stdout.trim());
    const g = spawnSync('id', ['-g', 'postgres'], { encoding: 'utf8' });
    chownSync(dir, uid, Number(g.stdout.trim()));
  }
  const [icmd, iargs] = asPostgres(join(bin, 'initdb'), ['-D', data, '-A', 'trust', '-U', 'postgres', '--no-sync', '-E', 'UTF8']);
  const init = spawnSync(icmd, iargs, { encoding: 'utf8', timeout: 120_000 });
  if (init.status !== 0) throw new Error(`initdb failed: ${init.stderr || init.stdout || String(init.error)}`);
  const { port, control } = await startServer(
    {
      label: 'postgres',
      spawn: (p) => {
        const [cmd, args] = asPostgres(join(bin, 'postgres'), ['-D', data, '-p', String(p), '-k', dir, '-c', 'listen_addresses=127.0.0.1', '-c', 'fsync=off']);
        return spawnProcess(cmd, args, { name: `postgres-${p}` });
      },
      readyLine: /database system is ready to accept connections/,
      timeoutMs: 60_000,
    },
    opts.port,
  );
  return Object.assign(control, {
    port,
    url: `postgres://postgres@127.0.0.1:${port}/postgres`,
    async fastStop() {
      if (control.process.running) await control.process.kill('SIGINT', 30_000);
    },
  });
}
