// Publishes each alert transition to `tidemark/v1/alerts/<rule>/<device>` (QoS 1, retained), so a subscriber
// sees every transition live and, on subscribing, the current state of each (rule, device). Invariant: the
// retained message never goes back in event time — a transition older than the one already retained on its
// topic (a retry that lost a race) is still published, but not retained. One topic per (rule, device): a
// device-level rule and a sensor-level rule differ by name, and a rule watches one sensor, so the topic's
// retained message is that series' current state (the payload's `sensor` says which).
import type { AlertTransition } from '../alert-types.js';
import type { DeliveryResult, Notifier } from './notifier.js';
import { transitionPayload } from './transition-payload.js';

export type MqttPublish = (topic: string, payload: Buffer, opts: { qos: 1; retain: boolean }) => Promise<void>;

export interface MqttAlertNotifierOptions {
  /** QoS 1 publish through the collector's broker connection (embedded aedes or external). */
  publish: MqttPublish;
  /** Default `mqtt`. */
  name?: string;
}

const TOPIC_LEVEL = /^[^/+#\u0000]+$/;

export function alertTopic(rule: string, device: string): string {
  return `tidemark/v1/alerts/${rule}/${device}`;
}

export class MqttAlertNotifier implements Notifier {
  readonly name: string;
  private readonly publish: MqttPublish;
  /** Per topic, the event time (ms) of the newest transition retained by this process. */
  private readonly retained = new Map<string, number>();

  constructor(opts: MqttAlertNotifierOptions) {
    this.name = opts.name ?? 'mqtt';
    this.publish = opts.publish;
  }

  async send(transition: AlertTransition): Promise<DeliveryResult> {
    if (!TOPIC_LEVEL.test(transition.rule) || !TOPIC_LEVEL.test(transition.device)) {
      return { kind: 'rejected', error: `rule "${transition.rule}" or device "${transition.device}" cannot be an MQTT topic level` };
    }
    const topic = alertTopic(transition.rule, transition.device);
    const at = Date.parse(transition.event_time);
    const newest = this.retained.get(topic);
    const retain = newest === undefined || !(at < newest);
    try {
      await this.publish(topic, Buffer.from(transitionPayload(transition)), { qos: 1, retain });
    } catch (err) {
      return { kind: 'retry', error: err instanceof Error ? err.message : String(err) };
    }
    if (retain && Number.isFinite(at)) this.retained.set(topic, at);
    return { kind: 'delivered' };
  }
}
