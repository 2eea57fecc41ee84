import { describe, expect, it } from 'vitest';
import { clockCheck } from './clock-check.js';
import { doctorConfig } from './test-support/doctor-config.js';

const NOW = Date.parse('2025-06-01T12:00:00Z');
const cfg = (sync_check: 'auto' | 'assume_synced' | 'never_synced') => doctorConfig('/tmp', { clock: { sync_check, min_plausible_time: '2024-01-01T00:00:00Z' } });
const at = (iso: string) => () => Date.parse(iso);

describe('clockCheck', () => {
  it('auto: passes when NTP is synchronised', async () => {
    const c = await clockCheck(cfg('auto'), async () => true, () => NOW);
    expect(c).toMatchObject({ name: 'clock', status: 'pass', detail: 'sync_check auto; NTP synchronised; wall clock 2025-06-01T12:00:00.000Z' });
  });

  it('auto: warns when timedatectl says NTP is not synchronised', async () => {
    const c = await clockCheck(cfg('auto'), async () => false, () => NOW);
    expect(c.status).toBe('warn');
    expect(c.detail).toContain('NTP not synchronised');
    expect(c.hint).toContain('timedatectl');
  });

  it('auto: without timedatectl a plausible clock passes, as the agent treats it', async () => {
    const c = await clockCheck(cfg('auto'), async () => undefined, () => NOW);
    expect(c).toMatchObject({ status: 'pass', detail: expect.stringContaining('timedatectl unavailable') });
  });

  it('auto: a wall clock before min_plausible_time fails even if NTP claims sync', async () => {
    const c = await clockCheck(cfg('auto'), async () => true, at('1970-01-01T00:05:00Z'));
    expect(c.status).toBe('fail');
    expect(c.detail).toContain('is before clock.min_plausible_time 2024-01-01T00:00:00.000Z');
  });

  it('assume_synced passes with a plausible clock and fails without one', async () => {
    expect((await clockCheck(cfg('assume_synced'), async () => false, () => NOW)).status).toBe('pass');
    const c = await clockCheck(cfg('assume_synced'), async () => true, at('2000-01-01T00:00:00Z'));
    expect(c).toMatchObject({ status: 'fail', detail: expect.stringContaining('marked as trusted') });
  });

  it('never_synced warns: nothing will be aggregated', async () => {
    const c = await clockCheck(cfg('never_synced'), async () => true, () => NOW);
    expect(c).toMatchObject({ status: 'warn', detail: expect.stringContaining('every reading is marked unsynced') });
  });

  it('uses timedatectl by default without hanging', async () => {
    const c = await clockCheck(cfg('auto'));
    expect(['pass', 'warn']).toContain(c.status);
  });
});
