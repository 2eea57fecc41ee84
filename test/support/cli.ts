// Helpers for end-to-end tests: run the built bins exactly as a user would, write configs, talk to the API.
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { stringify } from 'yaml';
import { spawnProcess, type ManagedProcess } from '@tidemark/shared/testing';

export const ROOT = fileURLToPath(new URL('../..', import.meta.url));
export const EDGE_BIN = join(ROOT, 'edge/bin/tidemark-edge.js');
export const CLOUD_BIN = join(ROOT, 'cloud/bin/tidemark-cloud.js');

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs a CLI to completion (short commands: validate, device add, buffer stats, query). */
export function runCli(bin: string, args: string[], env: NodeJS.ProcessEnv = {}): CliResult {
  const r = spawnSync(process.execPath, [bin, ...args], { encoding: 'utf8', env: { ...process.env, ...env }, timeout: 60_000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** Starts a long-running CLI (run) as a managed process, reaped by useProcessReaper. */
/** `nodeArgs`: flags for node itself (e.g. `--cpu-prof`, which NODE_OPTIONS does not take). */
export function startCli(name: string, bin: string, args: string[], env: NodeJS.ProcessEnv = {}, nodeArgs: string[] = []): ManagedProcess {
  return spawnProcess(process.execPath, [...nodeArgs, bin, ...args], { name, env: { ...process.env, ...env } });
}

export function writeYaml(path: string, doc: unknown): string {
  writeFileSync(path, stringify(doc));
  return path;
}

export async function getJson<T = unknown>(url: string): Promise<{ status: number; body: T }> {
  const res = await fetch(url);
  return { status: res.status, body: (await res.json()) as T };
}
