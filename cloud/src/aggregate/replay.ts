// `tidemark-cloud replay`: rebuilds every aggregate from the stream store into a fresh aggregate store, then
// switches over atomically, keeping the previous store (SQLite: aggregates.db.pre-replay-<time>; PostgreSQL:
// schema <schema>_pre_replay_<time>; see replay-targets.ts). Processing is a pure function of stream order,
// so the result equals what the live aggregator computed.
// With --from, buckets before the (largest-resolution-aligned) boundary are copied and only later ones are
// rebuilt. The stream may have been trimmed by retention, so watermarks, sensor catalogue and unaggregated
// tally cannot be rebuilt from it: the replay folds up to the live store's checkpoint, takes the live store's
// values there (exactly what folding from offset 1 gives at that offset), then folds the rest. Folding before
// that point with only the remaining records is exact for the rebuilt buckets as long as the trimmed readings
// all lie before the boundary (a watermark below the boundary cannot make a bucket after it late); seeding
// the watermarks before folding would not be: every rebuilt bucket would look late and gain a revision.
// Retention (aggregation.retention) applies to the result, copied buckets included.
// The aggregator must not be running: it would keep writing the old store.
import { existsSync } from 'node:fs';
import { createLogger, MetricsRegistry, PermanentError, type Logger } from '@tidemark/shared';
import { replayAlerts, type AlertReplayResult } from '../alerts/alert-replay.js';
import { deviceTagSource } from '../devices/device-tag-source.js';
import type { CloudConfig } from '../config.js';
import { openStreamStore } from '../store/open-stream-store.js';
import { PartitionedStreamStore } from '../store/partitioned-stream-store.js';
import { SqliteStreamStore } from '../store/sqlite-stream-store.js';
import type { StreamRecord, StreamStore } from '../store/stream-store.js';
import { Aggregator, type Resolution } from './aggregator.js';
import { bucketStart } from './bucket-stats.js';
import type { AggregatesConfig } from './open-aggregate-store.js';
import { replayTarget } from './replay-targets.js';

export { aggregatorPidFile } from './open-aggregate-store.js';

export interface ReplayResult {
  /** The alert history's rebuild (full replays with alert rules and an alert store), else undefined. */
  alerts?: AlertReplayResult;
  records: number;
  seconds: number;
  from: string | null;
  copiedBuckets: number;
  /** Where the previous store was kept (a file path, or "PostgreSQL schema <name>"); null if there was none. */
  previous: string | null;
}

export interface ReplayOptions {
  /** The stream store (SQLite file) to fold, unless `streams` is given. */
  streamPath?: string;
  /** The stream store (its partitions), unstarted: replay starts and stops it. Default: the SQLite file at streamPath. */
  streams?: () => PartitionedStreamStore;
  /** The aggregate store to rebuild. */
  aggregates: AggregatesConfig;
  /** Where the SQLite backend keeps its file (data_dir/aggregates.db); unused for PostgreSQL. */
  sqlitePath: string;
  resolutions: readonly Resolution[];
  allowedLatenessMs: number;
  maxFutureSkewMs: number;
  /** Per resolution label: how long buckets are kept (config.aggregation.retention); absent or null = forever. */
  retention?: Readonly<Record<string, number | null>>;
  /** Rebuild only buckets from this time on (ms since epoch; aligned down to the largest resolution). */
  from?: number;
  logger?: Logger;
  now?: () => Date;
  /** Called after each chunk with the stream records folded so far (progress output for long replays). */
  onProgress?: (records: number) => void;
}

/** The CLI's entry: a replay of the configured stores (files under data_dir), alerts included. */
export async function replay(
  config: CloudConfig,
  files: { stream: string; aggregates: string; alerts?: string },
  opts: { from?: number; logger?: Logger; now?: () => Date } = {},
): Promise<ReplayResult> {
  const logger = opts.logger ?? createLogger({ name: 'tidemark-cloud', level: config.log.level });
  const result = await replayStores(config, files, { ...opts, logger });
  // A --from replay rebuilds part of the aggregates only; the alert history is rebuilt by full replays.
  if (opts.from === undefined && files.alerts !== undefined && config.alerts.rules.length > 0) {
    const source = config.store.type === 'jetstream' ? openStreamStore(config.store, { sqlitePath: files.stream, readOnly: true }) : openStreams({ streamPath: files.stream });
    await source.start();
    try {
      const alerts = await replayAlerts({
        alerts: config.alerts,
        path: files.alerts,
        streams: source.partitions,
        allowedLatenessMs: config.aggregation.allowed_lateness,
        maxFutureSkewMs: config.ingest.max_future_skew,
        logger,
        tags: deviceTagSource(config.auth.devices_file, logger.child({ component: 'device-tags' })),
        ...(opts.now ? { now: opts.now } : {}),
      });
      if (alerts) result.alerts = alerts;
    } finally {
      await source.stop();
    }
  }
  return result;
}

async function replayStores(
  config: CloudConfig,
  files: { stream: string; aggregates: string },
  opts: { from?: number; logger: Logger; now?: () => Date },
): Promise<ReplayResult> {
  const store = config.store;
  return replayAggregates({
    streamPath: files.stream,
    // JetStream: the configured partitions, read-only (the SQLite file at streamPath otherwise).
    ...(store.type === 'jetstream' ? { streams: () => openStreamStore(store, { sqlitePath: files.stream, readOnly: true }) } : {}),
    aggregates: config.aggregates,
    sqlitePath: files.aggregates,
    resolutions: config.aggregation.resolutions,
    allowedLatenessMs: config.aggregation.allowed_lateness,
    maxFutureSkewMs: config.ingest.max_future_skew,
    retention: config.aggregation.retention,
    ...opts,
  });
}

export async function replayAggregates(o: ReplayOptions): Promise<ReplayResult> {
  const logger = o.logger ?? createLogger({ name: 'tidemark-cloud', level: 'info' });
  const target = replayTarget(o.aggregates, o.sqlitePath, o.now?.() ?? new Date(), logger.child({ component: 'replay' }));
  const claim = await target.claim();
  try {
    return await rebuild(o, target, logger);
  } finally {
    await claim.release();
  }
}

function openStreams(o: Pick<ReplayOptions, 'streams' | 'streamPath'>): PartitionedStreamStore {
  if (o.streams) return o.streams();
  if (o.streamPath === undefined) throw new PermanentError('replay needs a stream store');
  if (!existsSync(o.streamPath)) throw new PermanentError(`no stream store at ${o.streamPath}: nothing to replay`);
  return new PartitionedStreamStore([new SqliteStreamStore({ path: o.streamPath, readonly: true })]);
}

async function rebuild(o: ReplayOptions, target: ReturnType<typeof replayTarget>, logger: Logger): Promise<ReplayResult> {
  const largest = Math.max(...o.resolutions.map((r) => r.ms));
  const boundary = o.from === undefined ? undefined : bucketStart(o.from, largest);

  const started = performance.now();
  const source = openStreams(o);
  const streams = source.partitions;
  let copiedBuckets = 0;
  let records = 0;
  let opened = false;
  try {
    await source.start(); // all partitions, or none (and their shared connection closed)
    opened = true;
    for (const [p, s] of streams.entries()) {
      if (boundary !== undefined) break;
      // Trimmed: the first record is past offset 1, or there is none although offsets were handed out.
      const first = (await s.read(1, 1))[0]?.offset ?? ((await s.endOffset()) > 1 ? await s.endOffset() : undefined);
      if (first !== undefined && first > 1) {
        const where = streams.length > 1 ? ` (partition ${p} starts at offset ${first})` : ` (it starts at offset ${first})`;
        throw new PermanentError(
          `the stream store was trimmed by retention${where}: a full replay would drop the older aggregates; ` +
            'use --from TIME to rebuild only buckets whose readings are still in the stream',
        );
      }
    }
    const store = await target.openFresh();
    try {
      const metrics = new MetricsRegistry('tidemark_cloud');
      // Where each partition ended when the replay began: the rebuild must reach it. (A JetStream read served
      // by a replica still catching up can come back short; it is not the end of the stream.)
      const ends = await Promise.all(streams.map((s) => s.endOffset()));
      const fold = async (source: readonly StreamStore[], complete = false): Promise<Aggregator> => {
        const aggregator = new Aggregator(
          source,
          store,
          {
            resolutions: o.resolutions,
            allowedLatenessMs: o.allowedLatenessMs,
            maxFutureSkewMs: o.maxFutureSkewMs,
            chunkRecords: 2000,
            ...(boundary !== undefined ? { bucketsFrom: boundary } : {}),
            ...(o.retention ? { retention: o.retention } : {}),
            ...(o.now ? { now: () => o.now!().getTime() } : {}),
          },
          logger.child({ component: 'replay' }),
          metrics,
        );
        const deadline = Date.now() + 30_000;
        for (;;) {
          for (let n = await aggregator.step(); n > 0; n = await aggregator.step()) {
            records += n;
            o.onProgress?.(records);
          }
          if (!complete) return aggregator;
          const behind: number[] = [];
          for (const [p, end] of ends.entries()) if ((await store.checkpoint(p)) < end) behind.push(p);
          if (behind.length === 0) return aggregator;
          if (Date.now() > deadline) {
            throw new PermanentError(`replay could not read partition(s) ${behind.join(', ')} of the stream store up to their end; nothing was switched over`);
          }
          await new Promise((resolve) => setTimeout(resolve, 200));
        }
      };
      if (boundary !== undefined) {
        copiedBuckets = await target.copyLiveBucketsBefore(boundary);
        const live = await target.liveCheckpoints();
        if (live !== undefined) {
          // A partition the live aggregator never read has checkpoint 1: nothing of it to fold first.
          await fold(streams.map((s, p) => new StreamPrefix(s, live.get(p) ?? 1)));
          await target.adoptLiveState();
        }
      }
      const aggregator = await fold(streams, true);
      await aggregator.trimExpired();
    } catch (err) {
      await target.discard();
      throw err;
    }
  } finally {
    if (opened) await source.stop();
  }

  const previous = await target.switchOver();
  const seconds = (performance.now() - started) / 1000;
  return { records, seconds, from: boundary === undefined ? null : new Date(boundary).toISOString(), copiedBuckets, previous };
}

/** The stream's records below `end`, read-only: a --from replay's fold up to the live checkpoint. */
class StreamPrefix implements StreamStore {
  readonly name = 'stream-prefix';
  constructor(
    private readonly stream: StreamStore,
    private readonly end: number,
  ) {}

  async start(): Promise<void> {}
  async stop(): Promise<void> {}

  async read(fromOffset: number, limit: number): Promise<StreamRecord[]> {
    if (fromOffset >= this.end) return [];
    return (await this.stream.read(fromOffset, Math.min(limit, this.end - fromOffset))).filter((r) => r.offset < this.end);
  }

  async endOffset(): Promise<number> {
    return Math.min(this.end, await this.stream.endOffset());
  }

  append(): never {
    throw new PermanentError('a replay does not write the stream store');
  }

  deadLetter(): never {
    throw new PermanentError('a replay does not write the stream store');
  }

  trim(): never {
    throw new PermanentError('a replay does not write the stream store');
  }
}
