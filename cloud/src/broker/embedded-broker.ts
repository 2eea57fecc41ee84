// The embedded MQTT broker (aedes) with Tidemark's authentication and ACL as hooks. The collector consumes
// batches through an in-process subscription, so no extra network hop or credential is needed.
import { readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { createServer as createTlsServer } from 'node:tls';
import { Aedes, type AuthenticateError, type Client } from 'aedes';
import { topics } from '@tidemark/proto';
import { guard, PortInUseError, type Logger, type MetricsRegistry } from '@tidemark/shared';
import { identityProblem, mayPublish, maySubscribe } from './acl.js';
import type { DeviceAuthenticator } from './device-auth.js';
import type { MessageBus, MessageHandler } from './message-bus.js';

export interface EmbeddedBrokerOptions {
  listen: { host: string; port: number };
  /** An mqtts listener; with `tls.ca`, clients must also present a certificate signed by that CA. */
  tlsListen?: { host: string; port: number };
  tls?: { cert: string; key: string; ca?: string };
  /** Publishes with a larger payload are refused (and the client disconnected). */
  maxPacketBytes?: number;
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
  private tlsServer: Server | undefined;
  boundTlsPort = 0;
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
        if (client !== null && this.opts.maxPacketBytes !== undefined && packet.payload.length > this.opts.maxPacketBytes) {
          this.m.denied.inc({ action: 'oversize' });
          logger.warn({ client: client.id, bytes: packet.payload.length, max: this.opts.maxPacketBytes }, 'publish refused: larger than broker.max_packet_bytes');
          return done(new Error('packet too large'));
        }
        if (client === null || mayPublish(client.id, packet.topic)) {
          // Nobody can read a retained status here (the ACL lets a device subscribe to its own ack topic only;
          // the collector takes statuses live and keeps them in the device registry). Retained, 10,000 of them
          // cost memory and made every SUBSCRIBE scan them all: a reconnect storm went quadratic.
          if (packet.retain && topics.parse(packet.topic)?.kind === 'status') packet.retain = false;
          return done(null);
        }
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
    // guard-audit: sets a gauge to a number; prom-client does not throw for an unlabelled gauge
    aedes.on('clientReady', () => this.m.connected.set(aedes.connectedClients));
    // guard-audit: sets a gauge to a number; prom-client does not throw for an unlabelled gauge
    aedes.on('clientDisconnect', () => this.m.connected.set(aedes.connectedClients));
    const deliver = (handler: () => MessageHandler) => (packet: { topic: string; payload: Buffer | string }, cb: () => void) => {
      try {
        const t = topics.parse(packet.topic);
        if (t) handler()(t.device, typeof packet.payload === 'string' ? Buffer.from(packet.payload) : new Uint8Array(packet.payload));
      } catch (err) {
        // A handler that throws must neither break aedes' delivery chain nor take the broker down.
        logger.error({ err, topic: packet.topic }, 'message handler failed');
      }
      // Never synchronously: once aedes' emitter has queued messages (its concurrency limit is taken by QoS 1
      // acks on their way to devices), each callback starts the next queued message on the same stack, and a
      // burst of a few thousand batches overflowed it and crashed the collector (mcollina/mqemitter#204).
      process.nextTick(guard(logger, 'aedes delivery callback', cb));
    };
    await new Promise<void>((resolve) => aedes.subscribe(`${topics.ROOT}/+/batch`, deliver(() => this.batchHandler), resolve));
    await new Promise<void>((resolve) => aedes.subscribe(`${topics.ROOT}/+/status`, deliver(() => this.statusHandler), resolve));
    this.aedes = aedes;

    try {
      // TCP_NODELAY: an app-level ack is a small write that follows the PUBACK of its batch; with Nagle on,
      // it waits for the device's delayed TCP ACK of that PUBACK (~40 ms on Linux) before it leaves.
      this.server = await listen(createServer({ noDelay: true }, aedes.handle), this.opts.listen, this.opts.listenSetting ?? 'broker.listen');
      this.boundPort = boundPort(this.server, this.opts.listen.port);
      logger.info({ host: this.opts.listen.host, port: this.boundPort }, 'embedded MQTT broker listening');
      if (this.opts.tlsListen && this.opts.tls) {
        const { cert, key, ca } = this.opts.tls;
        const tlsServer = createTlsServer(
          { noDelay: true, cert: readFileSync(cert), key: readFileSync(key), ...(ca ? { ca: readFileSync(ca), requestCert: true, rejectUnauthorized: true } : {}) },
          aedes.handle,
        );
        this.tlsServer = await listen(tlsServer, this.opts.tlsListen, 'broker.tls_listen');
        this.boundTlsPort = boundPort(this.tlsServer, this.opts.tlsListen.port);
        logger.info({ host: this.opts.tlsListen.host, port: this.boundTlsPort, client_certs: ca !== undefined }, 'embedded MQTT broker listening (TLS)');
      }
    } catch (err) {
      await this.stop();
      await new Promise<void>((r) => aedes.close(() => r()));
      throw err;
    }
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

  publish(topic: string, payload: Buffer, opts: { qos: 1; retain: boolean }): Promise<void> {
    const aedes = this.aedes;
    if (!aedes) return Promise.reject(new Error('broker not started'));
    return new Promise((resolve, reject) =>
      aedes.publish({ cmd: 'publish', topic, payload, qos: opts.qos, retain: opts.retain, dup: false }, (err) => (err ? reject(err) : resolve())),
    );
  }

  async stop(): Promise<void> {
    const servers = [this.server, this.tlsServer].filter((x): x is Server => x !== undefined);
    const aedes = this.aedes;
    this.server = undefined;
    this.tlsServer = undefined;
    this.aedes = undefined;
    if (aedes) await new Promise<void>((resolve) => aedes.close(() => resolve()));
    for (const server of servers) await new Promise<void>((resolve) => server.close(() => resolve()));
  }
}

const LISTEN_BACKLOG = 8192;

function listen(server: Server, at: { host: string; port: number }, setting: string): Promise<Server> {
  return new Promise((resolve, reject) => {
    server.once('error', (err: NodeJS.ErrnoException) => reject(err.code === 'EADDRINUSE' ? new PortInUseError(at.port, at.host, setting) : err));
    // A deep accept queue (the kernel caps it at net.core.somaxconn): when thousands of devices reconnect at
    // once, Node's default of 511 overflows and every dropped SYN waits out TCP's retransmit backoff (1 s, 3 s,
    // 7 s, 15 s …), which turned a 10,000-device reconnect into minutes of mostly idle waiting.
    server.listen({ port: at.port, host: at.host, backlog: LISTEN_BACKLOG }, () => resolve(server));
  });
}

function boundPort(server: Server, fallback: number): number {
  const addr = server.address();
  return typeof addr === 'object' && addr ? addr.port : fallback;
}
