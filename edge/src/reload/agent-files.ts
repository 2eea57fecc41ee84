// The two small files through which `tidemark-edge reload` finds a running agent and learns what its reload
// did, both in data_dir beside buffer.db: agent.pid (who runs, with which config file) and
// reload-result.json (the outcome of the latest reload, numbered per agent process). Written atomically
// (temp file + rename): a reader never sees half a file.
import { readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { ConfigIssue } from '@tidemark/shared';
import type { SourceChanges } from '../sources/source-set.js';

export interface PidFile {
  pid: number;
  /** Absolute path of the config file the agent re-reads on SIGHUP. */
  config_path: string;
  started_at: string;
}

export interface ReloadResultFile {
  pid: number;
  /** 1, 2, 3 … per agent process. */
  n: number;
  at: string;
  taken: boolean;
  /** Why it was not taken: invalid config (path: message, line) or a change a reload cannot make. */
  errors: ConfigIssue[];
  sources?: SourceChanges;
  transforms_changed?: boolean;
  uplink_restarted?: boolean;
}

export const pidFilePath = (dataDir: string) => join(dataDir, 'agent.pid');
export const reloadResultPath = (dataDir: string) => join(dataDir, 'reload-result.json');

export function writeJsonAtomic(path: string, value: unknown): void {
  const tmp = `${path}.${process.pid}.tmp`;
  writeFileSync(tmp, `${JSON.stringify(value, null, 2)}\n`);
  renameSync(tmp, path);
}

export function readJson<T>(path: string): T | undefined {
  try {
    return JSON.parse(readFileSync(path, 'utf8')) as T;
  } catch {
    return undefined;
  }
}

/** Removes the pid file if it is still this process's (a newer agent may have replaced it). */
export function removePidFile(dataDir: string, pid: number): void {
  if (readJson<PidFile>(pidFilePath(dataDir))?.pid === pid) rmSync(pidFilePath(dataDir), { force: true });
}
