// The edge runner: owns the clock, the buffer's group commit, sealing, the uplink and the sender.
// Sources only produce readings; everything about durability and delivery happens here.
// Order on stop: stop sources (no new input) → final commit → final status → close link → close buffer.
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { isValidName, topics } from '@tidemark/proto';
import { createLogger, guard, MetricsRegistry, RateLimitedLogger, tally, type Logger, type Tally } from '@tidemark/shared';
import { BufferGuard } from './buffer/buffer-guard.js';
import { openBuffer } from './buffer/recovery.js';
import type { BatchEncoder, BufferedReading, EdgeBuffer } from './buffer/edge-buffer.js';
import { Clock } from './clock.js';
import type { EdgeConfig } from './config.js';
import { refusedChanges, type ReloadOutcome } from './reload/reload-plan.js';
import { SourceSet } from './sources/source-set.js';
import { batchEncoder, clockStepReencoder } from './runner/batch-encoding.js';
import { CommitLoop } from './runner/commit-loop.js';
import { TransformPipeline } from './transforms/pipeline.js';
import { RemovalTally } from './transforms/removal-tally.js';
import type { SourceReading } from './sources/source.js';
import { MqttUplink, type DeviceStatus } from './uplink/mqtt-uplink.js';
import { UplinkSlot, type UplinkFactory } from './uplink/uplink-slot.js';
import { BatchSender } from './uplink/sender.js';
import type { StatusServer } from './status/status-server.js';
import type { AgentStatusDocument } from './status/status-document.js';
import { sourceStatuses } from './status/source-status.js';
import { AGENT_VERSION } from './version.js';

/** How long a clean stop waits for outstanding acks (well inside the 10 s shutdown promise). */
const SHUTDOWN_DRAIN_MS = 3000;
const STATUS_INTERVAL_S = 10;
const EXPIRE_INTERVAL_S = 60;

export interface AgentOptions {
  logger?: Logger;
  metrics?: MetricsRegistry;
  /** The buffer (owned by the agent from now on: it closes it). Default: data_dir/buffer.db, with corrupt-file recovery. */
  buffer?: EdgeBuffer;
  /** Makes the link to the collector. Default: MqttUplink with the config's uplink settings. */
  uplink?: UplinkFactory;
}

export class Agent {
  readonly logger: Logger;
  readonly metrics: MetricsRegistry;
  readonly buffer: EdgeBuffer;
  private readonly guard: BufferGuard;
  private readonly clock: Clock;
  private readonly sources: SourceSet;
  private readonly uplink: UplinkSlot;
  /** Read by the sender on every pump: a reload of `uplink` updates it in place. */
  private readonly senderOptions: { maxInflight: number; ackTimeoutMs: number };
  private readonly sender: BatchSender;
  /** Group commit, sealing, early send (runner/commit-loop.ts). */
  readonly commits: CommitLoop;
  private pumpTimer: NodeJS.Timeout | undefined;
  private firstSeqThisRun = 1;
  private statusServer: StatusServer | undefined;
  private running = false;
  private readonly counters;
  /** Per source: its readings_* counts on the hot path (tally(): no label hashing per call). */
  private readonly sourceTallies = new Map<string, { handed: Tally; received: Tally }>();
  private readonly encode: BatchEncoder;
  /** Replaced as a whole on reload; read once per accept call. */
  private transforms: TransformPipeline;
  private readonly removals: RemovalTally;

  /** The running config: replaced as a whole by a reload. */
  private cfg: EdgeConfig;

  constructor(config: EdgeConfig, opts: AgentOptions = {}) {
    this.cfg = config;
    this.logger = opts.logger ?? createLogger({ name: 'tidemark-edge', level: config.log.level });
    this.metrics = opts.metrics ?? new MetricsRegistry('tidemark_edge');
    this.counters = {
      sourceReadings: this.metrics.counter('source_readings_total', 'Readings each source handed to the agent, before validation and transforms', ['source']),
      received: this.metrics.counter('readings_received_total', 'Readings accepted from sources', ['source']),
      invalid: this.metrics.counter('readings_invalid_total', 'Readings refused before buffering, by reason', ['source', 'reason']),
      committed: this.metrics.counter('readings_committed_total', 'Readings durably committed to the buffer'),
      sealed: this.metrics.counter('batches_sealed_total', 'Batches sealed (written, or sent before any write)'),
      sentUnwritten: this.metrics.counter('batches_sent_before_write_total', 'Batches sealed from the commit queue and sent before any write (buffer.persist: unacked)'),
      writtenLate: this.metrics.counter('batches_written_after_send_total', 'Batches sent before any write and then written: no ack before their commit deadline'),
      backlog: this.metrics.gauge('buffer_readings', 'Readings in the buffer (pending and sealed)'),
      removed: this.metrics.counter('transform_removed_total', 'Readings a transform removed on purpose, by transform and reason', ['transform', 'reason']),
      corrected: this.metrics.counter('readings_clock_corrected_total', 'Buffered readings re-stamped when the wall clock became synchronised'),
    };
    this.transforms = TransformPipeline.build(config.transforms ?? []);
    this.removals = new RemovalTally(this.counters.removed);
    this.clock = new Clock({ syncCheck: config.clock.sync_check, minPlausibleTime: config.clock.min_plausible_time });
    this.sources = new SourceSet(
      (s) => ({
        sink: (readings) => this.accept(s.name, readings),
        logger: this.logger.child({ component: 'source', source: s.name }),
        metrics: this.metrics,
        now: () => this.clock.now(),
      }),
      this.logger.child({ component: 'sources' }),
    );
    this.sources.create(config.sources);
    mkdirSync(config.data_dir, { recursive: true });
    const opened = opts.buffer ? { buffer: opts.buffer, recovered: undefined } : openBuffer({ path: join(config.data_dir, 'buffer.db'), deviceId: config.device.id });
    this.buffer = opened.buffer;
    this.encode = batchEncoder(config.device.id, this.buffer.streamId, () => this.clock.anchor);
    if (opened.recovered) {
      this.logger.error(
        { moved_to: opened.recovered.movedTo, reason: opened.recovered.reason, stream: this.buffer.streamIdHex },
        'BUFFER DATABASE WAS CORRUPT: moved aside, a new stream begins; readings in the old file were not sent',
      );
      this.metrics.counter('buffer_recoveries_total', 'Corrupt buffer databases moved aside at start').inc();
    }
    this.guard = new BufferGuard(
      this.buffer,
      { maxBytes: config.buffer.max_bytes, maxAgeMs: config.buffer.max_age, onFull: config.buffer.on_full },
      this.logger.child({ component: 'buffer' }),
      this.metrics,
    );
    const makeUplink: UplinkFactory =
      opts.uplink ?? ((settings, events, offline) => new MqttUplink(settings, config.device.id, offline, events, this.logger.child({ component: 'uplink' })));
    this.uplink = new UplinkSlot(
      makeUplink,
      config.uplink,
      {
        onConnect: () => {
          this.sender.reset();
          void this.publishStatus(true);
          void this.sender.pump();
        },
        onDisconnect: (reason) => {
          this.logger.warn({ reason }, 'disconnected from collector; buffering');
          this.sender.reset();
        },
        onAck: (payload) => {
          this.sender.handleAck(payload);
          this.commits.acked();
          void this.sender.pump();
        },
      },
      () => this.status(false),
    );
    this.sender = new BatchSender(
      this.buffer,
      this.uplink,
      (this.senderOptions = { maxInflight: config.uplink.max_inflight, ackTimeoutMs: config.uplink.ack_timeout_ms }),
      this.logger.child({ component: 'sender' }),
      this.metrics,
    );
    this.commits = new CommitLoop({
      buffer: this.buffer,
      guard: this.guard,
      encode: this.encode,
      sender: this.sender,
      linkUp: () => this.uplink.connected,
      config: () => this.cfg,
      now: () => this.clock.now(),
      errors: new RateLimitedLogger(this.logger, 10_000),
      counters: {
        committed: tally(this.counters.committed),
        sealed: tally(this.counters.sealed),
        sentUnwritten: tally(this.counters.sentUnwritten),
        writtenLate: tally(this.counters.writtenLate),
      },
      readSources: () => this.sources.readNow(),
    });
  }

  get config(): EdgeConfig {
    return this.cfg;
  }

  /**
   * Applies a validated config to the running agent: sources and transforms that changed restart (unchanged
   * ones keep running, with their state), batch limits and the log level take effect; the buffer, its stream
   * and batches in flight are never touched. A change a reload cannot make refuses the whole file
   * (reload/reload-plan.ts); the running config then stays as it was.
   */
  async reload(next: EdgeConfig): Promise<ReloadOutcome> {
    if (!this.running) return { taken: false, errors: [{ path: '', message: 'the agent is not running (starting or stopping)' }] };
    const refused = refusedChanges(this.cfg, next);
    if (refused.length > 0) return { taken: false, errors: refused };
    const transformsChanged = JSON.stringify(this.cfg.transforms ?? []) !== JSON.stringify(next.transforms ?? []);
    const uplinkChanged = JSON.stringify(this.cfg.uplink) !== JSON.stringify(next.uplink);
    // Transforms first, so a source started by this reload never sees the old chain.
    this.transforms = TransformPipeline.build(next.transforms ?? [], this.transforms);
    this.cfg = next;
    this.logger.level = next.log.level;
    this.commits.reconfigured(); // batch.max_delay_ms may have changed
    if (uplinkChanged) {
      this.senderOptions.maxInflight = next.uplink.max_inflight;
      this.senderOptions.ackTimeoutMs = next.uplink.ack_timeout_ms;
      await this.uplink.replace(next.uplink);
    }
    const sources = await this.sources.apply(next.sources);
    return { taken: true, sources, transforms_changed: transformsChanged, uplink_restarted: uplinkChanged };
  }

  /** The sink every source writes to: validate, stamp, queue for the next group commit. */
  private accept(source: string, readings: readonly SourceReading[]): void {
    if (readings.length === 0) return;
    // Every reading a source hands over is accounted for: readings_invalid + transform_removed + readings_received.
    let tallies = this.sourceTallies.get(source);
    if (tallies === undefined) {
      tallies = { handed: tally(this.counters.sourceReadings, { source }), received: tally(this.counters.received, { source }) };
      this.sourceTallies.set(source, tallies);
    }
    tallies.handed.inc(readings.length);
    const synced = this.clock.synced;
    const now = this.clock.now();
    const out: BufferedReading[] = [];
    const transforms = this.transforms;
    for (const r of readings) {
      if (!isValidName(r.sensor)) {
        this.counters.invalid.inc({ source, reason: 'invalid_sensor_name' });
        continue;
      }
      const ts = r.ts ?? now;
      if (!Number.isSafeInteger(ts) || ts < 0) {
        this.counters.invalid.inc({ source, reason: 'invalid_timestamp' });
        continue;
      }
      const reading: BufferedReading = { sensor: r.sensor, value: r.value, ts, synced };
      // Transforms see non-finite values (a filter counts them as its own removals); what is left after the
      // chain, including a value a scale pushed past the float range, is checked here.
      if (transforms.size > 0 && !transforms.run(reading, this.removals.onRemoved)) continue;
      if (!Number.isFinite(reading.value)) {
        this.counters.invalid.inc({ source, reason: 'non_finite_value' });
        continue;
      }
      out.push(reading);
    }
    this.removals.flush();
    if (out.length === 0) return;
    this.buffer.append(out);
    this.commits.queued();
    tallies.received.inc(out.length);
  }

  /**
   * The clock became synchronised: readings this run stamped with the untrusted clock and that nobody has
   * seen yet are moved by the clock's step and become trusted. Sent batches keep their flagged times.
   */
  private correctClock(stepMs: number): void {
    try {
      const n = this.buffer.correctUnsynced(stepMs, this.firstSeqThisRun, clockStepReencoder(() => this.clock.anchor));
      this.counters.corrected.inc(n);
      this.logger.info({ step_ms: stepMs, corrected: n }, 'wall clock synchronised: buffered readings of this run corrected');
    } catch (err) {
      this.logger.error({ err }, 'clock correction failed; those readings stay flagged as untrusted');
    }
  }

  async start(): Promise<void> {
    // Leftover readings of an earlier run were stamped by that run's clock: seal them as they are, so a
    // clock correction in this run touches only readings this run stamped.
    while (this.buffer.pendingReadings > 0 && this.buffer.seal(this.config.batch.max_readings, this.encode, this.clock.now())) {
      /* seal all */
    }
    this.firstSeqThisRun = this.buffer.nextSequence;
    this.clock.onSynced((step) => this.correctClock(step));
    await this.clock.start();
    if (this.config.status) {
      // Loaded only when configured: the HTTP stack costs memory a small gateway may not want to spend.
      const { StatusServer } = await import('./status/status-server.js');
      this.statusServer = new StatusServer({
        listen: this.config.status.listen,
        metrics: this.metrics,
        logger: this.logger.child({ component: 'status' }),
        healthy: () => this.running,
        status: () => this.statusDocument(),
      });
      await this.statusServer.start(); // a taken port fails the start, naming status.listen
    }
    const stats = this.buffer.stats();
    this.counters.backlog.set(stats.bufferedReadings);
    this.logger.info(
      { device: this.config.device.id, stream: stats.streamId, next_seq: stats.nextSeq, backlog: stats.bufferedReadings, clock_synced: this.clock.synced },
      'agent starting',
    );
    this.guard.expire(this.clock.now());
    this.commits.start();
    let ticks = 0;
    // Buffer stats and expiry read and write SQLite: a full or read-only disk must not end the agent.
    this.pumpTimer = setInterval(
      guard(this.logger, 'agent pump timer', () => {
        ++ticks;
        this.counters.backlog.set(this.buffer.bufferedReadings());
        this.sender.pump().catch((err: unknown) => this.logger.error({ err }, 'sender pump failed'));
        // The retained status (backlog, clock) is refreshed every STATUS_INTERVAL_S while connected.
        if (ticks % STATUS_INTERVAL_S === 0 && this.uplink.connected) this.publishStatus(true).catch((err: unknown) => this.logger.warn({ err }, 'status publish failed'));
        if (ticks % EXPIRE_INTERVAL_S === 0) this.guard.expire(this.clock.now());
      }),
      1000,
    );
    await this.uplink.start();
    await this.sources.startAll();
    this.running = true;
  }

  /** The document served at /status (and read by `doctor`). */
  async statusDocument(): Promise<AgentStatusDocument> {
    const connected = this.uplink.connected;
    return { ...this.status(connected), device: this.config.device.id, connected, sources: await sourceStatuses(this.sources.sources, this.metrics) };
  }

  status(online: boolean): DeviceStatus {
    const s = this.buffer.stats();
    return {
      online,
      agent_version: AGENT_VERSION,
      backlog_readings: s.bufferedReadings,
      oldest_buffered_time: s.oldestTs === null ? null : new Date(s.oldestTs).toISOString(),
      clock_synced: this.clock.synced,
      dropped_readings: Object.values(s.drops).reduce((a, b) => a + b, 0),
      stream_id: s.streamId,
      at: new Date().toISOString(),
    };
  }

  private async publishStatus(online: boolean): Promise<void> {
    try {
      await this.uplink.publish(topics.status(this.config.device.id), JSON.stringify(this.status(online)), true);
    } catch (err) {
      this.logger.debug({ err: (err as Error).message }, 'status publish failed');
    }
  }

  /**
   * On shutdown, give the collector a bounded chance to ack what is sealed, so a clean stop leaves an
   * empty buffer when the link is up. Whatever is not acked stays buffered and is sent on the next start.
   */
  private async drain(budgetMs: number): Promise<void> {
    const deadline = Date.now() + budgetMs;
    while (this.uplink.connected && this.buffer.stats().sealedBatches > 0 && Date.now() < deadline) {
      await this.sender.pump();
      await new Promise((r) => setTimeout(r, 20));
    }
  }

  async stop(): Promise<void> {
    this.running = false;
    await this.sources.stopAll();
    if (this.pumpTimer) clearInterval(this.pumpTimer);
    try {
      this.commits.stop(); // also writes what was sent before a write and is not acked yet; the drain waits for acks
    } catch (err) {
      this.logger.error({ err }, 'final commit failed');
    }
    if (this.buffer.queuedCount > 0) {
      // Only `block` on a full buffer leaves readings uncommitted: say so rather than lose them silently.
      const n = this.buffer.discardQueued(0, 'unsaved_at_shutdown');
      this.metrics.counter('readings_dropped_total', 'Readings dropped by the edge, by reason', ['reason']).inc({ reason: 'unsaved_at_shutdown' }, n);
      this.logger.warn({ readings: n }, 'buffer full at shutdown: readings held in memory could not be saved');
    }
    await this.drain(SHUTDOWN_DRAIN_MS);
    this.clock.stop();
    await this.uplink.stop(this.status(false));
    await this.statusServer?.stop().catch((err) => this.logger.error({ err }, 'status server stop failed'));
    this.buffer.close();
    this.logger.info('agent stopped');
  }
}
