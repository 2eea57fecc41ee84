// How each source looks in /status: a state word, and for line-based sources the parse error count and the
// last few refused lines. Sources expose what they know (`connected`, `recentErrors()`); this reads it.
import { counterValue, type MetricsRegistry } from '@tidemark/shared';
import type { RecentError } from '../sources/serial/recent-errors.js';
import type { Source } from '../sources/source.js';
import type { SourceStatus } from './status-document.js';
import { sourceParseErrors } from '../sources/source-metrics.js';

interface Observable {
  readonly connected?: unknown;
  recentErrors?: () => RecentError[];
  readonly lineIdleAtOpen?: unknown;
}

export async function sourceStatuses(sources: readonly Source[], metrics: MetricsRegistry): Promise<SourceStatus[]> {
  return Promise.all(
    sources.map(async (s): Promise<SourceStatus> => {
      const o = s as Source & Observable;
      const state = typeof o.connected === 'boolean' ? (o.connected ? 'open' : 'disconnected') : 'running';
      if (typeof o.recentErrors !== 'function') return { name: s.name, type: s.type, state };
      // Same name, help and labels as the sources register, so this returns their counter.
      const errors = sourceParseErrors(metrics);
      const status: SourceStatus = { name: s.name, type: s.type, state, parse_errors: await counterValue(errors, { source: s.name }), recent_parse_errors: o.recentErrors() };
      if (typeof o.lineIdleAtOpen === 'boolean') status.line_idle_at_open = o.lineIdleAtOpen;
      return status;
    }),
  );
}
