// The SIGHUP handler without a real agent: what it writes for a taken, a refused and an invalid reload, and
// that SIGHUPs arriving during a reload are folded into one more reload, never run concurrently.
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigError, createLogger } from '@tidemark/shared';
import { waitFor } from '@tidemark/shared/testing';
import { afterEach, describe, expect, it } from 'vitest';
import type { EdgeConfig } from '../config.js';
import type { ReloadOutcome } from './reload-plan.js';
import { pidFilePath, reloadResultPath, type ReloadResultFile } from './agent-files.js';
import { handleReloads, type ReloadHandle } from './reload-signal.js';

const dirs: string[] = [];
const handles: ReloadHandle[] = [];
afterEach(() => {
  for (const h of handles.splice(0)) h.close();
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function setup(load: () => Promise<EdgeConfig>, reload: (c: EdgeConfig) => Promise<ReloadOutcome>) {
  const dir = mkdtempSync(join(tmpdir(), 'tidemark-reload-'));
  dirs.push(dir);
  const agent = { config: { data_dir: dir } as EdgeConfig, logger: createLogger({ name: 'reload-test', level: 'silent' }), reload };
  const handle = handleReloads(agent, join(dir, 'edge.yaml'), load);
  handles.push(handle);
  const result = () => (existsSync(reloadResultPath(dir)) ? (JSON.parse(readFileSync(reloadResultPath(dir), 'utf8')) as ReloadResultFile) : undefined);
  return { dir, handle, result };
}

const hup = () => process.emit('SIGHUP', 'SIGHUP');

describe('handleReloads', () => {
  it('writes the pid file, and the outcome of each reload, numbered', async () => {
    const taken: ReloadOutcome = { taken: true, sources: { kept: ['a'], started: [], stopped: [], restarted: [], failed: [] }, transforms_changed: true, uplink_restarted: false };
    const { dir, result, handle } = setup(async () => ({}) as EdgeConfig, async () => taken);
    expect(JSON.parse(readFileSync(pidFilePath(dir), 'utf8'))).toMatchObject({ pid: process.pid, config_path: join(dir, 'edge.yaml') });
    hup();
    await waitFor(() => result()?.n === 1, { timeoutMs: 5000, description: 'result 1' });
    expect(result()).toMatchObject({ pid: process.pid, n: 1, taken: true, errors: [], transforms_changed: true, sources: { kept: ['a'] } });
    handle.close();
    expect(existsSync(pidFilePath(dir))).toBe(false);
  });

  it('an invalid file is not taken: every issue with its path is in the result, and the agent is never asked', async () => {
    let asked = 0;
    const issues = [{ path: 'sources[0].baud_rate', message: 'expected a positive integer', line: 7 }, { path: 'transforms[1].type', message: 'unknown' }];
    const { result } = setup(
      async () => {
        throw new ConfigError(issues, 'edge.yaml');
      },
      async () => {
        asked++;
        return { taken: false, errors: [] };
      },
    );
    hup();
    await waitFor(() => result()?.n === 1, { timeoutMs: 5000, description: 'result 1' });
    expect(result()).toMatchObject({ taken: false, errors: issues });
    expect(asked).toBe(0);
  });

  it('SIGHUPs during a reload run one more reload afterwards, never two at once', async () => {
    let active = 0;
    let maxActive = 0;
    let calls = 0;
    let release: (() => void) | undefined;
    const { result, handle } = setup(
      async () => ({}) as EdgeConfig,
      async () => {
        calls++;
        active++;
        maxActive = Math.max(maxActive, active);
        await new Promise<void>((r) => (release = r));
        active--;
        return { taken: false, errors: [{ path: 'device.id', message: 'cannot be changed by a reload' }] };
      },
    );
    hup();
    await waitFor(() => release !== undefined, { timeoutMs: 5000, description: 'first reload running' });
    hup();
    hup();
    hup();
    const first = release!;
    release = undefined;
    first();
    await waitFor(() => release !== undefined, { timeoutMs: 5000, description: 'the one follow-up reload running' });
    release!();
    await handle.idle();
    expect(calls).toBe(2);
    expect(maxActive).toBe(1);
    expect(result()).toMatchObject({ n: 2, taken: false });
  });
});
