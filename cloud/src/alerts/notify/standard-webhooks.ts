// Standard Webhooks signatures (https://www.standardwebhooks.com): HMAC-SHA256 over `${id}.${timestamp}.${body}`,
// sent as `webhook-signature: v1,<base64>`. Signing is deterministic for (secret, id, timestamp, body); verifying
// compares in constant time, accepts any of several space-separated signatures (key rotation), and refuses a
// timestamp outside the tolerance window (replay protection).
//
// Secrets: a secret written `whsec_<base64>` (the form Standard Webhooks and Svix issue) signs with the
// base64-decoded bytes, as every Standard Webhooks library does; any other string signs with its UTF-8 bytes.
import { createHmac, timingSafeEqual } from 'node:crypto';

export const WEBHOOK_SECRET_PREFIX = 'whsec_';
/** Default tolerance between the sender's timestamp and the receiver's clock: 5 minutes, as the spec suggests. */
export const DEFAULT_TOLERANCE_SECONDS = 300;

/** The HMAC key for a configured secret: `whsec_<base64>` → the decoded bytes, anything else → its UTF-8 bytes. */
export function webhookKey(secret: string): Buffer {
  if (secret.startsWith(WEBHOOK_SECRET_PREFIX)) return Buffer.from(secret.slice(WEBHOOK_SECRET_PREFIX.length), 'base64');
  return Buffer.from(secret, 'utf8');
}

/** `v1,<base64 HMAC-SHA256(key, "id.timestamp.body")>`. */
export function signWebhook(secret: string, id: string, timestampSeconds: number, body: string | Buffer): string {
  return `v1,${hmac(webhookKey(secret), id, timestampSeconds, body).toString('base64')}`;
}

export interface VerifyWebhookInput {
  secret: string;
  /** The `webhook-id` header. */
  id: string | undefined;
  /** The `webhook-timestamp` header (seconds since the epoch, as a decimal string). */
  timestamp: string | undefined;
  /** The `webhook-signature` header: one or more space-separated `v1,<base64>` entries. */
  signature: string | undefined;
  /** The raw request body, exactly as received. */
  body: string | Buffer;
  /** Receiver's clock, seconds since the epoch. Default: now. */
  nowSeconds?: number;
  /** Default DEFAULT_TOLERANCE_SECONDS. */
  toleranceSeconds?: number;
}

export type VerifyWebhookResult = { ok: true } | { ok: false; reason: 'missing_headers' | 'bad_timestamp' | 'timestamp_out_of_tolerance' | 'no_matching_signature' };

/** Checks a received webhook. Never throws for bad input: the reason says what was wrong. */
export function verifyWebhook(input: VerifyWebhookInput): VerifyWebhookResult {
  const { id, timestamp, signature } = input;
  if (!id || !timestamp || !signature) return { ok: false, reason: 'missing_headers' };
  if (!/^\d{1,15}$/.test(timestamp)) return { ok: false, reason: 'bad_timestamp' };
  const ts = Number(timestamp);
  const now = input.nowSeconds ?? Math.floor(Date.now() / 1000);
  const tolerance = input.toleranceSeconds ?? DEFAULT_TOLERANCE_SECONDS;
  if (Math.abs(now - ts) > tolerance) return { ok: false, reason: 'timestamp_out_of_tolerance' };

  const expected = hmac(webhookKey(input.secret), id, ts, input.body);
  let matched = false;
  for (const entry of signature.split(' ')) {
    const comma = entry.indexOf(',');
    if (comma < 0 || entry.slice(0, comma) !== 'v1') continue;
    const given = Buffer.from(entry.slice(comma + 1), 'base64');
    // Every entry is compared (no early exit), and lengths are checked before timingSafeEqual, which needs equal sizes.
    if (given.length === expected.length && timingSafeEqual(given, expected)) matched = true;
  }
  return matched ? { ok: true } : { ok: false, reason: 'no_matching_signature' };
}

function hmac(key: Buffer, id: string, timestampSeconds: number, body: string | Buffer): Buffer {
  return createHmac('sha256', key).update(`${id}.${timestampSeconds}.`).update(body).digest();
}
