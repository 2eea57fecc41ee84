import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigError, parseConfigText, type ConfigIssue } from '@tidemark/shared/config';
import { describe, expect, it } from 'vitest';
import { cloudConfigSchema, defaultCloudConfig, loadCloudConfig, type CloudConfig } from './config.js';

/** SPEC.md "Cloud config", verbatim. */
const SPEC_EXAMPLE = `data_dir: /var/lib/tidemark-cloud
broker:
  mode: embedded                     # embedded (aedes) | external
  listen: 0.0.0.0:1883               # embedded; tls_listen + tls: { cert, key, ca } for mqtts
  # url, username, password          # external
auth:
  devices_file: devices.yaml         # device id -> password hash (scrypt); allow_anonymous: false by default
store:
  type: sqlite                       # sqlite | jetstream (servers, stream, partitions, replicas)
aggregates:
  type: sqlite                       # sqlite | postgres (url: postgres://…)
aggregation:
  resolutions: [1m, 1h, 1d]
  allowed_lateness: 5m
api:
  listen: 0.0.0.0:8080
  tokens_file: tokens.yaml           # bearer tokens; absent = open (a warning at start)
alerts:
  rules:
    - name: oven-hot
      devices: "oven-*"
      sensor: temp_c
      kind: threshold
      on: reading
      above: 250
      clear_below: 240
      for: 2m
      severity: critical
  notify:
    - { type: webhook, url: "https://ops.example/hooks/tidemark", secret: "\${TIDEMARK_WEBHOOK_SECRET}" }
    - { type: mqtt }
`;

const DEFAULTS: CloudConfig = {
  data_dir: './data',
  broker: { mode: 'embedded', listen: { host: '0.0.0.0', port: 1883 }, max_packet_bytes: 1_000_000 },
  auth: { allow_anonymous: false },
  store: { type: 'sqlite', retention: 30 * 86_400_000 },
  aggregates: { type: 'sqlite' },
  aggregation: {
    resolutions: [
      { label: '1m', ms: 60_000 },
      { label: '1h', ms: 3_600_000 },
      { label: '1d', ms: 86_400_000 },
    ],
    allowed_lateness: 300_000,
    retention: { '1m': 30 * 86_400_000, '1h': 365 * 86_400_000, '1d': null },
  },
  ingest: { max_batch_readings: 100_000, commit_interval_ms: 5, max_future_skew: 300_000 },
  api: { listen: { host: '0.0.0.0', port: 8080 }, max_page_size: 10_000 },
  alerts: {
    rules: [],
    notify: [],
    flapping: { max_notifications: 10, window: 3_600_000 },
    delivery: { concurrency: 8, retry_base: 1000, retry_cap: 300_000, retry_horizon: 86_400_000 },
    checkpoint_interval: 5000,
  },
  log: { level: 'info' },
};

const parse = (text: string, env: NodeJS.ProcessEnv = {}) => parseConfigText(text, cloudConfigSchema, { source: 'cloud.yaml', env });

function issuesOf(fn: () => unknown): ConfigIssue[] {
  try {
    fn();
  } catch (err) {
    if (err instanceof ConfigError) return err.issues;
    throw err;
  }
  throw new Error('expected a ConfigError');
}
const messages = (text: string) => issuesOf(() => parse(text)).map((i) => `${i.path}: ${i.message}${i.line ? ` @${i.line}` : ''}`);

describe('cloud config', () => {
  it('accepts the SPEC.md example', () => {
    expect(parse(SPEC_EXAMPLE, { TIDEMARK_WEBHOOK_SECRET: 'whsec_c2VjcmV0' })).toEqual({
      ...DEFAULTS,
      data_dir: '/var/lib/tidemark-cloud',
      auth: { devices_file: 'devices.yaml', allow_anonymous: false },
      api: { ...DEFAULTS.api, tokens_file: 'tokens.yaml' },
      alerts: {
        ...DEFAULTS.alerts,
        rules: [
          {
            name: 'oven-hot',
            kind: 'threshold',
            devices: 'oven-*',
            sensor: 'temp_c',
            on: { kind: 'reading' },
            above: 250,
            clear_below: 240,
            for: 120_000,
            severity: 'critical',
            labels: {},
            notify_late: true,
          },
        ],
        notify: [{ type: 'webhook', url: 'https://ops.example/hooks/tidemark', secret: 'whsec_c2VjcmV0', timeout: 10_000 }, { type: 'mqtt' }],
      },
    });
  });

  it('reports every bad alert rule and notifier with its path', () => {
    const text = `alerts:
  rules:
    - { name: a, kind: threshold, sensor: temp_c, on: 1m.mean, above: 1 }
    - { name: b, kind: threshold, sensor: "temp c", on: 1h.avg, for: 5m, above: 1 }
    - { name: c, kind: rate, sensor: x }
    - { name: d, kind: anomaly, sensor: x, above: 3 }
    - { name: a, kind: no_data, sensor: x }
  notify:
    - { type: pagerduty }
`;
    expect(messages(text)).toEqual([
      'alerts.rules[0].on: unknown bucket stat "mean"; expected one of avg, min, max, sum, count, first, last, stddev @3',
      'alerts.rules[1].sensor: character " " at position 5 cannot appear in a device or sensor name (glob "temp c") @4',
      'alerts.rules[1].for: 5m is shorter than the 1h buckets it watches (use 0s or at least 1h) @4',
      'alerts.rules[2].above: kind rate needs "above" or "below" @5',
      'alerts.rules[3].above: "above" does not apply to kind anomaly (it takes: sensor, threshold, clear_threshold, window, min_history) @6',
      'alerts.rules[4].name: duplicate rule name "a" (also alerts.rules[0]) @7',
      'alerts.rules[4].after: kind no_data needs "after" (a duration such as 5m) @7',
      'alerts.notify[0].type: expected one of webhook | mqtt, got "pagerduty" @9',
    ]);
  });

  it('takes a tag selector for a rule\'s devices; a malformed one is reported with its path', () => {
    const rules = parse('alerts:\n  rules:\n    - { name: a, kind: offline, after: 5m, devices: { tag: "site=plant-3" } }\n').alerts.rules;
    expect(rules[0]!.devices).toEqual({ tag: { key: 'site', value: 'plant-3' } });
    const text = `alerts:
  rules:
    - { name: a, kind: offline, after: 5m, devices: { tag: site } }
    - { name: b, kind: offline, after: 5m, devices: { tag: "bad key=x" } }
    - { name: c, kind: offline, after: 5m, devices: { tag: "site=" } }
    - { name: d, kind: offline, after: 5m, devices: { tags: "site=x" } }
`;
    expect(messages(text)).toEqual([
      'alerts.rules[0].devices.tag: expected a tag selector like "site=plant-3": expected key=value, got "site" @3',
      'alerts.rules[1].devices.tag: expected a tag selector like "site=plant-3": invalid tag key "bad key": expected ^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$ @4',
      'alerts.rules[2].devices.tag: expected a tag selector like "site=plant-3": a tag value cannot be empty @5',
      expect.stringMatching(/^alerts\.rules\[3\]\.devices/),
    ]);
  });

  it('makes an empty file the embedded defaults', () => {
    expect(parse('')).toEqual(DEFAULTS);
    expect(parse('broker: { listen: ":1884" }\n').broker).toEqual({ ...DEFAULTS.broker, listen: { host: '0.0.0.0', port: 1884 } });
  });

  it('accepts an external broker, jetstream and postgres', () => {
    const c = parse(`broker:
  mode: external
  url: mqtts://mqtt.example:8883
  username: collector
  password: \${PW:-x}
  tls: { ca: ca.pem }
store:
  type: jetstream
  servers: [nats://n1:4222, nats://n2:4222]
  replicas: 3
aggregates:
  type: postgres
  url: postgres://u:p@db:5432/tidemark
`);
    expect(c.broker).toEqual({
      mode: 'external',
      url: 'mqtts://mqtt.example:8883',
      username: 'collector',
      password: 'x',
      tls: { ca: 'ca.pem', reject_unauthorized: true },
      client_id: 'tidemark-collector',
    });
    expect(c.store).toEqual({
      type: 'jetstream',
      servers: ['nats://n1:4222', 'nats://n2:4222'],
      stream: 'TIDEMARK',
      partitions: 1,
      replicas: 3,
      retention: 30 * 86_400_000,
    });
    expect(c.aggregates).toEqual({ type: 'postgres', url: 'postgres://u:p@db:5432/tidemark', schema: 'tidemark' });
  });

  it('names the allowed modes and types', () => {
    expect(messages('broker: { mode: remote }\nstore: { type: kafka }\naggregates: { type: mysql }\n')).toEqual([
      'broker.mode: expected one of embedded | external, got "remote" @1',
      'store.type: expected one of sqlite | jetstream, got "kafka" @2',
      'aggregates.type: expected one of sqlite | postgres, got "mysql" @3',
    ]);
  });

  it('requires tls for tls_listen, and tls_listen for tls', () => {
    expect(messages('broker:\n  tls_listen: 0.0.0.0:8883\n')).toEqual(['broker.tls_listen: requires tls: { cert, key } (the server certificate) @2']);
    expect(messages('broker:\n  tls: { cert: s.pem, key: k.pem }\n')).toEqual([
      'broker.tls: is set but tls_listen is not (e.g. tls_listen: 0.0.0.0:8883) @2',
    ]);
    expect(parse('broker:\n  tls_listen: :8883\n  tls: { cert: s.pem, key: k.pem }\n').broker).toMatchObject({
      tls_listen: { host: '0.0.0.0', port: 8883 },
      tls: { cert: 's.pem', key: 'k.pem' },
    });
  });

  it('rejects listen addresses that collide', () => {
    expect(messages('broker: { listen: ":8080" }\n')).toEqual(['api.listen: 0.0.0.0:8080 is also broker.listen']);
    expect(messages('broker: { listen: "127.0.0.1:1884", tls_listen: ":1884", tls: { cert: c, key: k } }\n')).toEqual([
      'broker.tls_listen: 0.0.0.0:1884 is also broker.listen @1',
    ]);
    // Port 0 (pick a free port) never collides; different hosts do not either.
    expect(parse('broker: { listen: "127.0.0.1:0" }\napi: { listen: "127.0.0.1:0" }\n').api.listen.port).toBe(0);
    expect(parse('broker: { listen: "127.0.0.1:8080" }\napi: { listen: "10.0.0.1:8080" }\n').api.listen.port).toBe(8080);
  });

  it('sorts resolutions and checks that each divides the next', () => {
    expect(parse('aggregation: { resolutions: [1h, 1m, 15m] }\n').aggregation.resolutions.map((r) => r.label)).toEqual(['1m', '15m', '1h']);
    expect(messages('aggregation:\n  resolutions: [1m, 90m, 1h, 1m, 7m]\n')).toEqual([
      'aggregation.resolutions[4]: resolution "7m" must be at least 1s and divide one day evenly (e.g. 1m, 5m, 15m, 1h, 1d) @2',
      'aggregation.resolutions[3]: duplicate resolution "1m" (also resolutions[0]) @2',
      'aggregation.resolutions[1]: 1h30m is not a multiple of 1h (each resolution must divide the next) @2',
    ]);
  });

  it('keeps buckets per resolution: defaults, overrides by any spelling, forever, and clear errors', () => {
    expect(parse('aggregation: { resolutions: [1m, 15m, 1h] }\n').aggregation.retention).toEqual({ '1m': 30 * 86_400_000, '15m': null, '1h': 365 * 86_400_000 });
    expect(parse('aggregation:\n  retention: { 60s: 7d, 1h: forever, 1d: 2w }\n').aggregation.retention).toEqual({
      '1m': 7 * 86_400_000,
      '1h': null,
      '1d': 14 * 86_400_000,
    });
    expect(messages('aggregation:\n  retention:\n    5m: 7d\n    1h: 30m\n    1d: soon\n')).toEqual([
      'aggregation.retention.5m: "5m" is not one of aggregation.resolutions (1m, 1h, 1d) @3',
      'aggregation.retention.1h: 30m is shorter than the resolution itself (1h); use at least 1h @4',
      'aggregation.retention.1d: expected a duration like 30d or 12h, or "forever", got "soon" @5',
    ]);
  });

  it('reports unknown keys with suggestions and several errors at once', () => {
    const text = `api:
  listen: 0.0.0.0:99999
  max_page: 100
ingest:
  max_batch_readings: 0
store:
  type: sqlite
  retention: forever
`;
    expect(messages(text)).toEqual([
      'api.listen: invalid port "99999": expected 0 to 65535 @2',
      'api.max_page: unknown key "max_page" @3',
      'ingest.max_batch_readings: expected a positive integer @5',
      expect.stringMatching(/^store\.retention: expected a duration like .*, got "forever" @8$/),
    ]);
    expect(messages('api:\n  tokens_fle: t.yaml\n')).toEqual(['api.tokens_fle: unknown key "tokens_fle" (did you mean "tokens_file"?) @2']);
  });

  it('checks jetstream and postgres fields', () => {
    expect(messages('store: { type: jetstream, servers: [], replicas: 7 }\naggregates: { type: postgres, url: "mysql://x" }\n')).toEqual([
      'store.servers: list at least one server @1',
      'store.replicas: expected an integer from 1 to 5 @1',
      'aggregates.url: expected a postgres:// or postgresql:// URL, got "mysql://x" @2',
    ]);
  });
});

describe('loadCloudConfig', () => {
  it('resolves data_dir, devices_file, tokens_file and TLS files against the config file directory', () => {
    const dir = mkdtempSync(join(tmpdir(), 'tidemark-cloud-config-'));
    const file = join(dir, 'cloud.yaml');
    writeFileSync(
      file,
      'data_dir: var\nauth: { devices_file: devices.yaml }\napi: { tokens_file: /etc/tokens.yaml }\nbroker: { tls_listen: ":8883", tls: { cert: s.pem, key: k.pem } }\n',
    );
    const c = loadCloudConfig(file, {});
    expect(c.data_dir).toBe(join(dir, 'var'));
    expect(c.auth.devices_file).toBe(join(dir, 'devices.yaml'));
    expect(c.api.tokens_file).toBe('/etc/tokens.yaml');
    expect(c.broker).toMatchObject({ tls: { cert: join(dir, 's.pem'), key: join(dir, 'k.pem') } });
    writeFileSync(file, 'api: { tls: { cert: certs/api.crt, key: /etc/api.key } }\n');
    expect(loadCloudConfig(file, {}).api.tls).toEqual({ cert: join(dir, 'certs/api.crt'), key: '/etc/api.key' });
    writeFileSync(file, 'api: { tls: { cert: a.crt } }\n');
    expect(() => loadCloudConfig(file, {})).toThrow(/api\.tls\.key/);
    writeFileSync(file, 'store: { type: jetstream, servers: [nats://n:4222], tls: { ca: certs/ca.pem } }\n');
    expect(loadCloudConfig(file, {}).store).toMatchObject({ tls: { ca: join(dir, 'certs/ca.pem') } });
  });

  it('throws a ConfigError naming the file', () => {
    expect(() => loadCloudConfig('/nonexistent/cloud.yaml', {})).toThrow(/cannot read config file \/nonexistent\/cloud\.yaml: ENOENT/);
  });
});

describe('defaultCloudConfig', () => {
  it('is the schema defaults with absolute paths', () => {
    expect(defaultCloudConfig({}, '/srv')).toEqual({ ...DEFAULTS, data_dir: '/srv/data' });
  });

  it('validates overrides with the same schema', () => {
    const c = defaultCloudConfig({ api: { listen: '127.0.0.1:0' }, broker: { listen: { host: '127.0.0.1', port: 0 } }, auth: { allow_anonymous: true } }, '/srv');
    expect(c.api.listen).toEqual({ host: '127.0.0.1', port: 0 });
    expect(c.broker).toMatchObject({ mode: 'embedded', listen: { host: '127.0.0.1', port: 0 } });
    expect(c.auth.allow_anonymous).toBe(true);
    expect(() => defaultCloudConfig({ api: { max_page_size: 0 } })).toThrow(/api\.max_page_size: expected a positive integer/);
  });
});
