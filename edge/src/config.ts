// The edge agent's config (SPEC "Edge config"): one strict schema with defaults, source schemas beside their
// sources. loadEdgeConfig reports every problem at once and resolves relative paths against the file's directory.

import { dirname, resolve } from 'node:path';
import {
  evenWithIssues,
  loadConfigFile,
  reportDuplicates,
  resolveConfigPath,
  z,
  zByteSize,
  zClientTls,
  zDuration,
  zInt,
  zListen,
  zLogConfig,
  zName,
  zString,
  zTimestamp,
  zUrl,
  type ListenAddress,
  type LogLevel,
} from '@tidemark/shared/config';
import { gpioSourceSchema, type GpioSourceConfig } from './sources/gpio/config.js';
import { modbusSourceSchema, type ModbusSourceConfig } from './sources/modbus/config.js';
import { serialSourceSchema, type SerialSourceConfig } from './sources/serial/config.js';
import { simulatedSourceSchema, type SimulatedSourceConfig } from './sources/simulated/config.js';
import { transformsSchema, type TransformConfig } from './transforms/config.js';

export type { GpioSourceConfig, ModbusSourceConfig, SerialSourceConfig, SimulatedSourceConfig, TransformConfig };
export type SourceConfig = SerialSourceConfig | GpioSourceConfig | SimulatedSourceConfig | ModbusSourceConfig;

export type EdgeConfig = {
  device: { id: string };
  /** Absolute after loadEdgeConfig. */
  data_dir: string;
  sources: SourceConfig[];
  /** Between every source and the buffer, in order; absent = none. */
  transforms?: TransformConfig[];
  buffer: {
    max_bytes: number;
    /** ms */
    max_age: number;
    on_full: 'drop_oldest' | 'drop_newest' | 'block';
    commit_interval_ms: number;
    persist: 'unacked' | 'all';
  };
  batch: { max_readings: number; max_delay_ms: number };
  uplink: {
    url: string;
    username?: string;
    password?: string;
    tls?: { ca?: string; cert?: string; key?: string; reject_unauthorized: boolean };
    keepalive_s: number;
    max_inflight: number;
    ack_timeout_ms: number;
    reconnect_min_ms: number;
    reconnect_max_ms: number;
  };
  clock: {
    sync_check: 'auto' | 'assume_synced' | 'never_synced';
    /** ms since the epoch */
    min_plausible_time: number;
  };
  status?: { listen: ListenAddress };
  log: { level: LogLevel };
};

export const sourceSchema = z.discriminatedUnion('type', [serialSourceSchema, gpioSourceSchema, simulatedSourceSchema, modbusSourceSchema]);

const uplinkSchema = z
  .strictObject({
    url: zUrl(['mqtt', 'mqtts']),
    username: zString().optional(),
    password: z.string().optional(),
    tls: zClientTls().optional(),
    keepalive_s: zInt({ min: 0, max: 65_535 }).default(30),
    max_inflight: zInt({ min: 1, max: 65_535 }).default(8),
    ack_timeout_ms: zInt({ min: 1 }).default(30_000),
    reconnect_min_ms: zInt({ min: 1 }).default(500),
    reconnect_max_ms: zInt({ min: 1 }).default(30_000),
  })
  .superRefine((u, ctx) => {
    if (typeof u.reconnect_min_ms === 'number' && typeof u.reconnect_max_ms === 'number' && u.reconnect_max_ms < u.reconnect_min_ms) {
      ctx.addIssue({ code: 'custom', path: ['reconnect_max_ms'], input: u.reconnect_max_ms, message: `must be >= reconnect_min_ms (${u.reconnect_min_ms})` });
    }
    if (u.tls !== undefined && typeof u.url === 'string' && u.url.startsWith('mqtt://')) {
      ctx.addIssue({ code: 'custom', path: ['tls'], input: u.tls, message: 'tls is set but url is mqtt:// (plain TCP); use mqtts:// for TLS' });
    }
  }, evenWithIssues);

const edgeSchema = z
  .strictObject({
    device: z.strictObject({ id: zName('device id') }),
    data_dir: zString('a directory path').default('./data'),
    sources: z.array(sourceSchema).min(1, 'list at least one source'),
    transforms: transformsSchema.optional(),
    buffer: z
      .strictObject({
        max_bytes: zByteSize({ min: 1 }).prefault('256MB'),
        max_age: zDuration({ min: 1 }).prefault('7d'),
        on_full: z.enum(['drop_oldest', 'drop_newest', 'block']).default('drop_oldest'),
        commit_interval_ms: zInt({ min: 1, max: 1000 }).default(100),
        persist: z.enum(['unacked', 'all']).default('unacked'),
      })
      .prefault({}),
    batch: z
      .strictObject({
        max_readings: zInt({ min: 1, max: 100_000 }).default(1000),
        max_delay_ms: zInt({ min: 0 }).default(250),
      })
      .prefault({}),
    uplink: uplinkSchema,
    clock: z
      .strictObject({
        sync_check: z.enum(['auto', 'assume_synced', 'never_synced']).default('auto'),
        min_plausible_time: zTimestamp().prefault('2024-01-01T00:00:00Z'),
      })
      .prefault({}),
    status: z.strictObject({ listen: zListen(9101).prefault('127.0.0.1:9101') }).optional(),
    log: zLogConfig(),
  })
  .superRefine((c, ctx) => {
    if (!Array.isArray(c.sources)) return;
    const names = c.sources.map((s) => (s as { name?: unknown } | undefined)?.name);
    reportDuplicates(ctx, names, 'source name', (i) => ['sources', i, 'name'], (i) => `sources[${i}]`);
  }, evenWithIssues);

export type EdgeConfigInput = z.input<typeof edgeSchema>;

/** Validates an edge config document (paths are left as written; loadEdgeConfig resolves them). */
export const edgeConfigSchema: z.ZodType<EdgeConfig, EdgeConfigInput> = edgeSchema;

/** Makes data_dir and TLS file paths absolute, relative to `baseDir` (the config file's directory). */
export function resolveEdgePaths(config: EdgeConfig, baseDir: string): EdgeConfig {
  const tls = config.uplink.tls;
  return {
    ...config,
    data_dir: resolveConfigPath(baseDir, config.data_dir),
    uplink: {
      ...config.uplink,
      ...(tls
        ? {
            tls: {
              ...tls,
              ...(tls.ca !== undefined ? { ca: resolveConfigPath(baseDir, tls.ca) } : {}),
              ...(tls.cert !== undefined ? { cert: resolveConfigPath(baseDir, tls.cert) } : {}),
              ...(tls.key !== undefined ? { key: resolveConfigPath(baseDir, tls.key) } : {}),
            },
          }
        : {}),
    },
  };
}

/** Reads, substitutes and validates an edge config file. Throws ConfigError listing every problem. */
export function loadEdgeConfig(path: string, env: NodeJS.ProcessEnv = process.env): EdgeConfig {
  const config = loadConfigFile(path, edgeConfigSchema, { env });
  return resolveEdgePaths(config, dirname(resolve(path)));
}
