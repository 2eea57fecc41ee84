// A private Mosquitto broker per test: its own config file, its own port on 127.0.0.1, logging to
// stderr (captured by the ManagedProcess). Never touches the system broker on 1883.

import fs from 'node:fs';
import path from 'node:path';
import { spawnProcess } from './managed-process.js';
import { requireTool } from './require-tool.js';
import { startServer, type ServerControl } from './server-process.js';
import { makeTempDir } from './temp-dirs.js';

export interface MosquittoOptions {
  /** Default: a free port. */
  port?: number;
  /** Appended after the generated lines, so they can override them. */
  configLines?: string[];
  /** Enables persistence into this directory (survives restart()). */
  dataDir?: string;
  /** Default true. */
  allowAnonymous?: boolean;
}

export interface MosquittoServer extends ServerControl {
  port: number;
  /** mqtt://127.0.0.1:<port> */
  url: string;
  configPath: string;
}

export async function startMosquitto(opts: MosquittoOptions = {}): Promise<MosquittoServer> {
  const bin = requireTool('mosquitto', 'mosquitto');
  const confDir = await makeTempDir('tidemark-mosquitto-');
  const configPath = path.join(confDir, 'mosquitto.conf');
  const customLogging = (opts.configLines ?? []).some((l) => /^\s*log_(dest|type)\b/.test(l));

  const { port, control } = await startServer(
    {
      label: 'mosquitto',
      spawn: (p) => {
        // Written synchronously inside spawn so a retry on another port rewrites it before starting.
        fs.writeFileSync(configPath, configText(p, opts));
        return spawnProcess(bin, ['-c', configPath], { name: `mosquitto-${p}` });
      },
      // mosquitto 2.0 logs "running" and accepts connections before its main loop starts; a SIGTERM in
      // that window is lost (the loop resets its run flag). Its log of our probe proves the loop runs.
      ...(customLogging ? {} : { readyLine: /mosquitto version \S+ running/, probeHandledLine: /New connection from 127\.0\.0\.1/ }),
    },
    opts.port,
  );
  return Object.assign(control, { port, url: `mqtt://127.0.0.1:${port}`, configPath });
}

function configText(port: number, opts: MosquittoOptions): string {
  const lines = [
    '# written by @tidemark/shared/testing startMosquitto',
    `listener ${port} 127.0.0.1`,
    `allow_anonymous ${opts.allowAnonymous ?? true}`,
    'log_dest stderr',
    'log_timestamp_format %Y-%m-%dT%H:%M:%S',
  ];
  if (opts.dataDir !== undefined) {
    lines.push('persistence true', `persistence_location ${path.resolve(opts.dataDir)}/`);
  } else {
    lines.push('persistence false');
  }
  // As root, mosquitto drops to the "mosquitto" user, which cannot write our 0700 temp dirs.
  if (process.getuid?.() === 0) lines.push('user root');
  lines.push(...(opts.configLines ?? []));
  return `${lines.join('\n')}\n`;
}
