// Alert notifications over MQTT from a process that does not run the broker connection of the collector:
// the aggregator role on its own host, with an external broker (Mosquitto). A publish-only client with its
// own client id (`<broker.client_id>-alerts`, a clean session: it subscribes to nothing), connected in the
// background so that a broker that is down at start is a state, not a crash. A publish while disconnected
// fails at once; the alert outbox keeps the row and retries it (at least once, same id).
import { connect, type IClientOptions, type MqttClient } from 'mqtt';
import { clientTlsOptions, guard, type Component, type Logger } from '@tidemark/shared';
import type { ExternalBrokerConfig } from '../config.js';
import { publishConfirmed } from './publish-confirmed.js';

export class AlertPublisher implements Component {
  readonly name = 'alert-publisher';
  private client: MqttClient | undefined;

  constructor(
    private readonly cfg: ExternalBrokerConfig,
    private readonly logger: Logger,
  ) {}

  get clientId(): string {
    return `${this.cfg.client_id}-alerts`;
  }

  async start(): Promise<void> {
    const options: IClientOptions = {
      clientId: this.clientId,
      username: this.cfg.username,
      password: this.cfg.password,
      clean: true,
      protocolVersion: 4,
      reconnectPeriod: 1000,
      connectTimeout: 10_000,
      ...clientTlsOptions(this.cfg.tls),
    };
    const client = connect(this.cfg.url, options);
    this.client = client;
    let connected = false;
    client.on('connect', guard(this.logger, 'alert publisher connect handler', () => {
      if (!connected) this.logger.info({ url: this.cfg.url, client_id: this.clientId }, 'alert publisher connected to the external broker');
      connected = true;
    }));
    client.on('close', guard(this.logger, 'alert publisher close handler', () => {
      if (connected) this.logger.warn({ url: this.cfg.url }, 'alert publisher lost the external broker; mqtt notifications wait in the outbox');
      connected = false;
    }));
    // guard-audit: logs the error; mqtt.js keeps reconnecting on its own
    client.on('error', (err) => this.logger.debug({ err: err.message }, 'alert publisher broker error'));
  }

  publish(topic: string, payload: Buffer, opts: { qos: 1; retain: boolean }): Promise<void> {
    return publishConfirmed(this.client, topic, payload, opts, 'alert publish', `the external broker ${this.cfg.url}`);
  }

  async stop(): Promise<void> {
    const client = this.client;
    this.client = undefined;
    if (!client) return;
    await Promise.race([new Promise<void>((resolve) => client.end(false, {}, () => resolve())), new Promise((r) => setTimeout(r, 2000).unref())]);
    if (!client.disconnected) client.end(true);
  }
}
