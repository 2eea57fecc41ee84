// guard(): neither a synchronous throw nor a rejection of a callback reaches the event loop; both reach the
// sink, named; no unhandled rejection is left behind.
import { afterEach, describe, expect, it } from 'vitest';
import { guard, safeInterval, safeTimeout } from './guard.js';

const escaped: unknown[] = [];
const onEscape = (err: unknown) => escaped.push(err);
afterEach(() => {
  process.off('unhandledRejection', onEscape);
  escaped.length = 0;
});

const settle = () => new Promise((r) => setTimeout(r, 20));

describe('guard', () => {
  it('turns a throw and a rejection into one call of the sink each', async () => {
    process.on('unhandledRejection', onEscape);
    const seen: [string, string][] = [];
    const sink = (err: unknown, what: string) => seen.push([what, (err as Error).message]);
    guard(sink, 'sync timer', () => {
      throw new Error('database or disk is full');
    })();
    guard(sink, 'async timer', async () => {
      throw new Error('connection refused');
    })();
    await settle();
    expect(seen).toEqual([
      ['sync timer', 'database or disk is full'],
      ['async timer', 'connection refused'],
    ]);
    expect(escaped).toEqual([]);
  });

  it('passes arguments through, and a logger works as the sink', async () => {
    const logged: object[] = [];
    const logger = { error: (obj: object) => logged.push(obj) };
    const got: unknown[] = [];
    guard(logger, 'handler', (a: number, b: string) => {
      got.push(a, b);
      throw new Error('boom');
    })(1, 'x');
    expect(got).toEqual([1, 'x']);
    expect(logged).toHaveLength(1);
    expect(logged[0]).toMatchObject({ callback: 'handler' });
  });

  it('a sink that throws is swallowed too', () => {
    const f = guard(() => {
      throw new Error('sink broken');
    }, 'x', () => {
      throw new Error('first');
    });
    expect(() => f()).not.toThrow();
  });

  it('safeInterval keeps ticking after failures and never overlaps a slow tick', async () => {
    const errors: unknown[] = [];
    let running = 0;
    let maxRunning = 0;
    let calls = 0;
    const t = safeInterval((e) => errors.push(e), 'tick', 2, async () => {
      calls++;
      running++;
      maxRunning = Math.max(maxRunning, running);
      await new Promise((r) => setTimeout(r, 10));
      running--;
      throw new Error('still failing');
    });
    await new Promise((r) => setTimeout(r, 80));
    clearInterval(t);
    expect(calls).toBeGreaterThan(2);
    expect(maxRunning).toBe(1);
    expect(errors.length).toBeGreaterThan(1);
    const fired: string[] = [];
    safeTimeout((_, what) => fired.push(what), 'once', 1, () => {
      throw new Error('x');
    });
    await settle();
    expect(fired).toEqual(['once']);
  });
});
