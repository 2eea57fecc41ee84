// The collector as a client of an external broker (Mosquitto): it subscribes to every device's batch and
// status topics and publishes acks. The broker authenticates devices and enforces the per-device ACL
// (docs/external-broker.md); ingest still checks that the payload's device equals the topic's.
// A persistent session (clean: false, fixed client id) makes the broker queue batches while the collector
// restarts; anything beyond the broker's queue limit is simply resent by devices, which never got an ack.
import { connect, type IClientOptions, type MqttClient } from 'mqtt';
import { topics } from '@tidemark/proto';
import { clientTlsOptions, guard, NotConnectedError, type Logger, type MetricsRegistry } from '@tidemark/shared';
import type { ExternalBrokerConfig } from '../config.js';
import type { MessageBus, MessageHandler } from './message-bus.js';
import { publishConfirmed } from './publish-confirmed.js';


export class ExternalBus implements MessageBus {
  readonly name = 'external-broker';
  private client: MqttClient | undefined;
  private batchHandler: MessageHandler = () => {};
  private statusHandler: MessageHandler = () => {};
  private readonly connectedGauge;

  constructor(
    private readonly cfg: ExternalBrokerConfig,
    private readonly logger: Logger,
    metrics: MetricsRegistry,
  ) {
    this.connectedGauge = metrics.gauge('broker_connected', '1 while the collector is connected to the external broker');
  }

  onBatch(handler: MessageHandler): void {
    this.batchHandler = handler;
  }

  onStatus(handler: MessageHandler): void {
    this.statusHandler = handler;
  }

  /** Resolves once connected and subscribed; keeps reconnecting afterwards (mqtt.js, 1 s period). */
  async start(): Promise<void> {
    const tls = this.cfg.tls;
    const options: IClientOptions = {
      clientId: this.cfg.client_id,
      username: this.cfg.username,
      password: this.cfg.password,
      clean: false,
      protocolVersion: 4,
      reconnectPeriod: 1000,
      connectTimeout: 10_000,
      resubscribe: true,
      ...clientTlsOptions(tls),
    };
    const client = connect(this.cfg.url, options);
    this.client = client;
    client.on(
      'message',
      guard(this.logger, 'external broker message handler', (topic: string, payload: Buffer) => {
        const t = topics.parse(topic);
        if (!t) return;
        if (t.kind === 'batch') this.batchHandler(t.device, new Uint8Array(payload));
        else if (t.kind === 'status') this.statusHandler(t.device, new Uint8Array(payload));
      }),
    );
    client.on('connect', guard(this.logger, 'external broker connect handler', () => {
      // TCP_NODELAY (each new connection): an ack publish follows the PUBACK of its batch on this socket; with
      // Nagle on, it would wait for the broker's delayed TCP ACK (~40 ms on Linux).
      (client.stream as { setNoDelay?: (on: boolean) => void } | undefined)?.setNoDelay?.(true);
      this.connectedGauge.set(1);
      this.logger.info({ url: this.cfg.url }, 'connected to the external broker');
    }));
    // guard-audit: sets a gauge to a number; prom-client does not throw for an unlabelled gauge
    client.on('close', () => this.connectedGauge.set(0));
    client.on('error', (err) => this.logger.warn({ err: err.message }, 'external broker error'));

    await new Promise<void>((resolve, reject) => {
      const fail = (err: Error) => {
        try {
          client.end(true);
        } catch {
          // Ending a client that never connected: nothing to release; the start still fails below.
        }
        reject(new NotConnectedError(`cannot connect to the external broker ${this.cfg.url}: ${err.message}`, { cause: err }));
      };
      client.once('error', fail);
      // guard-audit: removing a listener and resolving the start promise do not throw
      client.once('connect', () => {
        client.off('error', fail);
        resolve();
      });
    });
    const granted = await client.subscribeAsync(
      { [`${topics.ROOT}/+/batch`]: { qos: 1 }, [`${topics.ROOT}/+/status`]: { qos: 1 } },
    );
    const refused = granted.filter((g) => g.qos === 128).map((g) => g.topic);
    if (refused.length > 0) {
      this.client.end(true);
      throw new NotConnectedError(`the external broker refused the collector's subscriptions (${refused.join(', ')}): check its ACL for user ${this.cfg.username ?? '(none)'}`);
    }
  }

  publishAck(device: string, payload: Uint8Array): Promise<void> {
    // Bounded: a broker that went away must not stall ingest waiting for a PUBACK. An ack that is lost is
    // harmless — the device resends and is acked `duplicate`.
    return publishConfirmed(this.client, topics.ack(device), Buffer.from(payload), { qos: 1, retain: false }, 'ack publish', 'the external broker');
  }

  publish(topic: string, payload: Buffer, opts: { qos: 1; retain: boolean }): Promise<void> {
    return publishConfirmed(this.client, topic, payload, opts, 'publish', 'the external broker');
  }

  async stop(): Promise<void> {
    const client = this.client;
    this.client = undefined;
    if (client) {
      const graceful = new Promise<void>((resolve) => client.end(false, {}, () => resolve()));
      await Promise.race([graceful, new Promise((r) => setTimeout(r, 2000).unref())]);
      if (!client.disconnected) client.end(true);
    }
    this.connectedGauge.set(0);
  }
}
