// The delivery worker's test harness: a worker over an outbox (MemoryOutbox unless one is given) with fast
// retries and its log captured, real webhook receivers, and a notifier that answers from a script. Every
// worker and receiver made through useWorkerHarness() is stopped after each test. Test-only: imports vitest.
import { Writable } from 'node:stream';
import { afterEach } from 'vitest';
import { createLogger, MetricsRegistry, type Logger } from '@tidemark/shared';
import type { AlertTransition } from '../../alert-types.js';
import { DeliveryWorker, type DeliveryWorkerOptions } from '../delivery-worker.js';
import type { DeliveryResult, Notifier, Outbox } from '../notifier.js';
import { WebhookNotifier } from '../webhook-notifier.js';
import { MemoryOutbox } from './memory-outbox.js';
import { makeTransition } from './transition-fixture.js';
import { WebhookReceiver } from './webhook-receiver.js';

export const SECRET = 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw';
export const FAST_RETRY = { baseMs: 10, capMs: 50, horizonMs: 60_000 };

export interface Harness<O extends Outbox> {
  worker: DeliveryWorker;
  outbox: O;
  metrics: MetricsRegistry;
  logger: Logger;
  logs: Record<string, unknown>[];
}

export type HarnessOptions<O extends Outbox> = Partial<Omit<DeliveryWorkerOptions, 'outbox' | 'notifiers'>> & { outbox?: O };

/** A logger whose JSON lines land in `logs`. */
export function capturedLogger(): { logger: Logger; logs: Record<string, unknown>[] } {
  const logs: Record<string, unknown>[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      for (const line of chunk.toString().split('\n')) if (line.trim()) logs.push(JSON.parse(line) as Record<string, unknown>);
      done();
    },
  });
  return { logger: createLogger({ name: 'test', destination: sink }), logs };
}

export function useWorkerHarness() {
  const cleanup: (() => Promise<void>)[] = [];
  afterEach(async () => {
    for (const c of cleanup.splice(0).reverse()) await c();
  });
  return {
    /** Runs after the test (last registered, first run). */
    onCleanup: (c: () => Promise<void>) => cleanup.push(c),
    harness<O extends Outbox = MemoryOutbox>(notifiers: Notifier[], opts: HarnessOptions<O> = {}): Harness<O> {
      const { logger, logs } = capturedLogger();
      const outbox = opts.outbox ?? (new MemoryOutbox() as unknown as O);
      const metrics = opts.metrics ?? new MetricsRegistry('tidemark_cloud');
      const worker = new DeliveryWorker({ logger, metrics, retry: FAST_RETRY, pollIntervalMs: 20, gaugeIntervalMs: 0, ...opts, outbox, notifiers });
      cleanup.push(() => worker.stop());
      return { worker, outbox, metrics, logger, logs };
    },
    async receiver(): Promise<WebhookReceiver> {
      const r = await WebhookReceiver.start({ secret: SECRET });
      cleanup.push(() => r.close());
      return r;
    },
  };
}

/** `n` transitions of one rule, each its own alert series. */
export function transitions(n: number, overrides: Partial<AlertTransition> = {}): AlertTransition[] {
  return Array.from({ length: n }, (_, i) => makeTransition({ device: `oven-${i}`, ...overrides }));
}

export const webhook = (name: string, r: WebhookReceiver) => new WebhookNotifier({ name, url: r.url, secret: SECRET, timeoutMs: 2_000 });

/** A notifier answering from a script, counting sends in flight. */
export class ScriptedNotifier implements Notifier {
  calls: string[] = [];
  inFlight = 0;
  constructor(
    readonly name: string,
    private readonly answer: (t: AlertTransition, call: number) => DeliveryResult | Promise<DeliveryResult>,
    private readonly shared?: { now: number; max: number },
  ) {}
  async send(t: AlertTransition): Promise<DeliveryResult> {
    this.calls.push(t.id);
    this.inFlight += 1;
    if (this.shared) this.shared.max = Math.max(this.shared.max, ++this.shared.now);
    try {
      return await this.answer(t, this.calls.length);
    } finally {
      this.inFlight -= 1;
      if (this.shared) this.shared.now -= 1;
    }
  }
}
