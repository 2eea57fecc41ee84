// Builds the notifiers of `alerts.notify` (plus the built-in log notifier) from validated config: the one
// place that knows which class serves which `type`. Names come from notifyEntryName, so they match the
// outbox rows written for earlier configs of the same endpoints.
import { ConfigError, type Logger } from '@tidemark/shared';
import { LogNotifier } from './log-notifier.js';
import { MqttAlertNotifier, type MqttPublish } from './mqtt-notifier.js';
import type { Notifier } from './notifier.js';
import { notifyEntryName, type NotifyEntryConfig } from './notify-config.js';
import { WebhookNotifier } from './webhook-notifier.js';

export interface NotifierFactoryDeps {
  logger: Logger;
  /** The broker connection's QoS 1 publish; required when an `mqtt` notifier is configured. */
  publish?: MqttPublish;
  /** Add the `log` notifier (one info line per transition). Default true. */
  log?: boolean;
}

/** `log` first (when enabled), then the configured notifiers in order. */
export function createNotifiers(entries: readonly NotifyEntryConfig[], deps: NotifierFactoryDeps): Notifier[] {
  const notifiers: Notifier[] = [];
  if (deps.log ?? true) notifiers.push(new LogNotifier({ logger: deps.logger }));
  entries.forEach((entry, i) => {
    const name = notifyEntryName(entry, i)!;
    switch (entry.type) {
      case 'webhook':
        notifiers.push(new WebhookNotifier({ name, url: entry.url, secret: entry.secret, timeoutMs: entry.timeout }));
        break;
      case 'mqtt':
        if (!deps.publish) {
          throw new ConfigError([{ path: `alerts.notify[${i}]`, message: 'an mqtt notifier needs a broker connection: this role runs none (run it with the collector role, or use broker.mode external)' }]);
        }
        notifiers.push(new MqttAlertNotifier({ name, publish: deps.publish }));
        break;
    }
  });
  return notifiers;
}
