// The HTTP query API (SPEC.md "HTTP API"). Every user input is validated here and answered with a 400
// naming the parameter; a 500 means a bug or a storage failure, never a bad request.
import { readFileSync } from 'node:fs';
import Fastify, { type FastifyInstance } from 'fastify';
import { NotConnectedError, PortInUseError, type Component, type Logger, type MetricsRegistry } from '@tidemark/shared';
import type { AggregateStore } from '../aggregate/aggregate-store.js';
import type { Resolution } from '../aggregate/aggregator.js';
import type { DeviceRegistry } from '../ingest/device-registry.js';
import { toBucketItem } from './bucket-item.js';
import { mergeDeviceBuckets } from './merged-buckets.js';
import { isConsolePath, registerConsoleRoute } from './console-route.js';
import { buildOpenApiDocument } from './openapi.js';
import { decodeCursor, encodeCursor, parseAggregateQuery, parseTagFilter, QueryError } from './query-params.js';
import { hasTags } from '../devices/device-tags.js';
import { NO_TAG_SOURCE, type TagSource } from '../devices/device-tag-source.js';
import { sendError } from './send-error.js';
import type { SqliteAlertStore } from '../alerts/sqlite-alert-store.js';
import { registerAlertsRoutes } from './alerts-route.js';
import { BucketUpdateHub, type AlertTransitionSource, type BucketUpdateSource } from './stream-hub.js';
import { registerStreamRoute, type StreamSettings } from './stream-route.js';
import { authenticate, hasScope, type ApiToken, type Scope } from './tokens.js';

export { sendError };

export interface ApiOptions {
  listen: { host: string; port: number };
  listenSetting?: string;
  resolutions: readonly Resolution[];
  allowedLatenessMs: number;
  maxPageSize: number;
  aggregates: AggregateStore;
  devices: DeviceRegistry;
  /** Device tags (the devices file) for the items of /api/v1/devices and its `?tag=` filter; default: none. */
  tags?: TagSource;
  metrics: MetricsRegistry;
  logger: Logger;
  /** Bearer tokens; undefined = the API is open (a warning is logged at start). */
  tokens?: readonly ApiToken[];
  /** The alert store (GET/POST /api/v1/alerts); undefined → those routes answer 501. */
  alerts?: () => SqliteAlertStore | undefined;
  /** Committed alert transitions for `event: alert` on /api/v1/stream. */
  alertTransitions?: AlertTransitionSource;
  /** Readiness: true once every role in this process has started. */
  ready?: () => boolean;
  /** Resources failing now (cloud/src/health): while any is, /readyz answers 503 "degraded" naming them. */
  failing?: () => readonly { resource: string; reason: string; since: string }[];
  /**
   * Committed bucket updates for /api/v1/stream: the in-process Aggregator, or a StoreFollower in the
   * api-only role. Absent: the stream answers 501.
   */
  updates?: BucketUpdateSource;
  stream?: StreamSettings & { replayEvents?: number };
  /**
   * Only /healthz, /readyz and /metrics: what a collector or aggregator process without the api role serves,
   * so its counters (ingest, late and unaggregated readings, lag) can be scraped.
   */
  opsOnly?: boolean;
  /** api.tls: serve HTTPS with this certificate and key (PEM file paths). */
  tls?: { cert: string; key: string };
}

const CLOSE_GRACE_MS = 1000;

const requestTokens = new WeakMap<object, ApiToken>();

/**
 * For a route that needs `scope`: the caller's name (the token's, or `anonymous` when the API is open), or
 * undefined after answering 403.
 */
export function requireScope(req: { raw: object }, reply: import('fastify').FastifyReply, scope: Scope, open: boolean): string | undefined {
  if (open) return 'anonymous';
  const token = requestTokens.get(req.raw);
  if (token && hasScope(token, scope)) return token.name;
  void sendError(reply, 403, 'forbidden', `this needs a token with the ${scope} scope${token ? ` ("${token.name}" has ${(token.scopes ?? ['read', 'operate']).join(', ')})` : ''}`);
  return undefined;
}

export function buildApi(opts: ApiOptions): FastifyInstance {
  // Typed as the HTTP instance: the routes do not care which server carries them.
  const app = (opts.tls
    ? Fastify({ logger: false, https: { cert: readFileSync(opts.tls.cert), key: readFileSync(opts.tls.key) } })
    : Fastify({ logger: false })) as unknown as FastifyInstance;
  const { aggregates, devices } = opts;

  app.setErrorHandler((err: Error & { statusCode?: number; code?: string }, _req, reply) => {
    if (err instanceof QueryError) return sendError(reply, 400, err.code, err.message);
    // A store not reachable yet (started degraded): the client may retry; /readyz says which resource.
    if (err instanceof NotConnectedError) return sendError(reply, 503, 'unavailable', err.message);
    const status = err.statusCode ?? 500;
    if (status >= 500) opts.logger.error({ err }, 'request failed');
    return sendError(reply, status, status >= 500 ? 'internal' : (err.code ?? 'bad_request').toLowerCase(), err.message);
  });
  app.setNotFoundHandler((req, reply) => sendError(reply, 404, 'not_found', `no route for ${req.method} ${req.url.split('?')[0]}`));

  // server.close() waits for every connection, and Node counts one that has not sent a request yet (fetch
  // and browsers open them speculatively, e.g. after an aborted stream) as busy until headersTimeout (60 s).
  // Requests in flight get a moment; then whatever is left is closed, so shutdown stays within its 10 s.
  app.addHook('preClose', async () => {
    // guard-audit: closeAllConnections() only destroys the server's sockets; it does not throw
    const force = setTimeout(() => app.server.closeAllConnections(), CLOSE_GRACE_MS);
    force.unref();
    app.server.once('close', () => clearTimeout(force));
  });

  const tokens = opts.tokens;
  if (tokens) {
    app.addHook('onRequest', async (req, reply) => {
      const path = req.url.split('?')[0] ?? '';
      if (path === '/healthz' || path === '/readyz' || (!opts.opsOnly && isConsolePath(path))) return;
      const token = authenticate(req.headers.authorization, tokens);
      if (!token) {
        reply.header('www-authenticate', 'Bearer realm="tidemark"');
        return sendError(reply, 401, 'unauthorized', 'a valid bearer token is required (Authorization: Bearer <token>)');
      }
      // Every route needs read; routes that change something check their own scope (requestToken()).
      if (!hasScope(token, 'read')) return sendError(reply, 403, 'forbidden', `token "${token.name}" lacks the read scope`);
      requestTokens.set(req.raw, token);
    });
  }

  app.get('/healthz', async () => ({ status: 'ok' }));
  app.get('/readyz', async (_req, reply) => {
    const ready = opts.ready ? opts.ready() : true;
    if (!ready) return reply.code(503).send({ status: 'starting' });
    const failing = opts.failing?.() ?? [];
    if (failing.length > 0) return reply.code(503).send({ status: 'degraded', failing });
    return reply.code(200).send({ status: 'ready' });
  });
  app.get('/metrics', async (_req, reply) => {
    reply.header('content-type', opts.metrics.contentType);
    return opts.metrics.metrics();
  });
  if (opts.opsOnly) return app;

  registerConsoleRoute(app, { logger: opts.logger });
  const tags = opts.tags ?? NO_TAG_SOURCE;

  app.get('/api/v1/aggregates', async (req) => {
    const q = parseAggregateQuery(req.query as Record<string, unknown>, {
      resolutions: opts.resolutions,
      maxPageSize: opts.maxPageSize,
    });
    const after = q.cursor !== undefined ? decodeCursor(q.cursor) : undefined;
    if (q.device === undefined) {
      // ?tag=: every known device with the tags, merged per bucket start (merged-buckets.ts).
      const now = tags.current();
      const ids = (await devices.list()).map((d) => d.id).filter((id) => hasTags(now.of(id), q.tags!));
      const parts = await Promise.all(
        ids.map(async (device) => ({
          rows: await aggregates.queryBuckets({ device, sensor: q.sensor, resolution: q.resolution.label, from: q.from, to: q.to, after, limit: q.limit + 1 }),
          watermark: await aggregates.watermark(device),
        })),
      );
      const merged = mergeDeviceBuckets(parts, q.limit, q.resolution.ms, opts.allowedLatenessMs);
      return { items: merged.items, next_cursor: merged.lastStart === undefined ? null : encodeCursor(merged.lastStart) };
    }
    const rows = await aggregates.queryBuckets({
      device: q.device,
      sensor: q.sensor,
      resolution: q.resolution.label,
      from: q.from,
      to: q.to,
      after,
      limit: q.limit + 1,
    });
    const page = rows.slice(0, q.limit);
    const watermark = await aggregates.watermark(q.device);
    const items = page.map((b) => toBucketItem(b, q.resolution.ms, watermark, opts.allowedLatenessMs));
    const next_cursor = rows.length > q.limit ? encodeCursor(page[page.length - 1]!.start) : null;
    return { items, next_cursor };
  });

  app.get('/api/v1/devices', async (req) => {
    const want = parseTagFilter(req.query as Record<string, unknown>);
    const now = tags.current();
    const items = (await devices.list()).map((d) => ({ ...d, tags: now.of(d.id) }));
    return { items: want.length === 0 ? items : items.filter((d) => hasTags(d.tags, want)) };
  });

  app.get('/api/v1/devices/:id/sensors', async (req, reply) => {
    const { id } = req.params as { id: string };
    const sensors = await aggregates.sensors(id);
    if (sensors.length === 0 && !(await devices.get(id))) return sendError(reply, 404, 'unknown_device', `device "${id}" is not known`);
    return { items: sensors };
  });

  // One hub per app: close() detaches it (the Aggregator has no unsubscribe, so its listener goes quiet).
  const hub = opts.updates
    ? new BucketUpdateHub({
        resolutions: opts.resolutions,
        allowedLatenessMs: opts.allowedLatenessMs,
        replayEvents: opts.stream?.replayEvents,
        logger: opts.logger,
      }).attach(opts.updates)
    : undefined;
  if (hub && opts.alertTransitions) hub.attachAlerts(opts.alertTransitions);
  if (hub) app.addHook('onClose', async () => hub.close());
  registerAlertsRoutes(app, {
    store: opts.alerts ?? (() => undefined),
    operator: (req, reply) => requireScope(req, reply, 'operate', !tokens),
    maxPageSize: Math.min(1000, opts.maxPageSize),
  });
  registerStreamRoute(app, { hub, resolutions: opts.resolutions, settings: opts.stream, metrics: opts.metrics, logger: opts.logger });

  const openapi = JSON.stringify(
    buildOpenApiDocument({ resolutions: opts.resolutions, maxPageSize: opts.maxPageSize, defaultLimit: Math.min(1000, opts.maxPageSize) }),
  );
  app.get('/api/v1/openapi.json', async (_req, reply) => reply.type('application/json; charset=utf-8').send(openapi));

  return app;
}

export class ApiServer implements Component {
  readonly name = 'api';
  private app: FastifyInstance | undefined;
  boundPort = 0;

  constructor(private readonly opts: ApiOptions) {}

  async start(): Promise<void> {
    if (!this.opts.tokens && !this.opts.opsOnly) this.opts.logger.warn('api.tokens_file is not set: the HTTP API is open to anyone who can reach it');
    const app = buildApi(this.opts);
    try {
      await app.listen({ host: this.opts.listen.host, port: this.opts.listen.port });
    } catch (err) {
      await app.close();
      if ((err as NodeJS.ErrnoException).code === 'EADDRINUSE') {
        throw new PortInUseError(this.opts.listen.port, this.opts.listen.host, this.opts.listenSetting);
      }
      throw err;
    }
    const addr = app.server.address();
    this.boundPort = typeof addr === 'object' && addr ? addr.port : this.opts.listen.port;
    this.app = app;
    this.opts.logger.info(
      { host: this.opts.listen.host, port: this.boundPort },
      this.opts.opsOnly ? 'HTTP /healthz /readyz /metrics listening' : `${this.opts.tls ? 'HTTPS' : 'HTTP'} API and console listening`,
    );
  }

  async stop(): Promise<void> {
    await this.app?.close();
    this.app = undefined;
  }
}
