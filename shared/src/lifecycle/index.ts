// The one lifecycle every source, store, sink and server shares (after the OpenTelemetry Collector's
// Start/Shutdown): start() resolves once the component is ready, stop() releases everything and is idempotent.

export interface Component {
  readonly name: string;
  start(): Promise<void>;
  stop(): Promise<void>;
}

/** Starts components in order; on failure stops the ones already started (in reverse) and rethrows. */
export async function startAll(components: readonly Component[]): Promise<void> {
  const started: Component[] = [];
  try {
    for (const c of components) {
      await c.start();
      started.push(c);
    }
  } catch (err) {
    await stopAll(started);
    throw err;
  }
}

/** Stops components in reverse order; every stop runs even if an earlier one fails. Returns the errors. */
export async function stopAll(components: readonly Component[]): Promise<unknown[]> {
  const errors: unknown[] = [];
  for (const c of [...components].reverse()) {
    try {
      await c.stop();
    } catch (err) {
      errors.push(err);
    }
  }
  return errors;
}

/**
 * Waits for `work` (a component's in-flight step) at most `ms`, then goes on without it: for stop() methods
 * whose step may be blocked on an unreachable server until a request timeout, when abandoning the step is
 * safe (it commits atomically or not at all). Returns false if it gave up waiting.
 */
export async function settleWithin(work: Promise<unknown> | undefined, ms: number): Promise<boolean> {
  if (!work) return true;
  let timer: NodeJS.Timeout | undefined;
  const gaveUp = new Promise<false>((resolve) => {
    timer = setTimeout(() => resolve(false), ms);
  });
  try {
    return await Promise.race([work.then(() => true, () => true), gaveUp]);
  } finally {
    clearTimeout(timer);
  }
}

export { guard, safeInterval, safeTimeout, type GuardSink } from './guard.js';
