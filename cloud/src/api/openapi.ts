// The OpenAPI 3.1 description of the HTTP API, served at /api/v1/openapi.json. Written by hand as a typed
// object (no generator dependency); a unit test checks that every route fastify serves is described here
// and every described path is served. Limits and choices (resolutions, page size) come from the config,
// so the document describes this deployment, not a generic one.
import { alertPaths, alertSchemas } from './openapi-alerts.js';
import type { Resolution } from '../aggregate/aggregator.js';
import { TAG_KEY, TAG_VALUE_MAX } from '../devices/device-tags.js';

type JsonSchema = {
  type?: string | string[];
  format?: string;
  pattern?: string;
  minLength?: number;
  maxLength?: number;
  minimum?: number;
  maximum?: number;
  enum?: readonly (string | number | boolean)[];
  default?: unknown;
  description?: string;
  items?: JsonSchema;
  properties?: Record<string, JsonSchema>;
  required?: readonly string[];
  additionalProperties?: boolean | JsonSchema;
  propertyNames?: JsonSchema;
  $ref?: string;
  examples?: readonly unknown[];
};

export interface Parameter {
  name: string;
  in: 'query' | 'path' | 'header';
  required?: boolean;
  description: string;
  /** A repeatable query parameter (`?tag=a&tag=b`) is `form` and `explode: true`. */
  style?: 'form' | 'simple';
  explode?: boolean;
  schema: JsonSchema;
}

export interface Response {
  description: string;
  headers?: Record<string, { description: string; schema: JsonSchema }>;
  content?: Record<string, { schema: JsonSchema; example?: unknown }>;
}

export interface Operation {
  operationId: string;
  summary: string;
  description?: string;
  tags: string[];
  parameters?: Parameter[];
  responses: Record<string, Response>;
  /** Overrides the document's default (bearer); `[]` = open. */
  security?: Record<string, string[]>[];
}

export interface OpenApiDocument {
  openapi: '3.1.0';
  info: { title: string; version: string; description: string };
  servers?: { url: string }[];
  security: Record<string, string[]>[];
  tags: { name: string; description: string }[];
  paths: Record<string, { get?: Operation; post?: Operation }>;
  components: {
    securitySchemes: Record<string, { type: 'http'; scheme: 'bearer'; description: string }>;
    schemas: Record<string, JsonSchema>;
  };
}

export interface OpenApiOptions {
  resolutions: readonly Resolution[];
  maxPageSize: number;
  /** The default page size /api/v1/aggregates uses. */
  defaultLimit: number;
  version?: string;
}

export const NAME_PATTERN = '^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$';
/** `key=value`: a tag key, then a non-empty value (its printable-character rule is checked by the server). */
const TAG_FILTER_PATTERN = `${TAG_KEY.source.slice(0, -1)}=.{1,${TAG_VALUE_MAX}}$`;
export const ref = (name: string): JsonSchema => ({ $ref: `#/components/schemas/${name}` });
export const json = (schema: JsonSchema) => ({ 'application/json': { schema } });
export const nullable = (type: string, extra: JsonSchema = {}): JsonSchema => ({ type: [type, 'null'], ...extra });

export const errorResponse = (description: string): Response => ({ description, content: json(ref('Error')) });
/** A store this route reads is not open yet (its server was unreachable when the process started). */
const notOpenYet = errorResponse('The store this route reads is not open yet (its server was unreachable when the process started); /readyz names it.');
export const unauthorized: Response = {
  description: 'Missing or unknown bearer token (only when api.tokens_file is set).',
  headers: { 'WWW-Authenticate': { description: 'Bearer realm="tidemark"', schema: { type: 'string' } } },
  content: json(ref('Error')),
};

/** `?tag=key=value`, repeatable. */
function tagParam(description: string): Parameter {
  return {
    name: 'tag',
    in: 'query',
    required: false,
    description,
    style: 'form',
    explode: true,
    schema: { type: 'array', items: { type: 'string', pattern: TAG_FILTER_PATTERN, examples: ['site=plant-3'] } },
  };
}

export function buildOpenApiDocument(opts: OpenApiOptions): OpenApiDocument {
  const labels = opts.resolutions.map((r) => r.label);
  const name = (what: string, required: boolean, description: string): Parameter => ({
    name: what,
    in: 'query',
    required,
    description,
    schema: { type: 'string', pattern: NAME_PATTERN, minLength: 1, maxLength: 64 },
  });
  const resolution = (description: string, dflt?: string): Parameter => ({
    name: 'resolution',
    in: 'query',
    required: false,
    description,
    schema: { type: 'string', enum: labels, ...(dflt !== undefined ? { default: dflt } : {}) },
  });
  const time = (what: 'from' | 'to', description: string): Parameter => ({
    name: what,
    in: 'query',
    required: true,
    description: `${description} ISO 8601: a date (2026-11-27) or a date-time with Z or an offset; a date-time without one is UTC.`,
    schema: { type: 'string', format: 'date-time', examples: ['2026-11-27T10:00:00Z'] },
  });

  return {
    openapi: '3.1.0',
    info: {
      title: 'Tidemark cloud API',
      version: opts.version ?? '1',
      description:
        'Event-time aggregates of sensor telemetry. Times are ISO 8601 UTC in and out. Bad parameters are answered ' +
        'with 400 and {"error":{"code","message"}}, the message starting with the name of the parameter at fault; ' +
        'unknown parameters are refused.',
    },
    security: [{ bearerAuth: [] }],
    tags: [
      { name: 'aggregates', description: 'Windowed aggregates, queried and live' },
      { name: 'devices', description: 'Devices and their sensors' },
      { name: 'alerts', description: 'Alert series, their transitions, acknowledgement' },
      { name: 'operations', description: 'Health, readiness, metrics, this document' },
    ],
    paths: {
      '/api/v1/aggregates': {
        get: {
          operationId: 'getAggregates',
          summary: 'Buckets of one sensor whose start lies in [from, to), oldest first — of one device, or merged over the devices with a tag',
          description:
            'Buckets are UTC-aligned [start, start+resolution). `final` is true once the device watermark passed ' +
            'start + resolution + allowed_lateness; `revision` grows whenever a late reading changed the bucket. ' +
            'With `tag` instead of `device`, the buckets of every known device with all the tags are merged per start ' +
            '(`device` is `*`; count, sum, min, max, first, last exact, avg and stddev of the union; `final` when every ' +
            "device's part is final; `revision` the sum of the parts').",
          tags: ['aggregates'],
          parameters: [
            name('device', false, 'Device id (required unless `tag` is given; not both).'),
            tagParam('Instead of `device`: merge the devices with this tag, `key=value`; repeat it for devices with every one of the tags.'),
            name('sensor', true, 'Sensor name.'),
            resolution('Bucket width; one of the configured resolutions.', labels[0]),
            time('from', 'Inclusive lower bound on bucket start.'),
            time('to', 'Exclusive upper bound on bucket start; must be after from.'),
            {
              name: 'limit',
              in: 'query',
              required: false,
              description: 'Page size.',
              schema: { type: 'integer', minimum: 1, maximum: opts.maxPageSize, default: opts.defaultLimit },
            },
            { name: 'cursor', in: 'query', required: false, description: 'The next_cursor of the previous page (opaque).', schema: { type: 'string' } },
          ],
          responses: {
            '200': { description: 'One page of buckets.', content: json(ref('AggregatePage')) },
            '400': errorResponse('A parameter is missing, malformed, unknown or out of range.'),
            '401': unauthorized,
            '503': notOpenYet,
          },
        },
      },
      '/api/v1/stream': {
        get: {
          operationId: 'streamAggregates',
          summary: 'Server-Sent Events of bucket updates as they commit',
          description:
            'Every committed bucket change matching the filters, as `event: bucket` with `id:` and `data:` holding one ' +
            'BucketItem (the same object /api/v1/aggregates returns; the last event for a bucket is its current state). ' +
            'After the buckets of a commit, `event: watermark` (StreamWatermark) tells that a device watermark advanced: ' +
            'a bucket is final once watermark >= start + resolution + allowed_lateness, also when it did not change again. ' +
            'Sensor and resolution filters narrow bucket events only. ' +
            'Every filter is optional: no device = every device, no sensor = every sensor, no resolution = every ' +
            'resolution. A `: ping` comment is sent every 15 s; `retry:` suggests the reconnect delay. On reconnect ' +
            'with Last-Event-ID the missed events are replayed when the server still holds them; otherwise an ' +
            '`event: reset` (data: {"reason"}) says updates may have been missed: re-read /api/v1/aggregates. A client ' +
            'that does not read fast enough is disconnected (tidemark_cloud_stream_dropped_total).',
          tags: ['aggregates'],
          parameters: [
            name('device', false, 'Only this device.'),
            name('sensor', false, 'Only this sensor.'),
            resolution('Only this resolution.'),
            { name: 'Last-Event-ID', in: 'header', required: false, description: 'The id of the last event received (sent by EventSource on reconnect).', schema: { type: 'string' } },
          ],
          responses: {
            '200': {
              description:
                'An endless text/event-stream. `event: bucket` carries a BucketItem as JSON, `event: watermark` a StreamWatermark, `event: reset` a StreamReset.',
              content: { 'text/event-stream': { schema: { type: 'string' }, example: 'event: bucket\nid: 5f3a9c01-42\ndata: {"device":"press-07",…}\n\n' } },
            },
            '400': errorResponse('A filter is malformed or unknown.'),
            '401': unauthorized,
            '501': errorResponse('This process has no source of live updates.'),
          },
        },
      },
      '/api/v1/devices': {
        get: {
          operationId: 'listDevices',
          summary: 'Every known device with its last status and tags',
          tags: ['devices'],
          parameters: [
            tagParam('Only devices with this tag, `key=value`; repeat it for devices with every one of the tags.'),
          ],
          responses: {
            '200': { description: 'Devices, ordered by id.', content: json({ type: 'object', required: ['items'], properties: { items: { type: 'array', items: ref('Device') } } }) },
            '400': errorResponse('A `tag` parameter is not `key=value` with a valid key and value.'),
            '401': unauthorized,
            '503': notOpenYet,
          },
        },
      },
      '/api/v1/devices/{id}/sensors': {
        get: {
          operationId: 'listSensors',
          summary: 'The sensors seen from one device',
          tags: ['devices'],
          parameters: [{ name: 'id', in: 'path', required: true, description: 'Device id.', schema: { type: 'string', pattern: NAME_PATTERN } }],
          responses: {
            '200': { description: 'Sensors, ordered by name.', content: json({ type: 'object', required: ['items'], properties: { items: { type: 'array', items: ref('Sensor') } } }) },
            '401': unauthorized,
            '503': notOpenYet,
            '404': errorResponse('The device is not known.'),
          },
        },
      },
      ...alertPaths(opts.maxPageSize),
      '/api/v1/openapi.json': {
        get: {
          operationId: 'getOpenApi',
          summary: 'This document',
          tags: ['operations'],
          responses: { '200': { description: 'OpenAPI 3.1 document.', content: json({ type: 'object' }) }, '401': unauthorized },
        },
      },
      '/healthz': {
        get: {
          operationId: 'getHealth',
          summary: 'Liveness (never needs a token)',
          tags: ['operations'],
          security: [],
          responses: { '200': { description: 'The process serves requests.', content: json(statusSchema(['ok'])) } },
        },
      },
      '/readyz': {
        get: {
          operationId: 'getReadiness',
          summary: 'Readiness: every role in this process has started (never needs a token)',
          tags: ['operations'],
          security: [],
          responses: {
            '200': { description: 'Ready.', content: json(statusSchema(['ready'])) },
            '503': {
              description:
                'Not ready: `starting` (still starting, or stopping), or `degraded` with the resources failing now (a full disk, a database or NATS unreachable: docs/operations.md), each with its reason and since when.',
              content: json({
                type: 'object',
                required: ['status'],
                properties: {
                  status: { type: 'string', enum: ['starting', 'degraded'] },
                  failing: {
                    type: 'array',
                    items: {
                      type: 'object',
                      required: ['resource', 'reason', 'since'],
                      properties: { resource: { type: 'string' }, reason: { type: 'string' }, since: { type: 'string', format: 'date-time' } },
                    },
                  },
                },
              }),
            },
          },
        },
      },
      '/': {
        get: {
          operationId: 'getConsole',
          summary: "The operators' console (HTML; it asks for a token itself and reads only this API)",
          tags: ['console'],
          security: [],
          responses: {
            '200': { description: 'The console page (cache-control: no-cache).', content: { 'text/html': { schema: { type: 'string' } } } },
            '503': { description: 'The console was not built in this installation (npm run build).', content: { 'text/plain': { schema: { type: 'string' } } } },
          },
        },
      },
      '/assets/{name}': {
        get: {
          operationId: 'getConsoleAsset',
          summary: "A content-hashed file of the console (cache-control: immutable, one year)",
          tags: ['console'],
          security: [],
          parameters: [{ name: 'name', in: 'path', required: true, description: 'File name with its content hash, as index.html refers to it.', schema: { type: 'string' } }],
          responses: {
            '200': { description: 'The file.', content: { 'text/javascript': { schema: { type: 'string' } }, 'text/css': { schema: { type: 'string' } } } },
            '404': { description: 'No such file in this build.', content: { 'text/plain': { schema: { type: 'string' } } } },
          },
        },
      },
      '/metrics': {
        get: {
          operationId: 'getMetrics',
          summary: 'Prometheus metrics (tidemark_cloud_*)',
          tags: ['operations'],
          responses: { '200': { description: 'Prometheus text exposition format.', content: { 'text/plain': { schema: { type: 'string' } } } }, '401': unauthorized },
        },
      },
    },
    components: {
      securitySchemes: {
        bearerAuth: { type: 'http', scheme: 'bearer', description: 'A token from api.tokens_file. Not required when the API runs without tokens.' },
      },
      schemas: {
        Error: {
          type: 'object',
          required: ['error'],
          properties: {
            error: {
              type: 'object',
              required: ['code', 'message'],
              properties: {
                code: { type: 'string', description: 'Stable code, e.g. missing_parameter, invalid_parameter, unknown_parameter, unauthorized, not_found, unknown_device.' },
                message: { type: 'string', description: 'For parameter errors, starts with the parameter name.' },
              },
            },
          },
        },
        BucketItem: {
          type: 'object',
          required: ['device', 'sensor', 'resolution', 'start', 'count', 'sum', 'min', 'max', 'avg', 'stddev', 'first', 'last', 'final', 'revision'],
          properties: {
            device: { type: 'string', pattern: NAME_PATTERN },
            sensor: { type: 'string', pattern: NAME_PATTERN },
            resolution: { type: 'string', enum: labels },
            start: { type: 'string', format: 'date-time', description: 'UTC-aligned bucket start.' },
            count: { type: 'integer', minimum: 1 },
            sum: { type: 'number' },
            min: { type: 'number' },
            max: { type: 'number' },
            avg: { type: 'number' },
            stddev: { type: 'number', minimum: 0, description: 'Population standard deviation.' },
            first: { type: 'number', description: 'Value of the earliest reading by event time.' },
            last: { type: 'number', description: 'Value of the latest reading by event time.' },
            final: { type: 'boolean', description: 'The device watermark passed start + resolution + allowed_lateness.' },
            revision: { type: 'integer', minimum: 0, description: 'Times a late reading changed the bucket after it was final.' },
          },
        },
        AggregatePage: {
          type: 'object',
          required: ['items', 'next_cursor'],
          properties: { items: { type: 'array', items: ref('BucketItem') }, next_cursor: nullable('string', { description: 'Pass as cursor for the next page; null on the last.' }) },
        },
        StreamWatermark: {
          type: 'object',
          required: ['device', 'watermark', 'allowed_lateness_ms'],
          properties: {
            device: { type: 'string', pattern: NAME_PATTERN },
            watermark: { type: 'string', format: 'date-time', description: 'The highest trusted event time aggregated from the device.' },
            allowed_lateness_ms: { type: 'integer', minimum: 0 },
          },
        },
        StreamReset: { type: 'object', required: ['reason'], properties: { reason: { type: 'string' } } },
        Device: {
          type: 'object',
          required: ['id', 'online', 'last_seen', 'backlog_readings', 'oldest_buffered_time', 'clock_synced', 'agent_version', 'batches', 'readings', 'dropped_readings', 'rejected_batches', 'tags'],
          properties: {
            id: { type: 'string', pattern: NAME_PATTERN },
            online: { type: 'boolean' },
            last_seen: nullable('string', { format: 'date-time' }),
            backlog_readings: nullable('integer', { description: 'Readings buffered at the edge, as last reported.' }),
            oldest_buffered_time: nullable('string', { format: 'date-time' }),
            clock_synced: nullable('boolean'),
            agent_version: nullable('string'),
            batches: { type: 'integer', minimum: 0 },
            readings: { type: 'integer', minimum: 0 },
            dropped_readings: nullable('integer', { description: 'Readings the gateway dropped, when its status reports `dropped_readings`.' }),
            rejected_batches: { type: 'integer', minimum: 0, description: 'Batches from the device the collector refused (rejected or undecodable).' },
            tags: {
              type: 'object',
              description: 'The device\'s tags in the devices file this process reads (`tidemark-cloud device tag`); `{}` when it has none.',
              propertyNames: { pattern: TAG_KEY.source },
              additionalProperties: { type: 'string', minLength: 1, maxLength: TAG_VALUE_MAX },
            },
          },
        },
        ...alertSchemas(),
        Sensor: {
          type: 'object',
          required: ['name', 'first_seen', 'last_seen', 'readings'],
          properties: {
            name: { type: 'string', pattern: NAME_PATTERN },
            first_seen: { type: 'string', format: 'date-time' },
            last_seen: { type: 'string', format: 'date-time' },
            readings: { type: 'integer', minimum: 0, description: 'Readings aggregated.' },
          },
        },
      },
    },
  };
}

function statusSchema(values: string[]): JsonSchema {
  return { type: 'object', required: ['status'], properties: { status: { type: 'string', enum: values } } };
}
