// The stream's consumer seam: reads every partition of the stream store from a checkpoint, one chunk of one
// partition at a time (round robin), and hands each chunk to a processor that commits its own state and the
// partition's next offset in ONE transaction, fenced on the offset the chunk was read from. A crash anywhere
// resumes from the committed checkpoints; a fencing failure (another writer moved the checkpoint, or a replay
// swapped the store) makes the consumer re-read its checkpoints instead of double-counting.
//
// The aggregator and the alert evaluator are two such consumers. Each keeps its own checkpoints; stream
// retention trims only below the lowest of them (store/retention.ts `consumedBelow`).
import { settleWithin, type Logger } from '@tidemark/shared';
import type { ResourceReporter } from '../health/resource-health.js';
import type { StreamRecord, StreamStore } from '../store/stream-store.js';
import type { SharedReads } from './shared-reads.js';

/** How long stop() waits for the step in flight (the whole shutdown has 10 s). */
const STOP_WAIT_MS = 2000;

export interface ChunkProcessor {
  /** The offset of `partition` the processor has committed up to (the next one to read). */
  checkpoint(partition: number): Promise<number>;
  /**
   * Folds `records` and commits the result with `next` as the partition's checkpoint, only if the stored
   * checkpoint still equals `expectedOffset` (else it must throw and write nothing).
   */
  process(partition: number, records: readonly StreamRecord[], expectedOffset: number, next: number): Promise<void>;
  /** Called when caught up, and at most once per idle period (retention, lag gauges …). Optional. */
  idle?(offsets: readonly number[]): Promise<void>;
  /** Called before every step (housekeeping between chunks). Optional. */
  beforeStep?(): Promise<void>;
}

export interface StreamConsumerOptions {
  /**
   * Resource health: a failed stream read is reported on `stream`, a failed checkpoint load or commit on
   * `store`; while either fails, the loop backs off (ingest wake-ups do not cut the wait short).
   */
  health?: { stream: ResourceReporter; store: ResourceReporter };
  /** Stream records per chunk (default 500). */
  chunkRecords?: number;
  /** Poll interval when caught up and nobody notifies (default 200 ms). */
  idleMs?: number;
  /**
   * When caught up and woken by new records, wait this long before reading (default 0): the records that
   * arrive meanwhile (other devices' batches) are processed in the same chunk, i.e. one transaction instead of
   * one per record — at the price of this much latency.
   */
  settleMs?: number;
  /**
   * Reads shared with the process's other consumers (shared-reads.ts): a record one of them read lately is
   * served from memory, already decoded. Absent: every read goes to the store.
   */
  sharedReads?: SharedReads;
}

export class StreamConsumer {
  readonly streams: readonly StreamStore[];
  /** Per partition, the next offset to read; loaded from the processor's checkpoints. */
  private offsets: number[] | undefined;
  private nextPartition = 0;
  private running = false;
  private loop: Promise<void> | undefined;
  private wake: (() => void) | undefined;

  constructor(
    stream: StreamStore | readonly StreamStore[],
    private readonly processor: ChunkProcessor,
    private readonly opts: StreamConsumerOptions,
    private readonly logger: Logger,
    private readonly what = 'stream consumer',
  ) {
    this.streams = Array.isArray(stream) ? stream : [stream as StreamStore];
  }

  /** The offsets the consumer will read next (undefined before the first load). */
  get position(): readonly number[] | undefined {
    return this.offsets;
  }

  async loadOffsets(): Promise<number[]> {
    const offsets: number[] = [];
    for (let p = 0; p < this.streams.length; p++) offsets.push(await this.processor.checkpoint(p));
    this.offsets = offsets;
    return offsets;
  }

  async start(): Promise<void> {
    const offsets = await this.loadOffsets();
    this.running = true;
    this.logger.info({ offsets }, `${this.what} resuming from checkpoint`);
    this.loop = this.run();
  }

  /** Wakes the loop now (the in-process collector calls this after each ingest commit). */
  notify(): void {
    this.wake?.();
  }

  private async run(): Promise<void> {
    while (this.running) {
      let n = 0;
      let waitMs = this.opts.idleMs ?? 200;
      let backoff = false;
      try {
        await this.processor.beforeStep?.();
        n = await this.step();
      } catch (err) {
        const h = this.opts.health;
        const failed = h ? (h.stream.failing ? h.stream : h.store.failing ? h.store : undefined) : undefined;
        if (failed) {
          // Backing off (the reporter logged the state change): ingest wake-ups do not cut this wait short.
          waitMs = Math.max(waitMs, failed.nextDelayMs());
          backoff = true;
        } else this.logger.error({ err }, `${this.what} step failed; retrying from the committed checkpoint`);
      }
      if (n === 0 && this.running) {
        const woken = await new Promise<boolean>((resolve) => {
          const t = setTimeout(() => resolve(false), waitMs);
          this.wake = () => {
            if (backoff && this.running) return;
            clearTimeout(t);
            resolve(true);
          };
        });
        this.wake = undefined;
        const settleMs = this.opts.settleMs ?? 0;
        if (woken && settleMs > 0 && this.running) {
          // Further wake-ups add nothing (their records are read when this ends); stop() ends it at once.
          await new Promise<void>((resolve) => {
            const t = setTimeout(resolve, settleMs);
            this.wake = () => {
              if (this.running) return;
              clearTimeout(t);
              resolve();
            };
          });
          this.wake = undefined;
        }
      }
    }
  }

  /**
   * Processes one chunk of the first partition (round robin) that has records; returns the number of stream
   * records consumed (0: every partition is caught up).
   */
  async step(): Promise<number> {
    // Without start() (replay, tests) this must still resume from the checkpoint, never re-fold from 1.
    const h = this.opts.health;
    let offsets = this.offsets;
    if (!offsets) {
      try {
        offsets = await this.loadOffsets();
      } catch (err) {
        h?.store.fail(err);
        throw err;
      }
      h?.store.ok();
    }
    const n = this.streams.length;
    for (let k = 0; k < n; k++) {
      const p = (this.nextPartition + k) % n;
      let records: StreamRecord[];
      try {
        const limit = this.opts.chunkRecords ?? 500;
        const shared = this.opts.sharedReads;
        records = shared ? await shared.read(this.streams[p]!, offsets[p]!, limit) : await this.streams[p]!.read(offsets[p]!, limit);
      } catch (err) {
        h?.stream.fail(err);
        throw err;
      }
      h?.stream.ok();
      if (records.length === 0) continue;
      this.nextPartition = (p + 1) % n;
      const next = records[records.length - 1]!.offset + 1;
      try {
        await this.processor.process(p, records, offsets[p]!, next);
      } catch (err) {
        // The processor's checkpoints are the truth (another writer may have moved them): read them again.
        this.offsets = undefined;
        h?.store.fail(err);
        throw err;
      }
      h?.store.ok();
      offsets[p] = next;
      return records.length;
    }
    await this.processor.idle?.(offsets);
    return 0;
  }

  /** Drains the stream to its current end (replay and tests). */
  async drain(): Promise<void> {
    while ((await this.step()) > 0) {
      /* keep going */
    }
  }

  async stop(): Promise<void> {
    this.running = false;
    this.wake?.();
    // A step blocked on an unreachable store (a request waiting out its timeout) is left behind: it has not
    // committed, its commit is atomic, and the next start resumes from the checkpoint.
    if (!(await settleWithin(this.loop, STOP_WAIT_MS))) this.logger.warn(`stopping while a ${this.what} step is still waiting on the stores`);
  }
}
