import fs from 'node:fs';
import { describe, expect, it } from 'vitest';
import { TimeoutError } from '../errors/index.js';
import { reapAll, spawnProcess } from './managed-process.js';
import { useProcessReaper } from './process-reaper.js';
import { waitFor } from './wait-for.js';

useProcessReaper();

/** Alive = exists and is not a zombie (orphans may linger as zombies when PID 1 does not reap). */
function isAlive(pid: number): boolean {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2)[0] !== 'Z';
  } catch {
    return false;
  }
}

describe('spawnProcess', { timeout: 20_000 }, () => {
  it('captures stdout and stderr separately and interleaved in arrival order', async () => {
    // The child waits for a line on stdin before each write, so the arrival order is deterministic.
    const p = spawnProcess('sh', ['-c', 'echo out1; read x; echo err1 >&2; read x; echo out2'], { name: 'echoer', stdin: 'pipe' });
    expect(p.name).toBe('echoer');
    expect(p.pid).toBeGreaterThan(0);
    await p.waitForOutput('out1\n');
    p.child.stdin?.write('go\n');
    await p.waitForOutput('err1\n');
    p.child.stdin?.end('go\n');
    expect(await p.exited).toEqual({ code: 0, signal: null });
    expect(p.running).toBe(false);
    expect(p.output()).toBe('out1\nerr1\nout2\n');
    expect(p.stdout()).toBe('out1\nout2\n');
    expect(p.stderr()).toBe('err1\n');
  });

  it('passes env merged over process.env and cwd', async () => {
    const p = spawnProcess('sh', ['-c', 'echo "$TIDEMARK_X:$HOME_SET:$(pwd)"'], {
      env: { TIDEMARK_X: 'forty-two', HOME_SET: process.env.HOME ? 'yes' : 'no' },
      cwd: '/',
    });
    await p.exited;
    expect(p.output()).toBe(`forty-two:${process.env.HOME ? 'yes' : 'no'}:/\n`);
  });

  it('waitForOutput returns the match for a RegExp (ignoring g) and searches from an offset', async () => {
    const p = spawnProcess('sh', ['-c', 'echo "listening on port 4711"; echo "listening on port 4712"; read x'], { stdin: 'pipe' });
    const match = await p.waitForOutput(/port (\d+)/g);
    expect(typeof match === 'string' ? match : match[1]).toBe('4711');
    await p.waitForOutput('4712');
    const from = p.output().indexOf('4712') - 20;
    const second = await p.waitForOutput(/port (\d+)/, 1_000, from);
    expect(typeof second === 'string' ? second : second[1]).toBe('4712');
    await p.kill();
  });

  it('waitForOutput fails fast when the process exits without printing the pattern', async () => {
    const p = spawnProcess('sh', ['-c', 'echo "fatal: bad config" >&2; exit 3'], { name: 'doomed' });
    const started = Date.now();
    const err = await p.waitForOutput('ready', 10_000).catch((e: unknown) => e);
    expect((err as Error).message).toBe('doomed exited with code 3 before printing "ready"; last output:\nfatal: bad config');
    expect(Date.now() - started).toBeLessThan(5_000);
  });

  it('waitForOutput throws TimeoutError with the last output', async () => {
    const p = spawnProcess('sh', ['-c', 'echo still booting; read x'], { name: 'slow', stdin: 'pipe' });
    await p.waitForOutput('booting');
    const err = await p.waitForOutput(/ready/, 100).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(TimeoutError);
    expect((err as Error).message).toBe('timed out after 100 ms waiting for slow to print /ready/; last output:\nstill booting');
  });

  it('kill() sends SIGTERM to the process and waits for it to exit', async () => {
    const p = spawnProcess('sleep', ['1000']);
    expect(p.running).toBe(true);
    expect(await p.kill()).toEqual({ code: null, signal: 'SIGTERM' });
    expect(p.running).toBe(false);
    expect(await p.kill()).toEqual({ code: null, signal: 'SIGTERM' }); // idempotent
  });

  it('kill() gives up with TimeoutError when the signal is ignored; sigkill() still works', async () => {
    const p = spawnProcess('sh', ['-c', 'trap "" TERM; echo armed; while :; do read x; done'], { name: 'stubborn', stdin: 'pipe' });
    await p.waitForOutput('armed');
    const err = await p.kill('SIGTERM', 200).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(TimeoutError);
    expect((err as Error).message).toMatch(/^stubborn \(pid \d+\) did not exit within 200 ms of SIGTERM/);
    expect(p.running).toBe(true);
    expect(await p.sigkill()).toEqual({ code: null, signal: 'SIGKILL' });
  });

  it('sigkill() takes down the whole process group, grandchildren included', async () => {
    // Like an npm wrapper: the shell is the leader, the real work runs in a grandchild.
    const p = spawnProcess('sh', ['-c', 'sleep 1000 & echo "grandchild=$!"; wait'], { name: 'wrapper' });
    const match = await p.waitForOutput(/grandchild=(\d+)/);
    const grandchild = Number(typeof match === 'string' ? NaN : match[1]);
    expect(isAlive(grandchild)).toBe(true);
    expect(await p.sigkill()).toEqual({ code: null, signal: 'SIGKILL' });
    await waitFor(() => !isAlive(grandchild), { timeoutMs: 5_000, description: `grandchild ${grandchild} to die` });
  });

  it('reapAll() SIGKILLs every tracked process that still runs', async () => {
    const a = spawnProcess('sleep', ['1000'], { name: 'a' });
    const b = spawnProcess('sh', ['-c', 'trap "" TERM; sleep 1000'], { name: 'b' });
    const done = spawnProcess('true', []);
    await done.exited;
    await reapAll();
    expect(a.running).toBe(false);
    expect(b.running).toBe(false);
    expect((await a.exited).signal).toBe('SIGKILL');
    expect((await done.exited).code).toBe(0);
  });

  it('streams the full output to a log file', async () => {
    const p = spawnProcess('sh', ['-c', 'echo to-the-log; echo and-stderr >&2'], { name: 'logged thing' });
    await p.exited;
    expect(p.logPath).toMatch(/tidemark-test-logs\/\d{4}-\d\d-\d\dT[\d-]+Z-logged_thing-\d+\.log$/);
    await waitFor(() => fs.readFileSync(p.logPath, 'utf8').includes('# exited with code 0'), { timeoutMs: 3_000, description: 'log to be complete' });
    const log = fs.readFileSync(p.logPath, 'utf8');
    expect(log).toContain(`# sh -c 'echo to-the-log; echo and-stderr >&2'`);
    expect(log).toContain('to-the-log\n');
    expect(log).toContain('and-stderr\n');
  });

  it('throws at once when the command cannot be executed', () => {
    expect(() => spawnProcess('/nonexistent/tidemark-binary', [], { name: 'ghost' })).toThrow(
      /^failed to start ghost: could not execute "\/nonexistent\/tidemark-binary"/,
    );
  });
});
