// Vitest hooks that clean up after end-to-end tests: processes started during a test are SIGKILLed
// after it, those started in beforeAll after the suite. Logs and temp dirs are kept on failure, with a
// dump of each process's state and last output, so a red CI run explains itself.

import { afterAll, afterEach, beforeAll, beforeEach, type RunnerTask } from 'vitest';
import { processMark, reap, trackedProcesses, type TrackedProcess } from './managed-process.js';
import { forgetDirs, removeDirs, tempDirMark, trackedDirs } from './temp-dirs.js';

/** Processes already dumped for a failed test, so nested reapers do not print them twice. */
const dumpedForTest = new WeakMap<object, Set<TrackedProcess>>();

export interface ProcessReaperOptions {
  /** Where failure dumps go. Default: console.error (vitest shows it under the failed test). */
  print?: (text: string) => void;
  /** Output lines per process in a failure dump. Default 200. */
  tailLines?: number;
}

/**
 * Call at the top of a test file or `describe`, before your own hooks: hooks run in registration order,
 * and only processes and temp dirs created after this reaper's own before-hooks are its to clean up.
 * Processes and temp dirs created in a test (or its beforeEach) are cleaned up after that test; those
 * created in beforeAll after the suite. Tests within one file must not run concurrently (`it.concurrent`).
 */
export function useProcessReaper(opts: ProcessReaperOptions = {}): void {
  const print = opts.print ?? ((text: string) => console.error(text));
  const tailLines = opts.tailLines ?? 200;
  let suiteProcMark = Number.MAX_SAFE_INTEGER;
  let suiteDirMark = Number.MAX_SAFE_INTEGER;
  let testProcMark = Number.MAX_SAFE_INTEGER;
  let testDirMark = Number.MAX_SAFE_INTEGER;
  let testStartedAt = 0;
  let failedTests = 0;
  const dumped = new Set<TrackedProcess>();

  beforeAll(() => {
    suiteProcMark = processMark();
    suiteDirMark = tempDirMark();
  });

  beforeEach(() => {
    testProcMark = processMark();
    testDirMark = tempDirMark();
    testStartedAt = Date.now();
  });

  afterEach(async (ctx) => {
    const failed = ctx.task.result?.state === 'fail';
    const own = trackedProcesses(testProcMark);
    const dirs = trackedDirs(testDirMark);
    if (!failed) {
      await reap(own);
      await Promise.all(own.map((p) => p.discardLog()));
      await removeDirs(dirs);
      return;
    }
    failedTests++;
    // Shared processes (started in beforeAll) matter too if they were alive or died during this test,
    // unless a nested reaper already dumped them for this test.
    const seen = dumpedForTest.get(ctx.task) ?? new Set<TrackedProcess>();
    dumpedForTest.set(ctx.task, seen);
    const shared = trackedProcesses(0).filter(
      (p) => p.seq < testProcMark && !seen.has(p) && (p.running || (p.exitedAt ?? 0) >= testStartedAt),
    );
    const states = new Map([
      ...own.map((p) => [p, p.running ? 'was still running (SIGKILLed by the reaper)' : p.describeState()] as const),
      ...shared.map((p) => [p, p.running ? 'is still running (started before this test, kept for the suite)' : p.describeState()] as const),
    ]);
    await reap(own);
    for (const p of [...own, ...shared]) {
      dumped.add(p);
      seen.add(p);
    }
    forgetDirs(dirs);
    print(failureDump(`test "${ctx.task.name}" failed`, [...own, ...shared], states, dirs, tailLines));
  });

  // vitest 4 parses hook parameters for fixtures: the first must be a destructuring pattern.
  // eslint-disable-next-line no-empty-pattern
  afterAll(async ({}, suite) => {
    const procs = trackedProcesses(suiteProcMark);
    const dirs = trackedDirs(suiteDirMark);
    const failed = failedTests > 0 || hasFailure(suite);
    if (!failed) {
      await reap(procs);
      await Promise.all(procs.map((p) => p.discardLog()));
      await removeDirs(dirs);
      return;
    }
    // A failing beforeAll never reaches afterEach: dump what it started here.
    const undumped = procs.filter((p) => !dumped.has(p));
    const states = new Map(undumped.map((p) => [p, p.running ? 'was still running (SIGKILLed by the reaper)' : p.describeState()]));
    await reap(procs);
    forgetDirs(dirs);
    if (undumped.length > 0 || dirs.length > 0) {
      print(failureDump(`suite "${suite.name}" had failures`, undumped, states, dirs, tailLines));
    }
  });
}

function hasFailure(task: Readonly<RunnerTask>): boolean {
  if (task.result?.state === 'fail') return true;
  return 'tasks' in task && task.tasks.some((t) => hasFailure(t));
}

function failureDump(
  title: string,
  processes: readonly TrackedProcess[],
  states: Map<TrackedProcess, string>,
  dirs: readonly string[],
  tailLines: number,
): string {
  const parts = [`==== ${title}: ${processes.length} process(es), logs and temp dirs kept ====`];
  for (const p of processes) {
    const tail = p.tail(tailLines);
    parts.push(
      [
        `---- ${p.name} (pid ${p.pid}) ${states.get(p) ?? p.describeState()}`,
        `     command: ${p.commandLine}`,
        `     full log: ${p.logPath}`,
        `     last ${tailLines} lines of output:`,
        tail === '' ? '     (no output)' : tail,
      ].join('\n'),
    );
  }
  if (dirs.length > 0) parts.push(`---- temp dirs kept:\n${dirs.map((d) => `     ${d}`).join('\n')}`);
  parts.push(`==== end of ${title} ====`);
  return parts.join('\n');
}
