// Process plumbing shared by the CLIs: graceful shutdown on SIGTERM/SIGINT and one way to report errors.
// Only CLIs use this; library code never exits the process.
import { isTidemarkError, exitCodeFor } from '../errors/index.js';

/** Resolves with the signal's name on the first SIGTERM or SIGINT. */
export function shutdownSignal(): Promise<NodeJS.Signals> {
  return new Promise((resolve) => {
    const handler = (sig: NodeJS.Signals) => {
      process.off('SIGTERM', handler);
      process.off('SIGINT', handler);
      resolve(sig);
    };
    process.on('SIGTERM', handler);
    process.on('SIGINT', handler);
  });
}

/**
 * Runs `stop` and resolves with its exit code, but never takes longer than `deadlineMs`: SPEC.md promises
 * a clean exit within 10 s, so past the deadline the process is told to exit with 1.
 */
export async function stopWithin(stop: () => Promise<void>, deadlineMs: number, onOverrun: () => void): Promise<number> {
  const timer = setTimeout(onOverrun, deadlineMs);
  timer.unref();
  try {
    await stop();
    return 0;
  } finally {
    clearTimeout(timer);
  }
}

/** Prints an error the way every Tidemark CLI does and returns the exit code (2 config/usage, 1 runtime). */
export function reportError(err: unknown, prog: string): 1 | 2 {
  if (isTidemarkError(err)) {
    process.stderr.write(`${prog}: ${err.message}\n`);
  } else {
    process.stderr.write(`${prog}: unexpected error: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  }
  return exitCodeFor(err);
}
