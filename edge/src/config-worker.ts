// Loads and validates the agent's config in a short-lived child process and hands back plain data. The
// agent runs for years on a small gateway: this way the validator (zod, yaml: ~20 MB of code and heap) never
// occupies its memory — a worker thread would leave most of that behind in the process. Errors come back as
// data and are rebuilt into the same ConfigError the CLI would otherwise throw (exit 2, every issue listed).
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { ConfigError, type ConfigIssue } from '@tidemark/shared';
import type { EdgeConfig } from './config.js';

type Reply = { ok: true; config: EdgeConfig } | { ok: false; issues: ConfigIssue[]; source?: string; message: string };

const SELF = fileURLToPath(import.meta.url);

/** Validates `path` in a child process; resolves with the config or rejects with a ConfigError. */
export function loadEdgeConfigIsolated(path: string, env: NodeJS.ProcessEnv = process.env): Promise<EdgeConfig> {
  return new Promise((resolve, reject) => {
    execFile(process.execPath, [SELF, '--validate-config', path], { env, maxBuffer: 16 * 1024 * 1024, timeout: 60_000 }, (err, stdout, stderr) => {
      let reply: Reply;
      try {
        reply = JSON.parse(stdout) as Reply;
      } catch {
        return reject(new Error(`config validation failed to run: ${err?.message ?? ''} ${stderr}`.trim()));
      }
      if (reply.ok) resolve(reply.config);
      else reject(reply.issues.length > 0 ? new ConfigError(reply.issues, reply.source) : new Error(reply.message));
    });
  });
}

if (process.argv[1] === SELF && process.argv[2] === '--validate-config') {
  const path = process.argv[3] ?? '';
  const { loadEdgeConfig } = await import('./config.js');
  let reply: Reply;
  try {
    reply = { ok: true, config: loadEdgeConfig(path, process.env) };
  } catch (err) {
    const e = err as Partial<ConfigError> & Error;
    reply = { ok: false, issues: e.issues ?? [], ...(e.source !== undefined ? { source: e.source } : {}), message: e.message };
  }
  process.stdout.write(JSON.stringify(reply));
}
