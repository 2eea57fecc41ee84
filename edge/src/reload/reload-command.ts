// `tidemark-edge reload -c edge.yaml`: finds the agent running with this config (data_dir/agent.pid), sends
// it SIGHUP, waits for its answer in data_dir/reload-result.json and says whether the new config was taken.
// Exit 0 taken, 1 not taken (every reason printed) or no agent, 2 usage (a different config file).
// data_dir is read leniently (unset ${VARS} allowed): the operator's shell need not hold the service's secrets.
import { dirname, resolve } from 'node:path';
import { ConfigError } from '@tidemark/shared';
import { parseConfigText, resolveConfigPath, z } from '@tidemark/shared/config';
import { readFileSync } from 'node:fs';
import { pidFilePath, readJson, reloadResultPath, type PidFile, type ReloadResultFile } from './agent-files.js';

export interface ReloadCommandResult {
  code: 0 | 1;
  lines: string[];
}

function dataDirOf(configPath: string): string {
  let text: string;
  try {
    text = readFileSync(configPath, 'utf8');
  } catch (err) {
    throw new ConfigError([{ path: '', message: `cannot read config file ${resolve(configPath)}: ${(err as Error).message}` }], configPath);
  }
  const anyVar = new Proxy(process.env, { get: (env, k) => (typeof k === 'string' ? (env[k] ?? 'unset') : undefined) });
  const doc = parseConfigText(text, z.looseObject({ data_dir: z.string().default('./data') }), { source: configPath, env: anyVar });
  return resolveConfigPath(dirname(resolve(configPath)), doc.data_dir);
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function describe(r: ReloadResultFile): string[] {
  if (!r.taken) return [`reload NOT taken; the running config stays (${r.errors.length} error${r.errors.length === 1 ? '' : 's'}):`, ...r.errors.map((e) => `  ${e.path || '(root)'}: ${e.message}${e.line !== undefined ? ` (line ${e.line})` : ''}`)];
  const s = r.sources;
  const parts = s
    ? [['started', s.started], ['restarted', s.restarted], ['stopped', s.stopped], ['kept', s.kept]].filter(([, v]) => (v as string[]).length > 0).map(([k, v]) => `${k} ${(v as string[]).join(', ')}`)
    : [];
  const lines = [`reload taken: sources ${parts.join('; ') || 'none'}; transforms ${r.transforms_changed ? 'changed' : 'unchanged'}${r.uplink_restarted ? '; uplink restarted' : ''}`];
  for (const f of s?.failed ?? []) lines.push(`  source failed to start: ${f}`);
  return lines;
}

export async function reloadCommand(configPath: string, timeoutMs: number): Promise<ReloadCommandResult> {
  const dataDir = dataDirOf(configPath);
  const pidFile = readJson<PidFile>(pidFilePath(dataDir));
  if (!pidFile) return { code: 1, lines: [`no running agent found: ${pidFilePath(dataDir)} does not exist (is \`tidemark-edge run -c ${configPath}\` running?)`] };
  if (!alive(pidFile.pid)) return { code: 1, lines: [`no running agent: pid ${pidFile.pid} in ${pidFilePath(dataDir)} is not running`] };
  if (pidFile.config_path !== resolve(configPath)) {
    throw new ConfigError([{ path: '--config', message: `the agent (pid ${pidFile.pid}) runs with ${pidFile.config_path}; reload re-reads that file, so name it` }]);
  }
  const before = readJson<ReloadResultFile>(reloadResultPath(dataDir));
  const seen = before?.pid === pidFile.pid ? before.n : 0;
  process.kill(pidFile.pid, 'SIGHUP');
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const r = readJson<ReloadResultFile>(reloadResultPath(dataDir));
    if (r && r.pid === pidFile.pid && r.n > seen) return { code: r.taken ? 0 : 1, lines: describe(r) };
    await new Promise((res) => setTimeout(res, 100));
  }
  return { code: 1, lines: [`sent SIGHUP to pid ${pidFile.pid}, but no reload result within ${timeoutMs} ms (see the agent's log)`] };
}
