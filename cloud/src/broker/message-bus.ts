// What the collector needs from MQTT, whichever broker carries it: batches and status messages in, acks out.
// The embedded broker (aedes) and an external broker (Mosquitto, via an MQTT client) both implement it.
import type { Component } from '@tidemark/shared';

export type MessageHandler = (device: string, payload: Uint8Array) => void;

export interface MessageBus extends Component {
  onBatch(handler: MessageHandler): void;
  onStatus(handler: MessageHandler): void;
  /** QoS 1 publish of an ack to `tidemark/v1/<device>/ack`. */
  publishAck(device: string, payload: Uint8Array): Promise<void>;
  /** The collector's own QoS 1 publish (alert notifications on `tidemark/v1/alerts/…`), bounded in time. */
  publish(topic: string, payload: Buffer, opts: { qos: 1; retain: boolean }): Promise<void>;
}
