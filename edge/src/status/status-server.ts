// The agent's local HTTP endpoint (config `status.listen`): /healthz for systemd/monitoring, /metrics for
// Prometheus, /status for field techs and `doctor`. It only reads: the agent supplies every value.
import Fastify, { type FastifyInstance } from 'fastify';
import { PortInUseError, type Component, type ListenAddress, type Logger, type MetricsRegistry } from '@tidemark/shared';

export interface StatusServerOptions {
  listen: ListenAddress;
  metrics: MetricsRegistry;
  /** The /status document (see AgentStatusDocument); may be async. */
  status: () => unknown | Promise<unknown>;
  /** /healthz answers 200 while this is true (default: always), 503 otherwise. */
  healthy?: () => boolean;
  logger: Logger;
  /** Names the setting that chose the port in a PortInUseError. Default `status.listen`. */
  listenSetting?: string;
}

export class StatusServer implements Component {
  readonly name = 'status';
  private app: FastifyInstance | undefined;
  /** The port actually bound (differs from listen.port when that is 0); 0 before start(). */
  boundPort = 0;

  constructor(private readonly opts: StatusServerOptions) {}

  private build(): FastifyInstance {
    const { opts } = this;
    const app = Fastify({ logger: false });
    app.setErrorHandler((err: Error, req, reply) => {
      opts.logger.error({ err, url: req.url }, 'status request failed');
      return reply.code(500).send({ error: { code: 'internal', message: err.message } });
    });
    app.setNotFoundHandler((req, reply) =>
      reply.code(404).send({ error: { code: 'not_found', message: `no route for ${req.method} ${req.url.split('?')[0]}` } }),
    );
    app.get('/healthz', async (_req, reply) => {
      const ok = opts.healthy ? opts.healthy() : true;
      return reply.code(ok ? 200 : 503).send({ status: ok ? 'ok' : 'unhealthy' });
    });
    app.get('/metrics', async (_req, reply) => {
      reply.header('content-type', opts.metrics.contentType);
      return opts.metrics.metrics();
    });
    app.get('/status', async (_req, reply) => {
      reply.header('cache-control', 'no-store');
      return (await opts.status()) ?? {};
    });
    return app;
  }

  async start(): Promise<void> {
    if (this.app) return;
    const { host, port } = this.opts.listen;
    const app = this.build();
    try {
      await app.listen({ host, port });
    } catch (err) {
      await app.close();
      if ((err as NodeJS.ErrnoException).code === 'EADDRINUSE') throw new PortInUseError(port, host, this.opts.listenSetting ?? 'status.listen');
      throw err;
    }
    const addr = app.server.address();
    this.boundPort = typeof addr === 'object' && addr ? addr.port : port;
    this.app = app;
    this.opts.logger.info({ host, port: this.boundPort }, 'status endpoint listening');
  }

  async stop(): Promise<void> {
    const app = this.app;
    this.app = undefined;
    await app?.close();
  }
}
