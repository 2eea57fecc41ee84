// The MQTT link to the collector: connect (client id = username = device id), a retained status message
// and a will that says offline, the ack subscription, QoS 1 publishes, and reconnect by the edge's one
// reconnect policy (runner/backoff.ts). It knows nothing about batches' lifecycle: the sender owns that.
import { connect, type IClientOptions, type MqttClient } from 'mqtt';
import { topics } from '@tidemark/proto';
import { clientTlsOptions, guard, NotConnectedError, type Component, type Logger } from '@tidemark/shared';
import type { EdgeConfig } from '../config.js';
import { Backoff } from '../runner/backoff.js';

const STOP_STATUS_TIMEOUT_MS = 2000;

/**
 * mqtt.js logs through the `debug` package (DEBUG=mqttjs*); switched off, each of its many calls per packet
 * still builds an array of its arguments: ~75 KB/s of garbage at 10 batches/s, a young-generation page fault
 * every 4 KiB on a VM (issue 12). So a no-op log, unless DEBUG asks for mqtt.js's own.
 */
const mqttLog = /(?:^|[\s,])(?:mqttjs|\*)/.test(process.env.DEBUG ?? '') ? undefined : () => undefined;

export interface DeviceStatus {
  online: boolean;
  agent_version: string;
  backlog_readings: number;
  oldest_buffered_time: string | null;
  clock_synced: boolean;
  /** Readings this buffer gave up so far (buffer full, too old, unsaved at shutdown …): the sum of `buffer stats` drops. */
  dropped_readings: number;
  stream_id?: string;
  at: string;
}

export interface UplinkEvents {
  onConnect(): void;
  onDisconnect(reason: string): void;
  onAck(payload: Uint8Array): void;
}

export class MqttUplink implements Component {
  readonly name = 'uplink';
  private client: MqttClient | undefined;
  private readonly backoff: Backoff;
  private reconnectTimer: NodeJS.Timeout | undefined;
  private stopping = false;
  private isConnected = false;

  constructor(
    private readonly cfg: EdgeConfig['uplink'],
    private readonly deviceId: string,
    private readonly offlineStatus: () => DeviceStatus,
    private readonly events: UplinkEvents,
    private readonly logger: Logger,
  ) {
    this.backoff = new Backoff({ minMs: cfg.reconnect_min_ms, maxMs: cfg.reconnect_max_ms });
  }

  get connected(): boolean {
    return this.isConnected;
  }

  async start(): Promise<void> {
    const tls = this.cfg.tls;
    const options: IClientOptions = {
      clientId: this.deviceId,
      username: this.cfg.username ?? this.deviceId,
      password: this.cfg.password,
      keepalive: this.cfg.keepalive_s,
      protocolVersion: 4,
      // A clean session: every unacked batch is resent from the buffer after a reconnect (app-level acks
      // decide delivery), so a broker-side session would only add duplicate resends.
      clean: true,
      reconnectPeriod: 0, // we reconnect ourselves, with jittered backoff
      connectTimeout: 10_000,
      resubscribe: true,
      will: {
        topic: topics.status(this.deviceId),
        payload: Buffer.from(JSON.stringify(this.offlineStatus())),
        qos: 1,
        retain: true,
      },
      ...clientTlsOptions(tls),
      ...(mqttLog ? { log: mqttLog } : {}),
    };
    const client = connect(this.cfg.url, options);
    this.client = client;
    client.on('connect', guard(this.logger, 'uplink connect handler', () => {
      this.backoff.reset();
      this.isConnected = true;
      this.logger.info({ url: this.cfg.url }, 'connected to collector');
      client.subscribe(topics.ack(this.deviceId), { qos: 1 }, (err) => {
        if (err) this.logger.error({ err }, 'ack subscription failed');
        else this.events.onConnect();
      });
    }));
    // The ack handler deletes acked batches from the buffer: a failure there (disk full) must not end the agent.
    client.on(
      'message',
      guard(this.logger, 'uplink ack handler', (topic: string, payload: Buffer) => {
        if (topic === topics.ack(this.deviceId)) this.events.onAck(new Uint8Array(payload));
      }),
    );
    client.on('error', (err) => {
      // One warning per outage; the retries that follow are debug (the state is in the status and metrics).
      if (this.backoff.attempts <= 1) this.logger.warn({ err: err.message }, 'uplink error; retrying with backoff');
      else this.logger.debug({ err: err.message, attempt: this.backoff.attempts }, 'uplink error');
    });
    client.on('close', guard(this.logger, 'uplink close handler', () => {
      const was = this.isConnected;
      this.isConnected = false;
      try {
        if (was && !this.stopping) this.events.onDisconnect('connection closed');
      } finally {
        this.scheduleReconnect();
      }
    }));
  }

  private scheduleReconnect(): void {
    if (this.stopping || this.reconnectTimer) return;
    const delay = this.backoff.next();
    this.logger.debug({ delay, attempt: this.backoff.attempts }, 'reconnecting');
    this.reconnectTimer = setTimeout(guard(this.logger, 'uplink reconnect timer', () => {
      this.reconnectTimer = undefined;
      if (!this.stopping) this.client?.reconnect();
    }), delay);
  }

  /** QoS 1 publish; resolves on PUBACK. PUBACK is not delivery: only the collector's ack frees a batch. */
  publish(topic: string, payload: Uint8Array | string, retain = false): Promise<void> {
    const client = this.client;
    if (!client || !this.isConnected) return Promise.reject(new NotConnectedError('not connected to the collector'));
    return new Promise((resolve, reject) => {
      client.publish(topic, Buffer.from(payload), { qos: 1, retain }, (err) => (err ? reject(err) : resolve()));
    });
  }

  async stop(finalStatus?: DeviceStatus): Promise<void> {
    this.stopping = true;
    if (this.reconnectTimer) clearTimeout(this.reconnectTimer);
    const client = this.client;
    if (!client) return;
    if (finalStatus && this.isConnected) {
      // Bounded: a dead link must not hold the shutdown past its 10 s promise.
      const published = this.publish(topics.status(this.deviceId), JSON.stringify(finalStatus), true).catch(() => undefined);
      await Promise.race([published, new Promise((r) => setTimeout(r, STOP_STATUS_TIMEOUT_MS).unref())]);
    }
    // Forced: batches still in flight need no PUBACK — unacked ones stay in the buffer for the next start.
    await new Promise<void>((resolve) => client.end(true, {}, () => resolve()));
    this.isConnected = false;
  }
}
