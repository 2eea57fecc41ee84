// Sends one alert transition to one HTTP endpoint as a Standard Webhooks POST and says what the attempt came
// to; it never retries itself (the DeliveryWorker owns retry). Every attempt of a transition carries the same
// `webhook-id` (the transition id) with a fresh timestamp and signature, so a receiver can dedup by id.
import type { AlertTransition } from '../alert-types.js';
import type { DeliveryResult, Notifier } from './notifier.js';
import { signWebhook } from './standard-webhooks.js';
import { transitionPayload } from './transition-payload.js';

export const DEFAULT_WEBHOOK_TIMEOUT_MS = 10_000;

export interface WebhookNotifierOptions {
  /** Unique among the notifiers, e.g. `webhook:0` (its index in `alerts.notify`). */
  name: string;
  url: string;
  /** `whsec_<base64>` or any other string (used as UTF-8 bytes); see standard-webhooks.ts. */
  secret: string;
  /** Per-request timeout, connect to response headers. Default 10 s. */
  timeoutMs?: number;
  /** Clock in ms, for `webhook-timestamp` and Retry-After dates. Default Date.now. */
  now?: () => number;
}

export class WebhookNotifier implements Notifier {
  readonly name: string;
  readonly url: string;
  private readonly secret: string;
  private readonly timeoutMs: number;
  private readonly now: () => number;

  constructor(opts: WebhookNotifierOptions) {
    this.name = opts.name;
    this.url = opts.url;
    this.secret = opts.secret;
    this.timeoutMs = opts.timeoutMs ?? DEFAULT_WEBHOOK_TIMEOUT_MS;
    this.now = opts.now ?? Date.now;
  }

  async send(transition: AlertTransition): Promise<DeliveryResult> {
    const body = transitionPayload(transition);
    const timestamp = Math.floor(this.now() / 1000);
    let res: Response;
    try {
      res = await fetch(this.url, {
        method: 'POST',
        body,
        redirect: 'manual',
        signal: AbortSignal.timeout(this.timeoutMs),
        headers: {
          'content-type': 'application/json',
          'user-agent': 'tidemark-cloud',
          'webhook-id': transition.id,
          'webhook-timestamp': String(timestamp),
          'webhook-signature': signWebhook(this.secret, transition.id, timestamp, body),
        },
      });
    } catch (err) {
      return { kind: 'retry', error: describeFetchError(err, this.timeoutMs) };
    }
    // The body is not read: only the status matters, and cancelling frees the connection.
    await res.body?.cancel().catch(() => undefined);
    return classifyResponse(res.status, res.headers.get('retry-after'), this.now());
  }
}

/** 2xx delivered · 410 gone · 408, 429, 5xx (and 3xx, not followed) retry · other 4xx rejected. */
export function classifyResponse(status: number, retryAfter: string | null, nowMs: number): DeliveryResult {
  if (status >= 200 && status < 300) return { kind: 'delivered' };
  if (status === 410) return { kind: 'gone', error: 'HTTP 410 Gone' };
  if (status >= 400 && status < 500 && status !== 408 && status !== 429) return { kind: 'rejected', error: `HTTP ${status}` };
  const error = status >= 300 && status < 400 ? `HTTP ${status} (redirects are not followed)` : `HTTP ${status}`;
  const retryAfterMs = parseRetryAfter(retryAfter, nowMs);
  return retryAfterMs === undefined ? { kind: 'retry', error } : { kind: 'retry', error, retryAfterMs };
}

/** Retry-After as delay-seconds or an HTTP date → ms from now (≥ 0); undefined when absent or unreadable. */
export function parseRetryAfter(value: string | null, nowMs: number): number | undefined {
  if (value === null) return undefined;
  const v = value.trim();
  if (/^\d+$/.test(v)) return Number(v) * 1000;
  const at = Date.parse(v);
  if (!Number.isFinite(at)) return undefined;
  return Math.max(0, at - nowMs);
}

function describeFetchError(err: unknown, timeoutMs: number): string {
  if (err instanceof Error && (err.name === 'TimeoutError' || err.name === 'AbortError')) return `timed out after ${timeoutMs} ms`;
  const cause = err instanceof Error ? (err.cause as { code?: string; message?: string } | undefined) : undefined;
  if (cause?.code) return `${cause.code}${cause.message ? `: ${cause.message}` : ''}`;
  return err instanceof Error ? err.message : String(err);
}
