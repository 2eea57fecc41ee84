// Why a resource could not be opened at start: the environment (the server is not there yet, restarting,
// unreachable: a state the process waits out) or the configuration (the server answered and refused these
// credentials or this database: retrying changes nothing until an operator acts). One rule for every
// backend, read from the error and its causes: our own NotConnectedError, node-postgres SQLSTATEs, NATS
// error codes and socket errnos. And what a store remembers of its last failed start, for the calls made
// while it is not open.
import { NotConnectedError } from '@tidemark/shared';

export type StartFailure = 'unavailable' | 'refused-credentials' | 'other';

/** SQLSTATE class 28 (invalid authorization) and 3D000 (no such database); NATS authentication and permission errors. */
const CREDENTIALS = /^(28[0-9A-Z]{3}|3D000|AUTHORIZATION_VIOLATION|AUTHENTICATION_EXPIRED|AUTHENTICATION_TIMEOUT|ACCOUNT_EXPIRED|BAD_AUTHENTICATION|BAD_CREDS|PERMISSIONS_VIOLATION)$/;

/**
 * SQLSTATE class 08 (connection exception), 57P01–57P03 (admin shutdown, crash shutdown, cannot connect
 * now: starting up or shutting down), 53300 (too many connections); NATS transport errors and 503 (no
 * responders: JetStream not up yet); socket errnos.
 */
const UNAVAILABLE =
  /^(08[0-9A-Z]{3}|57P0[123]|53300|CONNECTION_REFUSED|CONNECTION_TIMEOUT|CONNECTION_CLOSED|DISCONNECT|TIMEOUT|503|ECONNREFUSED|ECONNRESET|ETIMEDOUT|EHOSTUNREACH|ENETUNREACH|EHOSTDOWN|ENETDOWN|ENOTFOUND|EAI_AGAIN|EPIPE)$/;

/** The error and its causes, outermost first (bounded: a cycle of causes must not hang). */
function chain(err: unknown): unknown[] {
  const out: unknown[] = [];
  for (let e = err, i = 0; e !== undefined && e !== null && i < 10; e = (e as { cause?: unknown }).cause, i++) out.push(e);
  return out;
}

function codeOf(e: unknown): string | undefined {
  const code = (e as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : undefined;
}

/** What a start failure means; credentials win over unavailability (a refused login also ends the connection). */
export function classifyStartFailure(err: unknown): StartFailure {
  const errs = chain(err);
  if (errs.some((e) => CREDENTIALS.test(codeOf(e) ?? ''))) return 'refused-credentials';
  // node-postgres reports a timed-out connect as a plain Error without a code.
  if (errs.some((e) => e instanceof NotConnectedError || UNAVAILABLE.test(codeOf(e) ?? '') || /timeout expired|connection terminated/i.test((e as Error)?.message ?? ''))) {
    return 'unavailable';
  }
  return 'other';
}

/**
 * What a store keeps about its last start(): until one succeeds, calls made meanwhile (the collector runs
 * without the store while its server is unreachable) fail with NotConnectedError saying why, which is what
 * /readyz then shows.
 */
export class LastStartFailure {
  private failure: Error | undefined;

  /** Runs `open`, remembering its failure (and forgetting an earlier one when it succeeds). */
  async track(open: () => Promise<void>): Promise<void> {
    try {
      await open();
      this.failure = undefined;
    } catch (err) {
      this.failure = err as Error;
      throw err;
    }
  }

  /** The error for a call made while `what` is not open because its last start failed; undefined if it did not. */
  notOpen(what: string): NotConnectedError | undefined {
    return this.failure ? new NotConnectedError(`${what} is not open yet: ${this.failure.message}`, { cause: this.failure }) : undefined;
  }
}
