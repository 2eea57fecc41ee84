import { describe, expect, it } from 'vitest';
import { RECENT_LINE_CHARS, RecentErrors } from './recent-errors.js';

describe('RecentErrors', () => {
  it('keeps the last entries, oldest first, with ISO times', () => {
    const r = new RecentErrors(3);
    expect(r.list()).toEqual([]);
    for (let i = 1; i <= 5; i++) r.record(Date.UTC(2024, 4, 1, 0, 0, i), 'not_a_number', `line ${i}`);
    expect(r.list()).toEqual([
      { at: '2024-05-01T00:00:03.000Z', reason: 'not_a_number', line: 'line 3' },
      { at: '2024-05-01T00:00:04.000Z', reason: 'not_a_number', line: 'line 4' },
      { at: '2024-05-01T00:00:05.000Z', reason: 'not_a_number', line: 'line 5' },
    ]);
  });

  it('shortens long lines', () => {
    const r = new RecentErrors();
    r.record(0, 'bad_json', 'x'.repeat(1000));
    const [entry] = r.list();
    expect(entry!.line).toHaveLength(RECENT_LINE_CHARS);
    expect(entry!.line.endsWith('…')).toBe(true);
  });
});
