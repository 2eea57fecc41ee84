// The names of the notifiers an outbox row can be for: the built-in `log` notifier, then alerts.notify by
// notifyEntryName (a webhook is named after its URL unless given a name, so editing the list leaves other
// endpoints' pending rows alone). createNotifiers (notify/notifier-factory.ts) builds them under these names.
import { notifyEntryName, type NotifyEntryConfig } from './notify/notify-config.js';

export function notifierNames(entries: readonly NotifyEntryConfig[]): string[] {
  return ['log', ...entries.map((e, i) => notifyEntryName(e, i)!)];
}
