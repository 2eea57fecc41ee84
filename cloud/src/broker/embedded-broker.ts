// The embedded MQTT broker (aedes) with Tidemark's authentication and ACL as hooks. The collector consumes
// batches through an in-process subscription, so no extra network hop or credential is needed.
import { createServer, type Server } from 'node:net';
import { Aedes, type AuthenticateError, type Client } from 'aedes';
import { topics } from '@tidemark/proto';
import { PortInUseError, type Logger, type MetricsRegistry } from '@tidemark/shared';
import { identityProblem, mayPublish, maySubscribe } from './acl.js';
import type { DeviceAuthenticator } from './device-auth.js';
import type { MessageBus, MessageHandler } from './message-bus.js';

export interface EmbeddedBrokerOptions {
  listen: { host: string; port: number };
  /** Names the setting that chose the port, for a clear "port in use" error. */
  listenSetting?: string;
  auth: DeviceAuthenticator;
  logger: Logger;
  metrics: MetricsRegistry;
}

function authError(message: string, returnCode: 4 | 5): AuthenticateError {
  return Object.assign(new Error(message), { returnCode }) as AuthenticateError;
}

export class EmbeddedBroker implements MessageBus {
  readonly name = 'broker';
  private aedes: Aedes | undefined;
  private server: Server | undefined;
  private batchHandler: MessageHandler = () => {};
  private statusHandler: MessageHandler = () => {};
  private readonly m;
  boundPort = 0;

  constructor(private readonly opts: EmbeddedBrokerOptions) {
    const { metrics } = opts;
    this.m = {
      connections: metrics.counter('broker_connections_total', 'MQTT connection attempts by outcome', ['outcome']),
      connected: metrics.gauge('broker_clients', 'Connected MQTT clients'),
      denied: metrics.counter('broker_denied_total', 'Publishes and subscribes refused by the ACL', ['action']),
    };
  }

  onBatch(handler: MessageHandler): void {
    this.batchHandler = handler;
  }

  onStatus(handler: MessageHandler): void {
    this.statusHandler = handler;
  }

  async start(): Promise<void> {
    const { logger } = this.opts;
    const aedes = await Aedes.createBroker({
      id: 'tidemark-embedded',
      authenticate: (client: Client, username, password, done) => {
        const problem = identityProblem(client.id, username);
        if (problem) {
          this.m.connections.inc({ outcome: 'bad_identity' });
          return done(authError(problem, 5), false);
        }
        this.opts.auth.check(client.id, password).then(
          (ok) => {
            this.m.connections.inc({ outcome: ok ? 'accepted' : 'bad_credentials' });
            if (!ok) logger.warn({ client: client.id }, 'device refused: bad credentials');
            done(ok ? null : authError('bad username or password', 4), ok);
          },
          (err: Error) => {
            logger.error({ err, client: client.id }, 'authentication failed');
            done(authError('authentication unavailable', 5), false);
          },
        );
      },
      authorizePublish: (client, packet, done) => {
        if (client === null || mayPublish(client.id, packet.topic)) return done(null);
        this.m.denied.inc({ action: 'publish' });
        logger.warn({ client: client.id, topic: packet.topic }, 'publish refused by ACL');
        done(new Error('not authorized'));
      },
      authorizeSubscribe: (client, sub, done) => {
        if (maySubscribe(client.id, sub.topic)) return done(null, sub);
        this.m.denied.inc({ action: 'subscribe' });
        logger.warn({ client: client.id, topic: sub.topic }, 'subscribe refused by ACL');
        done(null, null); // SUBACK 0x80 for this topic; the client's other subscriptions stay
      },
    });
    aedes.on('clientReady', () => this.m.connected.set(aedes.connectedClients));
    aedes.on('clientDisconnect', () => this.m.connected.set(aedes.connectedClients));
    const deliver = (handler: () => MessageHandler) => (packet: { topic: string; payload: Buffer | string }, cb: () => void) => {
      const t = topics.parse(packet.topic);
      if (t) handler()(t.device, typeof packet.payload === 'string' ? Buffer.from(packet.payload) : new Uint8Array(packet.payload));
      cb();
    };
    await new Promise<void>((resolve) => aedes.subscribe(`${topics.ROOT}/+/batch`, deliver(() => this.batchHandler), resolve));
    await new Promise<void>((resolve) => aedes.subscribe(`${topics.ROOT}/+/status`, deliver(() => this.statusHandler), resolve));
    this.aedes = aedes;

    const server = createServer(aedes.handle);
    await new Promise<void>((resolve, reject) => {
      server.once('error', (err: NodeJS.ErrnoException) => {
        reject(err.code === 'EADDRINUSE' ? new PortInUseError(this.opts.listen.port, this.opts.listen.host, this.opts.listenSetting) : err);
      });
      server.listen(this.opts.listen.port, this.opts.listen.host, () => resolve());
    }).catch(async (err) => {
      await new Promise<void>((r) => aedes.close(() => r()));
      throw err;
    });
    const addr = server.address();
    this.boundPort = typeof addr === 'object' && addr ? addr.port : this.opts.listen.port;
    this.server = server;
    logger.info({ host: this.opts.listen.host, port: this.boundPort }, 'embedded MQTT broker listening');
  }

  publishAck(device: string, payload: Uint8Array): Promise<void> {
    const aedes = this.aedes;
    if (!aedes) return Promise.reject(new Error('broker not started'));
    return new Promise((resolve, reject) =>
      aedes.publish(
        { cmd: 'publish', topic: topics.ack(device), payload: Buffer.from(payload), qos: 1, retain: false, dup: false },
        (err) => (err ? reject(err) : resolve()),
      ),
    );
  }

  async stop(): Promise<void> {
    const server = this.server;
    const aedes = this.aedes;
    this.server = undefined;
    this.aedes = undefined;
    if (aedes) await new Promise<void>((resolve) => aedes.close(() => resolve()));
    if (server) await new Promise<void>((resolve) => server.close(() => resolve()));
  }
}
