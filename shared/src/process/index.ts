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

/** A long-running service a CLI's `run` command starts and stops. */
export interface RunnableService {
  readonly logger: { info(obj: object, msg: string): void; error(msg: string): void };
  start(): Promise<void>;
  stop(): Promise<void>;
}

/** Starts the service, waits for SIGTERM/SIGINT, stops it within SPEC.md's 10 s, returns the exit code. */
export async function runUntilSignal(service: RunnableService, deadlineMs = 9_500): Promise<number> {
  const signal = shutdownSignal();
  await service.start();
  const sig = await signal;
  service.logger.info({ signal: sig }, 'shutting down');
  return stopWithin(() => service.stop(), deadlineMs, () => {
    service.logger.error(`shutdown took longer than ${deadlineMs / 1000} s; exiting`);
    process.exit(1);
  });
}

/**
 * The shared tail of every CLI main: parse (commander runs the chosen action, which stores its promise),
 * then await that promise; usage errors exit 2, Tidemark errors their own code, anything else 1.
 * `usageExitCode` classifies the argument parser's own errors (undefined: not a usage error).
 */
export async function executeCommand(
  prog: string,
  parse: () => Promise<unknown>,
  result: () => Promise<number>,
  usageExitCode: (err: unknown) => number | undefined,
): Promise<number> {
  try {
    await parse();
  } catch (err) {
    return usageExitCode(err) ?? reportError(err, prog);
  }
  try {
    return await result();
  } catch (err) {
    return reportError(err, prog);
  }
}
