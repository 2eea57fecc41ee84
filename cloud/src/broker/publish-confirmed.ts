// A QoS 1 publish through an mqtt.js client that settles within a bound: confirmed (PUBACK), refused, or
// NotConnectedError when the client is not connected or the broker does not confirm within 5 s — so a
// broker that went away never stalls the caller (ingest acks, alert notifications), which retries.
import type { MqttClient } from 'mqtt';
import { NotConnectedError } from '@tidemark/shared';

const PUBLISH_TIMEOUT_MS = 5000;

export function publishConfirmed(client: MqttClient | undefined, topic: string, payload: Buffer, opts: { qos: 1; retain: boolean }, what: string, broker: string): Promise<void> {
  if (!client?.connected) return Promise.reject(new NotConnectedError(`not connected to ${broker}`));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new NotConnectedError(`${what} not confirmed by ${broker} within 5 s`)), PUBLISH_TIMEOUT_MS);
    client.publish(topic, payload, { qos: opts.qos, retain: opts.retain }, (err) => {
      clearTimeout(timer);
      if (err) reject(err);
      else resolve();
    });
  });
}
