// Polls a condition until it holds or a deadline passes: the one sanctioned way for tests to wait.
// A check that throws is treated as "not yet" (its last error is reported on timeout); a check that
// never settles cannot stretch the deadline.

import { TimeoutError } from '../errors/index.js';

export interface WaitForOptions {
  /** Deadline for the whole wait. Default 10 000 ms. */
  timeoutMs?: number;
  /** Pause between checks. Default 50 ms. */
  intervalMs?: number;
  /** Completes the sentence "timed out after N ms waiting for …". */
  description?: string;
}

type Falsy = undefined | null | false;

export const DEFAULT_WAIT_TIMEOUT_MS = 10_000;

/** Resolves with the first truthy value `check` returns; throws TimeoutError at the deadline. */
export async function waitFor<T>(check: () => T | Falsy | Promise<T | Falsy>, opts: WaitForOptions = {}): Promise<T> {
  const timeoutMs = opts.timeoutMs ?? DEFAULT_WAIT_TIMEOUT_MS;
  const intervalMs = opts.intervalMs ?? 50;
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  let pendingAtDeadline = false;

  for (;;) {
    const remaining = deadline - Date.now();
    const outcome = await settleWithin(check, Math.max(remaining, 0));
    if (outcome.kind === 'value') {
      if (outcome.value) return outcome.value as T;
    } else if (outcome.kind === 'error') {
      lastError = outcome.error;
    } else {
      pendingAtDeadline = true;
    }
    const left = deadline - Date.now();
    if (left <= 0 || pendingAtDeadline) break;
    await delay(Math.min(intervalMs, left));
  }

  let message = `timed out after ${timeoutMs} ms waiting for ${opts.description ?? 'condition'}`;
  if (pendingAtDeadline) message += '; the last check was still pending';
  if (lastError !== undefined) message += `; last error: ${describeError(lastError)}`;
  throw new TimeoutError(message, lastError === undefined ? undefined : { cause: lastError });
}

type Outcome<T> = { kind: 'value'; value: T } | { kind: 'error'; error: unknown } | { kind: 'pending' };

/** Runs one check; gives up waiting for it (not cancelling it) after `ms`. */
async function settleWithin<T>(check: () => T | Promise<T>, ms: number): Promise<Outcome<T>> {
  let timer: NodeJS.Timeout | undefined;
  try {
    const run = (async (): Promise<Outcome<T>> => {
      try {
        return { kind: 'value', value: await check() };
      } catch (error) {
        return { kind: 'error', error };
      }
    })();
    const expire = new Promise<Outcome<T>>((resolve) => {
      timer = setTimeout(() => resolve({ kind: 'pending' }), ms);
    });
    return await Promise.race([run, expire]);
  } finally {
    clearTimeout(timer);
  }
}

export function describeError(err: unknown): string {
  if (err instanceof Error) return err.message || err.name;
  return String(err);
}

/** Internal pause between polls; exported for the other helpers only, never for tests to sleep with. */
export function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
