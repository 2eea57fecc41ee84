// Writes one info line per alert transition to the collector's log: the notifier that always works, so an
// operator reading logs sees every transition even when no webhook or MQTT subscriber is configured.
import type { Logger } from '@tidemark/shared';
import type { AlertTransition } from '../alert-types.js';
import type { DeliveryResult, Notifier } from './notifier.js';

export interface LogNotifierOptions {
  /** The notifier makes its own child (`component: 'alerts'`). */
  logger: Logger;
  /** Default `log`. */
  name?: string;
}

export class LogNotifier implements Notifier {
  readonly name: string;
  private readonly log: Logger;

  constructor(opts: LogNotifierOptions) {
    this.name = opts.name ?? 'log';
    this.log = opts.logger.child({ component: 'alerts' });
  }

  async send(t: AlertTransition): Promise<DeliveryResult> {
    const series = t.sensor === null ? t.device : `${t.device}/${t.sensor}`;
    this.log.info(
      {
        transition: t.id,
        alert: t.alert_id,
        rule: t.rule,
        device: t.device,
        sensor: t.sensor,
        severity: t.severity,
        state: t.state,
        previous: t.previous,
        value: t.value,
        event_time: t.event_time,
        late: t.late,
      },
      `alert ${t.rule} ${series}: ${t.previous} -> ${t.state}${t.message ? ` (${t.message})` : ''}`,
    );
    return { kind: 'delivered' };
  }
}
