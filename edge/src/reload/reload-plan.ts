// What a reload may change while the agent runs. Sources, transforms, batch limits, the log level and the
// uplink (reconnected: unacked batches are resent with the same bytes, the collector de-duplicates) are
// applied live. The rest is refused with a reason, and then nothing of the new file is taken (a reload is all
// or nothing): device.id and data_dir name the buffer and its stream; buffer, clock and status settings
// belong to the open buffer, its guards and a listening port — changing them needs a restart, which the
// delivery contract already makes lossless (unacked batches stay in the buffer and are resent).
import type { ConfigIssue } from '@tidemark/shared';
import type { EdgeConfig } from '../config.js';
import type { SourceChanges } from '../sources/source-set.js';

/** What a reload did, as the agent reports it (and `tidemark-edge reload` prints). */
export type ReloadOutcome =
  | { taken: true; sources: SourceChanges; transforms_changed: boolean; uplink_restarted: boolean }
  | { taken: false; errors: ConfigIssue[] };

const RESTART = 'restart the agent to change it (a restart loses nothing: unacked batches stay buffered)';

const REFUSED: { key: keyof EdgeConfig; why: string }[] = [
  { key: 'device', why: `device.id names the buffer's stream and the MQTT identity; ${RESTART}` },
  { key: 'data_dir', why: `data_dir holds the buffer this agent has open; ${RESTART}` },
  { key: 'buffer', why: `buffer settings are not reloaded; ${RESTART}` },
  { key: 'clock', why: `clock settings are not reloaded; ${RESTART}` },
  { key: 'status', why: `the status listener is not reloaded; ${RESTART}` },
];

/** The changes in `next` that a live reload refuses, one issue per top-level key (empty: reloadable). */
export function refusedChanges(current: EdgeConfig, next: EdgeConfig): ConfigIssue[] {
  const issues: ConfigIssue[] = [];
  for (const { key, why } of REFUSED) {
    if (JSON.stringify(current[key]) !== JSON.stringify(next[key])) {
      const path = key === 'device' ? 'device.id' : key;
      issues.push({ path, message: `cannot be changed by a reload: ${why}` });
    }
  }
  return issues;
}
