import { describe, expect, it } from 'vitest';
import { MetricsRegistry } from '@tidemark/shared';
import type { Source } from '../sources/source.js';
import { sourceStatuses } from './source-status.js';

function source(name: string, type: string, extra: object = {}): Source {
  return Object.assign({ name, type, start: async () => undefined, stop: async () => undefined }, extra);
}

describe('sourceStatuses', () => {
  it('reads connected, parse errors and recent errors where a source has them', async () => {
    const metrics = new MetricsRegistry('tidemark_edge');
    const errors = metrics.counter('source_parse_errors_total', 'Lines or values refused by a source, by reason', ['source', 'reason']);
    errors.inc({ source: 'plc', reason: 'wrong_field_count' }, 2);
    errors.inc({ source: 'plc', reason: 'not_a_number' });
    errors.inc({ source: 'other', reason: 'not_a_number' }, 5);
    const recent = [{ at: '2025-01-01T00:00:00.000Z', reason: 'not_a_number', line: 'x,1' }];
    const statuses = await sourceStatuses(
      [
        source('plc', 'serial', { connected: true, recentErrors: () => recent }),
        source('gps', 'serial', { connected: false, recentErrors: () => [] }),
        source('sim', 'simulated'),
      ],
      metrics,
    );
    expect(statuses).toEqual([
      { name: 'plc', type: 'serial', state: 'open', parse_errors: 3, recent_parse_errors: recent },
      { name: 'gps', type: 'serial', state: 'disconnected', parse_errors: 0, recent_parse_errors: [] },
      { name: 'sim', type: 'simulated', state: 'running' },
    ]);
  });
});
