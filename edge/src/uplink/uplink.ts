// The uplink family's contract: the agent's link to the collector. MqttUplink is the implementation; tests
// inject others through UplinkFactory (uplink-slot.ts). A link only moves bytes and says when it is up: which batches to send,
// resend or delete is the sender's business, and only the collector's ack (delivered through
// UplinkEvents.onAck) frees a batch — a resolved publish() is transport-level (PUBACK) only.
import type { DeviceStatus, UplinkEvents } from './mqtt-uplink.js';

export type { DeviceStatus, UplinkEvents };

export interface Uplink {
  readonly connected: boolean;
  /** Begins connecting (and reconnecting by the edge's policy); resolves without waiting for the link. */
  start(): Promise<void>;
  /** QoS 1 publish; rejects with NotConnectedError while the link is down. */
  publish(topic: string, payload: Uint8Array | string, retain?: boolean): Promise<void>;
  /** Closes the link, publishing `finalStatus` (retained) first when it can, within a bound. */
  stop(finalStatus?: DeviceStatus): Promise<void>;
}

export type { UplinkFactory, UplinkSettings } from './uplink-slot.js';
