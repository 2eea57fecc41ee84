// The config of alert notifications, to plug into the cloud config's `alerts` section: `alerts.notify` (the
// notifiers) and `alerts.delivery` (the worker's concurrency and retry schedule), strict, with defaults.
// Notifier names key the outbox rows, so they must survive edits of the list: a webhook is named after its
// URL (`webhook:<host><path>`) unless given a `name`, never after its position — reordering or removing an
// entry leaves every other webhook's pending notifications where they were.
import { evenWithIssues, reportDuplicates, z, zDuration, zInt, zString, zUrl } from '@tidemark/shared/config';
import type { RetrySchedule } from './retry-schedule.js';

const notifierName = zString('a notifier name').regex(/^[A-Za-z0-9][A-Za-z0-9._:/-]{0,127}$/, {
  error: 'expected letters, digits, ".", "_", ":", "/", "-" (up to 128, starting with a letter or digit)',
});

export const webhookNotifySchema = z.strictObject({
  type: z.literal('webhook'),
  url: zUrl(['http', 'https']),
  /** `whsec_<base64>` or any other string (its UTF-8 bytes), usually `${TIDEMARK_WEBHOOK_SECRET}`. */
  secret: zString('a signing secret (whsec_<base64>, or any string)'),
  /** Per-request timeout. */
  timeout: zDuration({ min: 100, max: 120_000 }).prefault('10s'),
  name: notifierName.optional(),
});

export const mqttNotifySchema = z.strictObject({
  type: z.literal('mqtt'),
  name: notifierName.optional(),
  /**
   * External broker only, for an aggregator role without the collector's broker connection: the user its own
   * publishing client logs in as (default broker.username). A broker with use_username_as_clientid needs a
   * user of its own here, or this client and the collector's would take each other's session over.
   */
  username: z.string().min(1).optional(),
  password: z.string().optional(),
});

export const notifyEntrySchema = z.discriminatedUnion('type', [webhookNotifySchema, mqttNotifySchema]);

export const notifyListSchema = z
  .array(notifyEntrySchema)
  .superRefine((entries, ctx) => {
    const names = entries.map((e, i) => (e && typeof e === 'object' && 'type' in e ? notifyEntryName(e, i) : undefined));
    reportDuplicates(ctx, names, 'notifier name', (i) => [i, 'name'], (i) => `alerts.notify[${i}]; set a distinct name`);
    names.forEach((n, i) => {
      if (n === 'log') ctx.addIssue({ code: 'custom', input: n, path: [i, 'name'], message: '"log" is the name of the built-in log notifier' });
    });
  }, evenWithIssues)
  .default([]);

export const deliverySchema = z
  .strictObject({
    /** Notifications in flight at most, over all notifiers. */
    concurrency: zInt({ min: 1, max: 256 }).default(8),
    retry_base: zDuration({ min: 1 }).prefault('1s'),
    retry_cap: zDuration({ min: 1 }).prefault('5m'),
    /** A notification still undelivered this long after its transition is failed. */
    retry_horizon: zDuration({ min: 1 }).prefault('24h'),
  })
  .superRefine((d, ctx) => {
    if (typeof d.retry_base === 'number' && typeof d.retry_cap === 'number' && d.retry_cap < d.retry_base) {
      ctx.addIssue({ code: 'custom', input: d.retry_cap, path: ['retry_cap'], message: 'must be at least retry_base' });
    }
  }, evenWithIssues)
  .prefault({});

export type WebhookNotifyConfig = z.output<typeof webhookNotifySchema>;
export type MqttNotifyConfig = z.output<typeof mqttNotifySchema>;
export type NotifyEntryConfig = z.output<typeof notifyEntrySchema>;
export type DeliveryConfig = z.output<typeof deliverySchema>;

/** The notifier name an entry's outbox rows carry: its `name`, else `webhook:<host><path>` or `mqtt`. */
export function notifyEntryName(entry: { type: string; name?: string | undefined; url?: unknown }, _index: number): string | undefined {
  if (entry.name !== undefined) return entry.name;
  if (entry.type === 'mqtt') return 'mqtt';
  if (entry.type !== 'webhook' || typeof entry.url !== 'string') return undefined;
  try {
    const u = new URL(entry.url);
    return `webhook:${u.host}${u.pathname === '/' ? '' : u.pathname}`;
  } catch {
    return undefined;
  }
}

export function retryScheduleOf(d: DeliveryConfig): RetrySchedule {
  return { baseMs: d.retry_base, capMs: d.retry_cap, horizonMs: d.retry_horizon };
}
