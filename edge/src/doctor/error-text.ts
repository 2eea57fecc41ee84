// Turning Node and library errors into the short words a report line needs: a code to branch on, a message.

/** The first string `code` along the cause chain (ECONNREFUSED, EACCES, …); timeouts and aborts by name. */
export function errorCode(err: unknown): string | undefined {
  let e: unknown = err;
  for (let depth = 0; depth < 4 && e; depth++) {
    const { code, name } = e as { code?: unknown; name?: unknown };
    if (typeof code === 'string') return code;
    if (name === 'TimeoutError' || name === 'AbortError') return name === 'AbortError' ? 'ABORT_ERR' : 'TimeoutError';
    e = (e as { cause?: unknown }).cause;
  }
  return undefined;
}

export function describeError(err: unknown): string {
  const cause = (err as { cause?: unknown })?.cause;
  const msg = err instanceof Error ? err.message : String(err);
  return cause instanceof Error && cause.message && cause.message !== msg ? `${msg}: ${cause.message}` : msg;
}
