import { describe, expect, it } from 'vitest';
import { TimeoutError } from '../errors/index.js';
import { waitFor } from './wait-for.js';

describe('waitFor', () => {
  it('returns the first truthy value the check produces', async () => {
    let calls = 0;
    const value = await waitFor(() => (++calls >= 3 ? { calls } : undefined), { intervalMs: 1 });
    expect(value).toEqual({ calls: 3 });
  });

  it('accepts async checks and narrows booleans', async () => {
    let n = 0;
    const ok: true = await waitFor(async () => ++n > 2, { intervalMs: 1 });
    expect(ok).toBe(true);
  });

  it('keeps polling through thrown errors', async () => {
    let calls = 0;
    const value = await waitFor(
      () => {
        calls++;
        if (calls < 4) throw new Error(`not yet ${calls}`);
        return 'done';
      },
      { intervalMs: 1 },
    );
    expect(value).toBe('done');
  });

  it('throws TimeoutError naming the wait and the last error', async () => {
    let calls = 0;
    const err = await waitFor(
      () => {
        calls++;
        throw new Error(`boom ${calls}`);
      },
      { timeoutMs: 300, intervalMs: 10, description: 'the answer' },
    ).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(TimeoutError);
    expect((err as TimeoutError).code).toBe('TIMEOUT');
    expect((err as TimeoutError).message).toBe(`timed out after 300 ms waiting for the answer; last error: boom ${calls}`);
    expect(calls).toBeGreaterThan(2);
  });

  it('uses the default description and the default 10 s deadline text', async () => {
    const err = await waitFor(() => false, { timeoutMs: 30 }).catch((e: unknown) => e);
    expect((err as Error).message).toBe('timed out after 30 ms waiting for condition');
  });

  it('does not let a check that never settles outlive the deadline', async () => {
    const started = Date.now();
    const err = await waitFor(() => new Promise<boolean>(() => {}), { timeoutMs: 100, description: 'a hung check' }).catch(
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(TimeoutError);
    expect((err as Error).message).toBe('timed out after 100 ms waiting for a hung check; the last check was still pending');
    expect(Date.now() - started).toBeLessThan(2_000);
  });
});
