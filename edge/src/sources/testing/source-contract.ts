// The contract every source passes (after the OpenTelemetry Collector's generated lifecycle tests):
// start resolves, readings arrive through the sink with valid names and finite values, stop is
// idempotent, and nothing reaches the sink after stop resolved. A source test calls
// `describeSourceContract` with a harness that knows how to make its source produce input.
import { afterEach, describe, expect, it } from 'vitest';
import { isValidName } from '@tidemark/proto';
import { createLogger, MetricsRegistry } from '@tidemark/shared';
import { waitFor } from '@tidemark/shared/testing';
import type { Source, SourceContext, SourceReading } from '../source.js';

export interface SourceHarness {
  source: Source;
  /** Makes the source's input produce at least one reading (write a line to the pty, toggle a line…). */
  stimulate(): Promise<void>;
  /** Releases whatever the harness started (pty pairs, fake chips). */
  cleanup(): Promise<void>;
}

export interface RecordingContext extends SourceContext {
  readings: SourceReading[];
}

export function recordingContext(): RecordingContext {
  const readings: SourceReading[] = [];
  return {
    readings,
    sink: (batch) => {
      readings.push(...batch);
    },
    logger: createLogger({ name: 'source-test', level: 'silent' }),
    metrics: new MetricsRegistry('tidemark_edge'),
    now: () => Date.now(),
  };
}

export function describeSourceContract(name: string, make: (ctx: RecordingContext) => Promise<SourceHarness>): void {
  describe(`source contract: ${name}`, () => {
    let harness: SourceHarness | undefined;
    afterEach(async () => {
      await harness?.source.stop();
      await harness?.cleanup();
      harness = undefined;
    });

    it('starts, delivers valid readings through the sink, and stops', async () => {
      const ctx = recordingContext();
      harness = await make(ctx);
      await harness.source.start();
      await harness.stimulate();
      await waitFor(() => ctx.readings.length > 0, { description: `${name} delivers a reading` });
      for (const r of ctx.readings) {
        expect(isValidName(r.sensor), `sensor name ${r.sensor}`).toBe(true);
        expect(Number.isFinite(r.value), `value ${r.value}`).toBe(true);
        if (r.ts !== undefined) expect(Number.isSafeInteger(r.ts)).toBe(true);
      }
      await harness.source.stop();
    });

    it('stop is idempotent and nothing reaches the sink after it resolved', async () => {
      const ctx = recordingContext();
      harness = await make(ctx);
      await harness.source.start();
      await harness.source.stop();
      await harness.source.stop();
      const count = ctx.readings.length;
      await harness.stimulate().catch(() => undefined);
      // Give a misbehaving source the chance to deliver: wait for a later, unrelated timer round.
      await new Promise((r) => setImmediate(r));
      await new Promise((r) => setTimeout(r, 50));
      expect(ctx.readings.length).toBe(count);
    });

    it('stop without start is harmless', async () => {
      const ctx = recordingContext();
      harness = await make(ctx);
      await harness.source.stop();
      expect(ctx.readings).toEqual([]);
    });
  });
}
