// StartWhenAvailable: a resource unreachable at start is a state (reported, retried with backoff, started by
// itself, one log line per change), refused credentials and other errors still fail start(), and stop()
// never leaves a part started behind. start-failure.ts's classification of real error shapes too.
import { Writable } from 'node:stream';
import { createLogger, MetricsRegistry, NotConnectedError, StorageError, type Component } from '@tidemark/shared';
import { waitFor } from '@tidemark/shared/testing';
import { describe, expect, it } from 'vitest';
import { ResourceHealth } from './resource-health.js';
import { classifyStartFailure, LastStartFailure } from './start-failure.js';
import { StartWhenAvailable } from './start-when-available.js';

function capture() {
  const lines: { msg: string; resource?: string }[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _enc, cb) {
      for (const l of chunk.toString().split('\n').filter(Boolean)) lines.push(JSON.parse(l));
      cb();
    },
  });
  return { lines, logger: createLogger({ name: 'swa-test', level: 'info', destination: stream }) };
}

/** A part whose start fails with `errors` in turn, then succeeds. */
function flaky(errors: unknown[]): Component & { starts: number; stops: number; running: boolean } {
  const part = {
    name: 'part',
    starts: 0,
    stops: 0,
    running: false,
    async start() {
      part.starts += 1;
      const err = errors.shift();
      if (err !== undefined) throw err;
      part.running = true;
    },
    async stop() {
      part.stops += 1;
      part.running = false;
    },
  };
  return part;
}

function setup(parts: Component[]) {
  const { lines, logger } = capture();
  const health = new ResourceHealth(logger, new MetricsRegistry('tidemark_cloud'), { initialMs: 1, maxMs: 5 });
  const reporter = health.reporter('aggregate-store');
  const group = new StartWhenAvailable({ parts, health: reporter, refused: (err) => new Error(`config: ${(err as Error).message}`) });
  return { lines, health, reporter, group };
}

const refused = () => new NotConnectedError('cannot connect', { cause: Object.assign(new Error('password authentication failed for user "x"'), { code: '28P01' }) });
const unreachable = () => new NotConnectedError('cannot connect', { cause: Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:1'), { code: 'ECONNREFUSED' }) });

describe('StartWhenAvailable', () => {
  it('starts degraded when the resource is unreachable, retries with backoff and starts by itself', async () => {
    const part = flaky([unreachable(), unreachable(), unreachable()]);
    const after = flaky([]);
    const { lines, health, reporter, group } = setup([part, after]);
    await group.start();
    expect(group.running).toBe(false);
    expect(after.starts).toBe(0); // what needs the resource waits for it
    expect(health.failing().map((f) => f.resource)).toEqual(['aggregate-store']);
    expect(health.failing()[0]!.reason).toMatch(/cannot connect/);
    await waitFor(() => group.running, { timeoutMs: 5_000, description: 'group started' });
    expect(part.starts).toBe(4);
    expect(after.running).toBe(true);
    expect(reporter.failing).toBe(false);
    expect(lines.filter((l) => /aggregate-store failing/.test(l.msg))).toHaveLength(1);
    expect(lines.filter((l) => /aggregate-store recovered/.test(l.msg))).toHaveLength(1);
    await group.stop();
    expect(after.running).toBe(false);
    expect(part.running).toBe(false);
  });

  it('refused credentials at start are the caller\'s error; anything else is thrown as is', async () => {
    const a = setup([flaky([refused()])]);
    await expect(a.group.start()).rejects.toThrow(/^config: cannot connect/);
    expect(a.health.failing()).toEqual([]);
    const b = setup([flaky([new StorageError('schema "x" is not a Tidemark aggregate store')])]);
    await expect(b.group.start()).rejects.toThrow(/not a Tidemark aggregate store/);
  });

  it('once up, a refusal on a later attempt is shown and retried, never thrown', async () => {
    const part = flaky([unreachable(), refused(), refused()]);
    const { health, group } = setup([part]);
    await group.start();
    await waitFor(() => group.running, { timeoutMs: 5_000, description: 'group started' });
    expect(part.starts).toBe(4);
    expect(health.failing()).toEqual([]);
    await group.stop();
  });

  it('stop() while waiting: no part starts afterwards', async () => {
    const part = flaky(Array.from({ length: 1000 }, unreachable));
    const { group } = setup([part]);
    await group.start();
    await waitFor(() => part.starts >= 3, { timeoutMs: 5_000, description: 'a few attempts' });
    await group.stop();
    const starts = part.starts;
    await new Promise((r) => setImmediate(r));
    expect(part.starts).toBeLessThanOrEqual(starts + 1);
    expect(part.running).toBe(false);
    expect(part.stops).toBe(0);
  });
});

describe('classifyStartFailure', () => {
  const pg = (code: string, message = code) => Object.assign(new Error(message), { code });
  it.each([
    [pg('ECONNREFUSED'), 'unavailable'],
    [pg('57P03', 'the database system is starting up'), 'unavailable'],
    [pg('08006'), 'unavailable'],
    [new Error('timeout expired'), 'unavailable'],
    [new NotConnectedError('x', { cause: pg('CONNECTION_REFUSED') }), 'unavailable'],
    [new StorageError('stream store: x', { cause: pg('503', 'no responders') }), 'unavailable'],
    [new NotConnectedError('x', { cause: pg('28P01', 'password authentication failed') }), 'refused-credentials'],
    [new NotConnectedError('x', { cause: pg('3D000', 'database "nope" does not exist') }), 'refused-credentials'],
    [new NotConnectedError('x', { cause: pg('AUTHORIZATION_VIOLATION') }), 'refused-credentials'],
    [new StorageError('permission denied for database', { cause: pg('42501') }), 'other'],
    [new Error('boom'), 'other'],
  ] as const)('%s → %s', (err, kind) => {
    expect(classifyStartFailure(err)).toBe(kind);
  });
});

describe('LastStartFailure', () => {
  it('says why a store is not open until a start succeeds', async () => {
    const last = new LastStartFailure();
    expect(last.notOpen('the store')).toBeUndefined();
    await expect(last.track(async () => Promise.reject(new Error('connect ECONNREFUSED')))).rejects.toThrow('ECONNREFUSED');
    const err = last.notOpen('the store')!;
    expect(err).toBeInstanceOf(NotConnectedError);
    expect(err.message).toBe('the store is not open yet: connect ECONNREFUSED');
    await last.track(async () => undefined);
    expect(last.notOpen('the store')).toBeUndefined();
  });
});
