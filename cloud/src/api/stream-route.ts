// GET /api/v1/stream: Server-Sent Events of committed bucket updates (`event: bucket`, one bucket item per
// event, the same object /api/v1/aggregates returns; `event: watermark` when a device's watermark advanced).
// Invariants: a client never holds more than `maxBufferedBytes` plus one commit's events of unsent data in
// this process — a client found over the limit is dropped (closed) and counted, so a stalled reader costs
// bounded memory and never slows the aggregator; every listener and timer a client owns is released when
// its connection closes, however it closes.
import type { ServerResponse } from 'node:http';
import type { FastifyInstance } from 'fastify';
import { guard, type Logger, type MetricsRegistry } from '@tidemark/shared';
import type { Resolution } from '../aggregate/aggregator.js';
import { parseStreamQuery } from './query-params.js';
import { sendError } from './send-error.js';
import type { BucketUpdateHub, HubEvent } from './stream-hub.js';

export interface StreamSettings {
  /** Comment line sent this often so proxies keep the connection open. Default 15 s. */
  heartbeatMs?: number;
  /** The client's reconnect delay (`retry:`). Default 3 s. */
  retryMs?: number;
  /** Unsent bytes a client may still hold when new events come; above it, it is dropped. Default 1 MiB. */
  maxBufferedBytes?: number;
}

export const STREAM_DEFAULTS = { heartbeatMs: 15_000, retryMs: 3_000, maxBufferedBytes: 1 << 20 } as const;

export interface StreamRouteOptions {
  /** Undefined: this process has no source of live updates, and the route answers 501. */
  hub: BucketUpdateHub | undefined;
  resolutions: readonly Resolution[];
  settings?: StreamSettings;
  metrics: MetricsRegistry;
  logger: Logger;
}

export function registerStreamRoute(app: FastifyInstance, opts: StreamRouteOptions): void {
  const { hub, logger } = opts;
  const settings = {
    heartbeatMs: opts.settings?.heartbeatMs ?? STREAM_DEFAULTS.heartbeatMs,
    retryMs: opts.settings?.retryMs ?? STREAM_DEFAULTS.retryMs,
    maxBufferedBytes: opts.settings?.maxBufferedBytes ?? STREAM_DEFAULTS.maxBufferedBytes,
  };
  const m = {
    clients: opts.metrics.gauge('stream_clients', 'Clients connected to /api/v1/stream'),
    dropped: opts.metrics.counter('stream_dropped_total', 'Stream clients closed because they did not keep up (unsent data over the limit)'),
    events: opts.metrics.counter('stream_events_total', 'Events (bucket, watermark) written to stream clients'),
  };
  const open = new Set<ServerResponse>();

  // fastify.close() waits for open requests: end the streams so shutdown is not held up by clients.
  app.addHook('preClose', async () => {
    for (const res of open) {
      if (res.writableLength === 0) res.end();
      else res.destroy();
    }
  });

  // No automatic HEAD route: it would hold the connection open with nothing to send.
  app.get('/api/v1/stream', { exposeHeadRoute: false }, async (req, reply) => {
    const q = parseStreamQuery(req.query as Record<string, unknown>, { resolutions: opts.resolutions });
    if (!hub) {
      return sendError(reply, 501, 'not_available', 'the live stream is not available in this process (no aggregator updates are wired to the API)');
    }
    const lastEventId = req.headers['last-event-id'];
    const res = reply.raw;
    reply.hijack();
    res.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-cache, no-transform',
      // The response lasts as long as the connection: when it ends (shutdown, drop), close the socket too
      // rather than leave it idle for keep-alive, which would hold up server.close().
      connection: 'close',
      // nginx and friends buffer responses unless told not to.
      'x-accel-buffering': 'no',
    });
    res.socket?.setNoDelay(true);
    open.add(res);
    m.clients.inc();

    // Judged before writing: one commit's burst is always accepted (a commit is bounded by the aggregator's
    // chunk size), but a client still sitting on more than the limit when the next events come is too slow.
    const write = (chunk: string): void => {
      if (res.destroyed || res.writableEnded) return;
      if (res.writableLength > settings.maxBufferedBytes) {
        m.dropped.inc();
        logger.warn({ remote: req.ip, buffered: res.writableLength }, 'stream client is not keeping up; dropped');
        res.destroy();
        return;
      }
      res.write(chunk);
    };
    const heartbeat = setInterval(guard(logger, 'stream heartbeat', () => write(': ping\n\n')), settings.heartbeatMs);
    const filter = {
      ...(q.device !== undefined ? { device: q.device } : {}),
      ...(q.sensor !== undefined ? { sensor: q.sensor } : {}),
      ...(q.resolution !== undefined ? { resolution: q.resolution.label } : {}),
    };
    write(`retry: ${settings.retryMs}\n: connected\n\n`);
    const unsubscribe = hub.subscribe(
      filter,
      {
        events(events: readonly HubEvent[]) {
          let chunk = '';
          for (const e of events) chunk += `event: ${e.type}\nid: ${e.id}\ndata: ${e.data}\n\n`;
          m.events.inc(events.length);
          write(chunk);
        },
        reset(reason: string, id: string) {
          write(`event: reset\nid: ${id}\ndata: ${JSON.stringify({ reason })}\n\n`);
        },
      },
      typeof lastEventId === 'string' && lastEventId !== '' ? lastEventId : undefined,
    );

    let closed = false;
    res.on('close', guard(logger, 'stream close handler', () => {
      if (closed) return;
      closed = true;
      clearInterval(heartbeat);
      unsubscribe();
      open.delete(res);
      m.clients.dec();
    }));
  });
}
