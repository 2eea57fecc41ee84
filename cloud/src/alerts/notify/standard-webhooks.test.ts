import { createHmac } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { signWebhook, verifyWebhook, webhookKey } from './standard-webhooks.js';

// The test vector published with the Standard Webhooks reference libraries (and Svix's).
const VECTOR = {
  secret: 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw',
  id: 'msg_p5jXN8AQM9LWM0D4loKWxJek',
  timestamp: 1614265330,
  body: '{"test": 2432232314}',
  signature: 'v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=',
};

describe('signWebhook', () => {
  it('reproduces the Standard Webhooks reference test vector', () => {
    expect(signWebhook(VECTOR.secret, VECTOR.id, VECTOR.timestamp, VECTOR.body)).toBe(VECTOR.signature);
    expect(signWebhook(VECTOR.secret, VECTOR.id, VECTOR.timestamp, Buffer.from(VECTOR.body))).toBe(VECTOR.signature);
  });

  it('signs with the UTF-8 bytes of a secret without the whsec_ prefix', () => {
    const expected = createHmac('sha256', Buffer.from('plain secret ü', 'utf8')).update('id-1.1700000000.{}').digest('base64');
    expect(signWebhook('plain secret ü', 'id-1', 1_700_000_000, '{}')).toBe(`v1,${expected}`);
    expect(webhookKey('whsec_AAEC').equals(Buffer.from([0, 1, 2]))).toBe(true);
  });

  it('changes when any signed part changes', () => {
    const base = signWebhook('s', 'id', 1, 'body');
    expect(signWebhook('t', 'id', 1, 'body')).not.toBe(base);
    expect(signWebhook('s', 'ie', 1, 'body')).not.toBe(base);
    expect(signWebhook('s', 'id', 2, 'body')).not.toBe(base);
    expect(signWebhook('s', 'id', 1, 'bodz')).not.toBe(base);
  });
});

describe('verifyWebhook', () => {
  const input = {
    secret: VECTOR.secret,
    id: VECTOR.id,
    timestamp: String(VECTOR.timestamp),
    signature: VECTOR.signature,
    body: VECTOR.body,
    nowSeconds: VECTOR.timestamp,
  };

  it('accepts the reference vector, also among several signatures', () => {
    expect(verifyWebhook(input)).toEqual({ ok: true });
    expect(verifyWebhook({ ...input, signature: `v1,bm9wZQ== v2,xyz ${VECTOR.signature}` })).toEqual({ ok: true });
  });

  it('rejects a tampered body, id, or a wrong secret', () => {
    expect(verifyWebhook({ ...input, body: '{"test": 2432232315}' })).toEqual({ ok: false, reason: 'no_matching_signature' });
    expect(verifyWebhook({ ...input, id: 'msg_other' })).toEqual({ ok: false, reason: 'no_matching_signature' });
    expect(verifyWebhook({ ...input, secret: 'whsec_AAAA' })).toEqual({ ok: false, reason: 'no_matching_signature' });
    expect(verifyWebhook({ ...input, signature: 'v1,bm9wZQ==' })).toEqual({ ok: false, reason: 'no_matching_signature' });
    // The right bytes under another version tag do not count.
    expect(verifyWebhook({ ...input, signature: VECTOR.signature.replace('v1,', 'v1a,') })).toEqual({ ok: false, reason: 'no_matching_signature' });
  });

  it('enforces the tolerance window both ways', () => {
    expect(verifyWebhook({ ...input, nowSeconds: VECTOR.timestamp + 300 })).toEqual({ ok: true });
    expect(verifyWebhook({ ...input, nowSeconds: VECTOR.timestamp + 301 })).toEqual({ ok: false, reason: 'timestamp_out_of_tolerance' });
    expect(verifyWebhook({ ...input, nowSeconds: VECTOR.timestamp - 301 })).toEqual({ ok: false, reason: 'timestamp_out_of_tolerance' });
    expect(verifyWebhook({ ...input, nowSeconds: VECTOR.timestamp + 1000, toleranceSeconds: 1000 })).toEqual({ ok: true });
  });

  it('says what is missing or malformed', () => {
    expect(verifyWebhook({ ...input, id: undefined })).toEqual({ ok: false, reason: 'missing_headers' });
    expect(verifyWebhook({ ...input, signature: '' })).toEqual({ ok: false, reason: 'missing_headers' });
    expect(verifyWebhook({ ...input, timestamp: '16142653.30' })).toEqual({ ok: false, reason: 'bad_timestamp' });
  });

  it('round-trips what signWebhook produces', () => {
    const sig = signWebhook('a secret', 'tr-1', 1_800_000_000, '{"a":1}');
    expect(verifyWebhook({ secret: 'a secret', id: 'tr-1', timestamp: '1800000000', signature: sig, body: '{"a":1}', nowSeconds: 1_800_000_010 })).toEqual({ ok: true });
  });
});
