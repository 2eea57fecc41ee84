// Callbacks the event loop calls (timers, event handlers) must never throw or reject out of the process: an
// exception there is uncaught and kills it, whatever state the rest of the program is in. `guard` wraps
// such a callback so a synchronous throw and an asynchronous rejection both end in `onError`, never in the
// event loop. It is the last line of defence: a component still reports its own failures (resource health),
// the guard only keeps a bug or a missed case from taking the process down. The audit test in
// cloud/src/health/callback-audit.test.ts fails on a timer or handler that is not guarded.

/** Where a guarded callback's error goes; anything with pino's `error(obj, msg)` will do. */
export type GuardSink = ((err: unknown, what: string) => void) | { error(obj: object, msg?: string): void };

function report(sink: GuardSink, err: unknown, what: string): void {
  try {
    if (typeof sink === 'function') sink(err, what);
    else sink.error({ err, callback: what }, `${what} failed (caught by its guard; the process carries on)`);
  } catch {
    // The sink itself failed (a closed log stream): nothing is left to tell, and throwing would defeat the guard.
  }
}

/**
 * Returns `fn` wrapped so that it never throws and its promise (if it returns one) never rejects unhandled.
 * `what` names the callback in the log line ("registry flush timer").
 */
export function guard<A extends unknown[]>(sink: GuardSink, what: string, fn: (...args: A) => unknown): (...args: A) => void {
  return (...args: A) => {
    try {
      const r = fn(...args);
      if (r !== null && typeof r === 'object' && typeof (r as PromiseLike<unknown>).then === 'function') {
        (r as PromiseLike<unknown>).then(undefined, (err: unknown) => report(sink, err, what));
      }
    } catch (err) {
      report(sink, err, what);
    }
  };
}

/** setInterval with a guarded callback; a call still running when the next is due is not started twice. */
export function safeInterval(sink: GuardSink, what: string, ms: number, fn: () => unknown): NodeJS.Timeout {
  let running = false;
  const tick = guard(sink, what, async () => {
    if (running) return;
    running = true;
    try {
      await fn();
    } finally {
      running = false;
    }
  });
  return setInterval(tick, ms);
}

/** setTimeout with a guarded callback. */
export function safeTimeout(sink: GuardSink, what: string, ms: number, fn: () => unknown): NodeJS.Timeout {
  return setTimeout(guard(sink, what, fn), ms);
}
