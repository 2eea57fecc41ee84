import fs from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawnProcess, type ManagedProcess } from './managed-process.js';
import { useProcessReaper } from './process-reaper.js';
import { makeTempDir } from './temp-dirs.js';

// The describes below run in order; later ones check what the reaper did after earlier ones.

describe('after a passing test', () => {
  useProcessReaper();
  let proc: ManagedProcess | undefined;
  let dir = '';

  it('starts a process and a temp dir', async () => {
    proc = spawnProcess('sleep', ['1000'], { name: 'passing-sleeper' });
    dir = await makeTempDir();
    expect(fs.existsSync(dir)).toBe(true);
  });

  it('has killed the process and deleted its log and the temp dir', async () => {
    expect(proc?.running).toBe(false);
    expect((await proc?.exited)?.signal).toBe('SIGKILL');
    expect(fs.existsSync(proc?.logPath ?? '')).toBe(false);
    expect(fs.existsSync(dir)).toBe(false);
  });
});

let sharedFromPreviousSuite: ManagedProcess | undefined;

describe('processes started in beforeAll', () => {
  useProcessReaper();
  let shared: ManagedProcess;
  beforeAll(() => {
    shared = spawnProcess('sleep', ['1000'], { name: 'suite-sleeper' });
    sharedFromPreviousSuite = shared;
  });

  it('survive the first test', () => {
    expect(shared.running).toBe(true);
  });

  it('and the second one', () => {
    expect(shared.running).toBe(true);
  });
});

describe('after the suite that started them', () => {
  it('they are reaped', async () => {
    expect(sharedFromPreviousSuite?.running).toBe(false);
    expect((await sharedFromPreviousSuite?.exited)?.signal).toBe('SIGKILL');
  });
});

describe('after a failing test', () => {
  const printed: string[] = [];
  useProcessReaper({ print: (text) => printed.push(text), tailLines: 2 });
  let shared: ManagedProcess;
  let own: ManagedProcess | undefined;
  let exitedEarly: ManagedProcess | undefined;
  let dir = '';
  beforeAll(() => {
    shared = spawnProcess('sh', ['-c', 'echo shared server up; exec sleep 1000'], { name: 'shared-server' });
  });
  afterAll(async () => {
    // This suite deliberately keeps evidence; clean it up here.
    await fs.promises.rm(dir, { recursive: true, force: true });
    for (const p of [own, exitedEarly, shared]) if (p) await fs.promises.rm(p.logPath, { force: true });
  });

  it.fails('fails with processes running', async () => {
    own = spawnProcess('sh', ['-c', 'echo line1; echo line2; echo line3; exec sleep 1000'], { name: 'doomed-worker' });
    exitedEarly = spawnProcess('sh', ['-c', 'echo bye; exit 7'], { name: 'quitter' });
    dir = await makeTempDir();
    await own.waitForOutput('line3');
    await exitedEarly.exited;
    throw new Error('the assertion that failed');
  });

  it('printed a dump with state, command line, log path and the output tail', async () => {
    expect(printed).toHaveLength(1);
    const dump = printed[0] ?? '';
    expect(dump).toContain('==== test "fails with processes running" failed: 3 process(es), logs and temp dirs kept ====');
    expect(dump).toContain(`---- doomed-worker (pid ${own?.pid}) was still running (SIGKILLed by the reaper)`);
    expect(dump).toContain(`     command: sh -c 'echo line1; echo line2; echo line3; exec sleep 1000'`);
    expect(dump).toContain(`     full log: ${own?.logPath}`);
    expect(dump).toContain('line2\nline3');
    expect(dump).not.toContain('\nline1\n'); // tailLines: 2
    expect(dump).toContain(`---- quitter (pid ${exitedEarly?.pid}) exited with code 7`);
    expect(dump).toContain(`---- shared-server (pid ${shared.pid}) is still running (started before this test, kept for the suite)`);
    expect(dump).toContain(`---- temp dirs kept:\n     ${dir}`);
  });

  it('killed the test’s processes but kept the shared one, the logs and the temp dir', async () => {
    expect(own?.running).toBe(false);
    expect(shared.running).toBe(true);
    expect(fs.readFileSync(own?.logPath ?? '', 'utf8')).toContain('line1\nline2\nline3\n');
    expect(fs.existsSync(dir)).toBe(true);
  });
});
