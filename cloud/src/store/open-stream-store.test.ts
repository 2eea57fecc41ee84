// The configured stream store as the collector opens it: JetStream partitions sharing one connection, with
// NATS credentials from the config (the client does not take them from the server URL).
import { makeCerts, makeTempDir, startNatsServer, useProcessReaper } from '@tidemark/shared/testing';
import { describe, expect, it } from 'vitest';
import { defaultCloudConfig } from '../config.js';
import { openStreamStore } from './open-stream-store.js';
import { item } from './stream-store.contract.js';

describe('openStreamStore (jetstream)', () => {
  useProcessReaper();

  it('connects with the configured NATS credentials, and fails clearly without them', async () => {
    const nats = await startNatsServer({ args: ['--user', 'tidemark', '--pass', 's3cret-pass'] });
    const base = { type: 'jetstream' as const, servers: [nats.url], stream: 'AUTHTEST', partitions: 2 };

    const withCreds = openStreamStore(defaultCloudConfig({ store: { ...base, username: 'tidemark', password: 's3cret-pass' } }).store, { sqlitePath: '' });
    await withCreds.start();
    try {
      expect(await withCreds.append([item('press-07', 1, 1), item('van.3', 1, 1)])).toEqual(['ok', 'ok']);
      expect(withCreds.partitions.map((p) => p.name)).toHaveLength(2);
    } finally {
      await withCreds.stop();
    }

    const without = openStreamStore(defaultCloudConfig({ store: base }).store, { sqlitePath: '' });
    await expect(without.start()).rejects.toThrow(/cannot connect to NATS at nats:\/\/127\.0\.0\.1:\d+: .*Authorization Violation/);
  });

  it('talks TLS to a NATS server that requires it, trusting the configured CA; without it, a clear failure', async () => {
    const certs = makeCerts(await makeTempDir('tidemark-nats-tls-'));
    const nats = await startNatsServer({ args: ['--tls', '--tlscert', certs.cert, '--tlskey', certs.key] });
    const base = { type: 'jetstream' as const, servers: [nats.url], stream: 'TLSTEST' };

    const withCa = openStreamStore(defaultCloudConfig({ store: { ...base, tls: { ca: certs.ca } } }).store, { sqlitePath: '' });
    await withCa.start();
    try {
      expect(await withCa.append([item('press-07', 1, 1)])).toEqual(['ok']);
    } finally {
      await withCa.stop();
    }

    const untrusted = openStreamStore(defaultCloudConfig({ store: base }).store, { sqlitePath: '' });
    await expect(untrusted.start()).rejects.toThrow(/cannot connect to NATS at nats:\/\/127\.0\.0\.1:\d+: .*(certificate|TLS|tls)/i);
  });

  it('refuses half a set of credentials in the config, naming the key', () => {
    expect(() => defaultCloudConfig({ store: { type: 'jetstream', servers: ['nats://x:4222'], username: 'u' } })).toThrow(/store\.password: is required with username/);
    expect(() => defaultCloudConfig({ store: { type: 'jetstream', servers: ['nats://x:4222'], token: 't', username: 'u', password: 'p' } })).toThrow(
      /store\.token: use either token or username\/password, not both/,
    );
    expect(() => defaultCloudConfig({ store: { type: 'jetstream', servers: ['nats://x:4222'], tls: { cert: 'c.pem' } } })).toThrow(/store\.tls\.key: required with cert/);
  });
});
