import { describe, expect, it } from 'vitest';
import { createLogger } from '@tidemark/shared';
import { ConfigError, validateConfig, z } from '@tidemark/shared/config';
import { MqttAlertNotifier } from './mqtt-notifier.js';
import { createNotifiers } from './notifier-factory.js';
import { deliverySchema, notifyListSchema, retryScheduleOf } from './notify-config.js';
import { WebhookNotifier } from './webhook-notifier.js';

const schema = z.strictObject({ notify: notifyListSchema, delivery: deliverySchema });
const issues = (doc: unknown): string[] => {
  try {
    validateConfig(doc, schema);
    return [];
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    return err.issues.map((i) => `${i.path}: ${i.message}`);
  }
};

describe('alerts.notify and alerts.delivery config', () => {
  it('defaults: no notifiers; 8 in flight, 1 s / 5 min / 24 h', () => {
    const c = validateConfig({}, schema);
    expect(c.notify).toEqual([]);
    expect(c.delivery).toEqual({ concurrency: 8, retry_base: 1_000, retry_cap: 300_000, retry_horizon: 86_400_000 });
    expect(retryScheduleOf(c.delivery)).toEqual({ baseMs: 1_000, capMs: 300_000, horizonMs: 86_400_000 });
  });

  it('takes the SPEC example and names webhooks after their URL', () => {
    const c = validateConfig(
      { notify: [{ type: 'webhook', url: 'https://ops.example/hooks/tidemark?token=x', secret: 's3cret' }, { type: 'mqtt' }] },
      schema,
    );
    const notifiers = createNotifiers(c.notify, { logger: createLogger({ name: 't', level: 'silent' }), publish: async () => undefined });
    expect(notifiers.map((n) => n.name)).toEqual(['log', 'webhook:ops.example/hooks/tidemark', 'mqtt']);
    expect(notifiers[1]).toBeInstanceOf(WebhookNotifier);
    expect((notifiers[1] as WebhookNotifier).url).toBe('https://ops.example/hooks/tidemark?token=x');
    expect(notifiers[2]).toBeInstanceOf(MqttAlertNotifier);
  });

  it('reports every problem with its path', () => {
    expect(
      issues({
        notify: [
          { type: 'webhook', url: 'ftp://x', secret: '' },
          { type: 'webhook', url: 'https://a.example/h', secret: 's', retries: 3 },
          { type: 'webhook', url: 'https://a.example/h', secret: 's' },
          { type: 'sms' },
        ],
        delivery: { concurrency: 0, retry_base: '10m', retry_cap: '1m' },
      }).sort(),
    ).toEqual([
      'delivery.concurrency: expected an integer from 1 to 256',
      'delivery.retry_cap: must be at least retry_base',
      'notify[0].secret: expected a signing secret (whsec_<base64>, or any string)',
      'notify[0].url: expected a http:// or https:// URL, got "ftp://x"',
      'notify[1].retries: unknown key "retries"',
      'notify[2].name: duplicate notifier name "webhook:a.example/h" (also alerts.notify[1]; set a distinct name)',
      'notify[3].type: expected one of webhook | mqtt, got "sms"',
    ]);
  });

  it('an mqtt notifier without a broker connection is a config error', () => {
    const c = validateConfig({ notify: [{ type: 'mqtt' }] }, schema);
    expect(() => createNotifiers(c.notify, { logger: createLogger({ name: 't', level: 'silent' }) })).toThrow(/alerts\.notify\[0\]: an mqtt notifier needs a broker connection: this role runs none/);
  });
});
