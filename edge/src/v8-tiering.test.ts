import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { agentTiering, OPTIMIZER_ENV } from './v8-tiering.js';

const MODULE = fileURLToPath(new URL('./v8-tiering.ts', import.meta.url));
const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url));

/** Runs agentTiering in a fresh node, then a hot function; returns how many optimizations V8 reported. */
function optimizationsAfter(env: Record<string, string>): number {
  const script = `
    const { agentTiering } = await import(${JSON.stringify(MODULE)});
    console.log('tiers', agentTiering());
    function hot(x) { let s = 0; for (let i = 0; i < 100; i++) s += Math.sqrt(x + i); return s; }
    let t = 0;
    for (let i = 0; i < 2e6; i++) t += hot(i);
    console.log('sum', t > 0);`;
  const r = spawnSync(process.execPath, ['--import', 'tsx', '--trace-opt', '--input-type=module', '-e', script], {
    cwd: REPO_ROOT,
    env: { ...process.env, ...env },
    encoding: 'utf8',
  });
  expect(r.status, r.stderr).toBe(0);
  expect(r.stdout).toContain('sum true');
  return (r.stdout.match(/completed optimizing[^\n]*<JSFunction hot /g) ?? []).length;
}

describe('agentTiering', () => {
  it('keeps the optimizing compiler when TIDEMARK_EDGE_OPTIMIZER=on (and sets no flag)', () => {
    expect(agentTiering({ [OPTIMIZER_ENV]: 'on' })).toBe('optimizing');
    expect(optimizationsAfter({ [OPTIMIZER_ENV]: 'on' })).toBeGreaterThan(0);
  });

  it('otherwise turns it off for the process: a hot function is never optimized', () => {
    expect(optimizationsAfter({ [OPTIMIZER_ENV]: '' })).toBe(0);
  });
});
