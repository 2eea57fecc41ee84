// The collector's config (SPEC "Cloud config"): broker, auth, stream store, aggregates, API. Strict, with
// defaults that make `{}` a working single-process setup; relative paths resolve against the file's directory.

import { dirname, resolve } from 'node:path';
import {
  evenWithIssues,
  formatDuration,
  formatListen,
  describeValue,
  expecting,
  loadConfigFile,
  parseDuration,
  reportDuplicates,
  resolveConfigPath,
  validateConfig,
  z,
  zByteSize,
  zClientTls,
  zDuration,
  zInt,
  zListen,
  zLogConfig,
  zResolution,
  zString,
  zUrl,
  type DeepPartial,
  type ListenAddress,
  type LogLevel,
  type Resolution,
} from '@tidemark/shared/config';
import { DEFAULT_POSTGRES_SCHEMA, postgresSchemaProblem } from './aggregate/postgres-schema-name.js';
import { alertsSchema, checkAlertResolutions, finishAlerts, type AlertsConfig } from './alerts/alert-config.js';

export type EmbeddedBrokerConfig = {
  mode: 'embedded';
  listen: ListenAddress;
  tls_listen?: ListenAddress;
  tls?: { cert: string; key: string; ca?: string };
  max_packet_bytes: number;
};

export type ExternalBrokerConfig = {
  mode: 'external';
  url: string;
  username?: string;
  password?: string;
  tls?: { ca?: string; cert?: string; key?: string; reject_unauthorized: boolean };
  client_id: string;
};

export type CloudConfig = {
  /** Absolute after loadCloudConfig / defaultCloudConfig. */
  data_dir: string;
  broker: EmbeddedBrokerConfig | ExternalBrokerConfig;
  auth: { devices_file?: string; allow_anonymous: boolean; mosquitto_password_file?: string };
  store:
    | { type: 'sqlite'; /** ms */ retention: number; max_bytes?: number }
    | {
        type: 'jetstream';
        servers: string[];
        stream: string;
        partitions: number;
        replicas: number;
        /** ms */
        retention: number;
        max_bytes?: number;
        username?: string;
        password?: string;
        token?: string;
        tls?: { ca?: string; cert?: string; key?: string };
      };
  aggregates: { type: 'sqlite' } | { type: 'postgres'; url: string; schema: string };
  aggregation: {
    /** Ascending, each divides the next. */
    resolutions: Resolution[];
    /** ms */
    allowed_lateness: number;
    /** Per resolution label: how long its buckets are kept (ms, by bucket end), or null to keep them forever. */
    retention: Record<string, number | null>;
  };
  ingest: { max_batch_readings: number; commit_interval_ms: number; /** ms */ max_future_skew: number };
  api: { listen: ListenAddress; tokens_file?: string; max_page_size: number; /** HTTPS for the API and console. */ tls?: { cert: string; key: string } };
  alerts: AlertsConfig;
  log: { level: LogLevel };
};

const MQTT_MAX_PACKET = 268_435_455;

const embeddedBroker = z
  .strictObject({
    mode: z.literal('embedded').default('embedded'),
    listen: zListen(1883).prefault('0.0.0.0:1883'),
    tls_listen: zListen(8883).optional(),
    tls: z
      .strictObject({ cert: zString('a file path'), key: zString('a file path'), ca: zString('a file path').optional() })
      .optional(),
    max_packet_bytes: zByteSize({ min: 1024, max: MQTT_MAX_PACKET }).prefault('1MB'),
  })
  .superRefine((b, ctx) => {
    if (b.tls_listen !== undefined && b.tls === undefined) {
      ctx.addIssue({ code: 'custom', path: ['tls_listen'], input: b.tls_listen, message: 'requires tls: { cert, key } (the server certificate)' });
    }
    if (b.tls !== undefined && b.tls_listen === undefined) {
      ctx.addIssue({ code: 'custom', path: ['tls'], input: b.tls, message: 'is set but tls_listen is not (e.g. tls_listen: 0.0.0.0:8883)' });
    }
    const l = b.listen as ListenAddress | undefined;
    const t = b.tls_listen as ListenAddress | undefined;
    if (l?.port !== undefined && t?.port !== undefined && clash(l, t)) {
      ctx.addIssue({ code: 'custom', path: ['tls_listen'], input: t, message: `${formatListen(t)} is also broker.listen` });
    }
  }, evenWithIssues);

const externalBroker = z
  .strictObject({
    mode: z.literal('external'),
    url: zUrl(['mqtt', 'mqtts']),
    username: zString().optional(),
    password: z.string().optional(),
    tls: zClientTls().optional(),
    client_id: zString().default('tidemark-collector'),
  })
  .superRefine((b, ctx) => {
    if (b.tls !== undefined && typeof b.url === 'string' && b.url.startsWith('mqtt://')) {
      ctx.addIssue({ code: 'custom', path: ['tls'], input: b.tls, message: 'tls is set but url is mqtt:// (plain TCP); use mqtts:// for TLS' });
    }
  }, evenWithIssues);

const sqliteStore = z.strictObject({
  type: z.literal('sqlite').default('sqlite'),
  retention: zDuration({ min: 1 }).prefault('30d'),
  max_bytes: zByteSize({ min: 1 }).optional(),
});

const jetstreamStore = z.strictObject({
  type: z.literal('jetstream'),
  servers: z.array(zString('a NATS server such as nats://nats-1:4222')).min(1, 'list at least one server'),
  stream: z
    .string()
    // 64 at most: partitions append `-p<k>`, and the dedup bucket `KV_<name>-p<k>_DEDUP` becomes a file name.
    .regex(/^[A-Za-z0-9_-]{1,64}$/, 'expected a JetStream stream name (letters, digits, "_", "-"; at most 64)')
    .default('TIDEMARK'),
  partitions: zInt({ min: 1, max: 1024 }).default(1),
  replicas: zInt({ min: 1, max: 5 }).default(1),
  retention: zDuration({ min: 1 }).prefault('30d'),
  max_bytes: zByteSize({ min: 1 }).optional(),
  // NATS credentials (the client ignores user:password@ in the server URLs).
  username: zString().optional(),
  password: z.string().optional(),
  token: z.string().optional(),
  // TLS to NATS (servers started with --tls): ca for a private CA, cert + key for client certificates.
  tls: z
    .strictObject({ ca: zString('a file path').optional(), cert: zString('a file path').optional(), key: zString('a file path').optional() })
    .superRefine((t, ctx) => {
      if ((t.cert === undefined) !== (t.key === undefined)) {
        const missing = t.cert === undefined ? 'cert' : 'key';
        ctx.addIssue({ code: 'custom', path: [missing], input: undefined, message: 'required with ' + (missing === 'cert' ? 'key' : 'cert') + ' (client certificate and key go together)' });
      }
    }, evenWithIssues)
    .optional(),
})
  .superRefine((s, ctx) => {
    if (s.token !== undefined && (s.username !== undefined || s.password !== undefined)) {
      ctx.addIssue({ code: 'custom', path: ['token'], input: s.token, message: 'use either token or username/password, not both' });
    }
    if ((s.username === undefined) !== (s.password === undefined)) {
      const path = s.username === undefined ? 'username' : 'password';
      ctx.addIssue({ code: 'custom', path: [path], input: undefined, message: `is required with ${path === 'username' ? 'password' : 'username'}` });
    }
  }, evenWithIssues);

const aggregatesSchema = z.discriminatedUnion('type', [
  z.strictObject({ type: z.literal('sqlite').default('sqlite') }),
  z.strictObject({
    type: z.literal('postgres'),
    url: zUrl(['postgres', 'postgresql']),
    schema: z
      .string()
      .superRefine((s, ctx) => {
        const problem = postgresSchemaProblem(s);
        if (problem) ctx.addIssue({ code: 'custom', input: s, message: problem });
      })
      .default(DEFAULT_POSTGRES_SCHEMA),
  }),
]);

const resolutionsSchema = z
  .array(zResolution())
  .min(1, 'list at least one resolution')
  .superRefine((list, ctx) => {
    const indexed = list
      .map((r, i) => ({ r: r as Resolution | undefined, i }))
      .filter((x): x is { r: Resolution; i: number } => typeof x.r?.ms === 'number');
    reportDuplicates(ctx, indexed.map((x) => x.r.label), 'resolution', (k) => [indexed[k]!.i], (k) => `resolutions[${indexed[k]!.i}]`);
    const sorted = [...new Map(indexed.map((x) => [x.r.ms, x])).values()].sort((a, b) => a.r.ms - b.r.ms);
    for (let k = 1; k < sorted.length; k++) {
      const prev = sorted[k - 1]!.r;
      const cur = sorted[k]!;
      if (cur.r.ms % prev.ms !== 0) {
        ctx.addIssue({
          code: 'custom',
          path: [cur.i],
          input: cur.r.label,
          message: `${cur.r.label} is not a multiple of ${prev.label} (each resolution must divide the next)`,
        });
      }
    }
  }, { when: (p) => Array.isArray(p.value) })
  .transform((list) => [...list].sort((a, b) => a.ms - b.ms));

/** Bucket retention unless configured: a month of minutes, a year of hours, days forever. */
const DEFAULT_BUCKET_RETENTION: ReadonlyMap<number, number> = new Map([
  [60_000, parseDuration('30d')],
  [3_600_000, parseDuration('365d')],
]);

const RETENTION_HELP = 'a duration like 30d or 12h, or "forever"';
const retentionSchema = z.record(
  z.string(),
  z.union([z.string(), z.number()], { error: expecting(`expected ${RETENTION_HELP}`) }).transform((v, ctx): number | 'forever' => {
    if (v === 'forever') return v;
    try {
      return parseDuration(v);
    } catch {
      ctx.addIssue({ code: 'custom', input: v, message: `expected ${RETENTION_HELP}, got ${describeValue(v)}` });
      return z.NEVER;
    }
  }),
);

/** aggregation.retention: keys are resolutions (`1m`, or any spelling of the same duration), values durations or `forever`. */
function checkRetention(a: { resolutions?: unknown; retention?: unknown }, ctx: z.RefinementCtx): void {
  if (!Array.isArray(a.resolutions) || typeof a.retention !== 'object' || a.retention === null) return;
  const resolutions = (a.resolutions as (Resolution | undefined)[]).filter((r): r is Resolution => typeof r?.ms === 'number');
  for (const [key, value] of Object.entries(a.retention)) {
    const res = resolutionOf(resolutions, key);
    if (!res) {
      const known = resolutions.map((r) => r.label).join(', ');
      ctx.addIssue({ code: 'custom', path: ['retention', key], input: key, message: `"${key}" is not one of aggregation.resolutions (${known})` });
    } else if (typeof value === 'number' && value < res.ms) {
      ctx.addIssue({
        code: 'custom',
        path: ['retention', key],
        input: value,
        message: `${formatDuration(value)} is shorter than the resolution itself (${res.label}); use at least ${res.label}`,
      });
    }
  }
}

function resolutionOf(resolutions: readonly Resolution[], key: string): Resolution | undefined {
  try {
    const ms = parseDuration(key);
    return resolutions.find((r) => r.ms === ms);
  } catch {
    return undefined;
  }
}

/** One entry per configured resolution: its configured retention, else its default, else forever (null). */
function resolveRetention(a: { resolutions: Resolution[]; retention?: Record<string, number | 'forever'> }): Record<string, number | null> {
  const out: Record<string, number | null> = {};
  for (const r of a.resolutions) out[r.label] = DEFAULT_BUCKET_RETENTION.get(r.ms) ?? null;
  for (const [key, value] of Object.entries(a.retention ?? {})) {
    const res = resolutionOf(a.resolutions, key);
    if (res) out[res.label] = value === 'forever' ? null : value;
  }
  return out;
}

const cloudSchema = z
  .strictObject({
    data_dir: zString('a directory path').default('./data'),
    broker: z.discriminatedUnion('mode', [embeddedBroker, externalBroker]).prefault({}),
    auth: z
      .strictObject({
        devices_file: zString('a file path').optional(),
        allow_anonymous: z.boolean().default(false),
        // External broker: `device add` also writes the device into this Mosquitto password_file.
        mosquitto_password_file: zString('a file path').optional(),
      })
      .prefault({}),
    store: z.discriminatedUnion('type', [sqliteStore, jetstreamStore]).prefault({}),
    aggregates: aggregatesSchema.prefault({}),
    aggregation: z
      .strictObject({
        resolutions: resolutionsSchema.prefault(['1m', '1h', '1d']),
        allowed_lateness: zDuration().prefault('5m'),
        retention: retentionSchema.optional(),
      })
      .superRefine(checkRetention, evenWithIssues)
      .transform((a) => ({ ...a, retention: resolveRetention(a) }))
      .prefault({}),
    ingest: z
      .strictObject({
        max_batch_readings: zInt({ min: 1 }).default(100_000),
        commit_interval_ms: zInt({ min: 0, max: 1000 }).default(5),
        max_future_skew: zDuration().prefault('5m'),
      })
      .prefault({}),
    api: z
      .strictObject({
        listen: zListen(8080).prefault('0.0.0.0:8080'),
        tokens_file: zString('a file path').optional(),
        max_page_size: zInt({ min: 1 }).default(10_000),
        tls: z.strictObject({ cert: zString('a file path'), key: zString('a file path') }).optional(),
      })
      .prefault({}),
    alerts: alertsSchema().prefault({}),
    log: zLogConfig(),
  })
  .superRefine((c, ctx) => {
    const resolutions = (c.aggregation as { resolutions?: unknown } | undefined)?.resolutions;
    if (Array.isArray(resolutions)) checkAlertResolutions(c.alerts, resolutions as Resolution[], ctx);
    const broker = c.broker as { mode?: unknown; listen?: ListenAddress; tls_listen?: ListenAddress } | undefined;
    const api = (c.api as { listen?: ListenAddress } | undefined)?.listen;
    if (broker?.mode !== 'embedded' || typeof api?.port !== 'number') return;
    for (const [key, addr] of [['listen', broker.listen], ['tls_listen', broker.tls_listen]] as const) {
      if (typeof addr?.port === 'number' && clash(api, addr)) {
        ctx.addIssue({ code: 'custom', path: ['api', 'listen'], input: api, message: `${formatListen(api)} is also broker.${key}` });
      }
    }
  }, evenWithIssues)
  .transform((c) => ({ ...c, alerts: finishAlerts(c.alerts, c.aggregation.resolutions) }));

/** Two listen addresses collide when they share a non-zero port and a host (or one is a wildcard). */
function clash(a: ListenAddress, b: ListenAddress): boolean {
  const wildcard = (h: string) => h === '0.0.0.0' || h === '::' || h === '';
  return a.port !== 0 && a.port === b.port && (a.host === b.host || wildcard(a.host) || wildcard(b.host));
}

export type CloudConfigInput = z.input<typeof cloudSchema>;
export type DeepPartialInput = DeepPartial<CloudConfigInput>;

/** Validates a cloud config document (paths are left as written; loadCloudConfig resolves them). */
export const cloudConfigSchema: z.ZodType<CloudConfig, CloudConfigInput> = cloudSchema;

/** Makes data_dir, auth/API files and TLS files absolute, relative to `baseDir`. */
export function resolveCloudPaths(config: CloudConfig, baseDir: string): CloudConfig {
  const r = (p: string) => resolveConfigPath(baseDir, p);
  const opt = <K extends string>(key: K, p: string | undefined) => (p === undefined ? {} : ({ [key]: r(p) } as Record<K, string>));
  const broker: CloudConfig['broker'] =
    config.broker.tls === undefined
      ? config.broker
      : config.broker.mode === 'embedded'
        ? { ...config.broker, tls: { ...config.broker.tls, cert: r(config.broker.tls.cert), key: r(config.broker.tls.key), ...opt('ca', config.broker.tls.ca) } }
        : {
            ...config.broker,
            tls: { ...config.broker.tls, ...opt('ca', config.broker.tls.ca), ...opt('cert', config.broker.tls.cert), ...opt('key', config.broker.tls.key) },
          };
  const store: CloudConfig['store'] =
    config.store.type === 'jetstream' && config.store.tls !== undefined
      ? { ...config.store, tls: { ...config.store.tls, ...opt('ca', config.store.tls.ca), ...opt('cert', config.store.tls.cert), ...opt('key', config.store.tls.key) } }
      : config.store;
  return {
    ...config,
    data_dir: r(config.data_dir),
    broker,
    store,
    auth: {
      ...config.auth,
      ...opt('devices_file', config.auth.devices_file),
      ...opt('mosquitto_password_file', config.auth.mosquitto_password_file),
    },
    api: {
      ...config.api,
      ...opt('tokens_file', config.api.tokens_file),
      ...(config.api.tls ? { tls: { cert: r(config.api.tls.cert), key: r(config.api.tls.key) } } : {}),
    },
  };
}

/** Reads, substitutes and validates a cloud config file. Throws ConfigError listing every problem. */
export function loadCloudConfig(path: string, env: NodeJS.ProcessEnv = process.env): CloudConfig {
  const config = loadConfigFile(path, cloudConfigSchema, { env });
  return resolveCloudPaths(config, dirname(resolve(path)));
}

/**
 * The built-in defaults (for `npm start` without a file), with `overrides` validated by the same schema:
 * `defaultCloudConfig({ api: { listen: '127.0.0.1:0' } })`. Relative paths resolve against `baseDir`.
 */
export function defaultCloudConfig(overrides: DeepPartialInput = {}, baseDir: string = process.cwd()): CloudConfig {
  const config = validateConfig(overrides, cloudConfigSchema, 'built-in defaults');
  return resolveCloudPaths(config, baseDir);
}
