// Assembles the cloud process from its roles. `all` runs broker + ingest + aggregator + API in one
// process (the aggregator is woken by each ingest commit); separate roles share the data_dir's SQLite
// files and the aggregator polls the stream store.
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { ConfigError, createLogger, MetricsRegistry, safeInterval, startAll, stopAll, type Component, type Logger } from '@tidemark/shared';
import { Aggregator } from './aggregate/aggregator.js';
import { aggregatorGuard, openAggregateStore } from './aggregate/open-aggregate-store.js';
import { SharedReads } from './stream/shared-reads.js';
import { AlertEvaluator } from './alerts/alert-evaluator.js';
import { AlertStoreFeed } from './alerts/alert-feed.js';
import { notifierNames } from './alerts/notifiers.js';
import { DeliveryWorker } from './alerts/notify/delivery-worker.js';
import type { MqttPublish } from './alerts/notify/mqtt-notifier.js';
import { createNotifiers } from './alerts/notify/notifier-factory.js';
import { retryScheduleOf } from './alerts/notify/notify-config.js';
import { SqliteAlertStore } from './alerts/sqlite-alert-store.js';
import { StatusAlertWatcher } from './alerts/status-watcher.js';
import { ApiServer } from './api/server.js';
import { StoreFollower } from './api/store-follower.js';
import type { AlertTransitionSource, BucketUpdateSource } from './api/stream-hub.js';
import { loadTokens } from './api/tokens.js';
import { DeviceAuthenticator } from './broker/device-auth.js';
import { deviceTagSource } from './devices/device-tag-source.js';
import { EmbeddedBroker } from './broker/embedded-broker.js';
import { AlertPublisher } from './broker/alert-publisher.js';
import { ExternalBus } from './broker/external-bus.js';
import type { MessageBus } from './broker/message-bus.js';
import type { CloudConfig } from './config.js';
import { describe, ResourceHealth } from './health/resource-health.js';
import { StartWhenAvailable } from './health/start-when-available.js';
import { SqliteDeviceRegistry, type DeviceRegistry } from './ingest/device-registry.js';
import { PostgresDeviceRegistry } from './ingest/postgres-device-registry.js';
import { Ingestor } from './ingest/ingestor.js';
import { StreamRetention } from './store/retention.js';
import { openStreamStore } from './store/open-stream-store.js';

export type Role = 'all' | 'collector' | 'aggregator' | 'api';
export const ROLES: readonly Role[] = ['all', 'collector', 'aggregator', 'api'];

export interface CollectorOptions {
  role?: Role;
  logger?: Logger;
  metrics?: MetricsRegistry;
  /** Names of the settings that chose the ports, for "port in use" errors (e.g. TIDEMARK_MQTT_PORT). */
  settings?: { mqttPort?: string; apiPort?: string };
}

export const dataFiles = (dataDir: string) => ({
  stream: join(dataDir, 'stream.db'),
  aggregates: join(dataDir, 'aggregates.db'),
  devices: join(dataDir, 'devices.db'),
  alerts: join(dataDir, 'alerts.db'),
});

export class Collector {
  readonly logger: Logger;
  readonly metrics: MetricsRegistry;
  readonly role: Role;
  /** Every resource this process depends on: ok or failing; feeds /readyz, metrics and the log. */
  readonly health: ResourceHealth;
  private components: Component[] = [];
  private started = false;
  broker: EmbeddedBroker | undefined;
  api: ApiServer | undefined;
  aggregator: Aggregator | undefined;
  ingestor: Ingestor | undefined;

  constructor(
    readonly config: CloudConfig,
    opts: CollectorOptions = {},
  ) {
    this.role = opts.role ?? 'all';
    this.logger = opts.logger ?? createLogger({ name: 'tidemark-cloud', level: config.log.level });
    this.metrics = opts.metrics ?? new MetricsRegistry('tidemark_cloud');
    this.health = new ResourceHealth(this.logger.child({ component: 'health' }), this.metrics);
    this.assemble(opts);
  }

  private has(role: Exclude<Role, 'all'>): boolean {
    return this.role === 'all' || this.role === role;
  }

  private assemble(opts: CollectorOptions): void {
    const { config, logger, metrics } = this;
    mkdirSync(config.data_dir, { recursive: true });
    const files = dataFiles(config.data_dir);
    // Only the collector role appends (and, on JetStream, keeps the dedup state); other roles read and trim.
    const stream = openStreamStore(config.store, {
      sqlitePath: files.stream,
      readOnly: !this.has('collector') && config.store.type === 'jetstream',
      logger: logger.child({ component: 'stream-store' }),
    });
    const partitions = stream.partitions;
    // Tags come from the devices file this process is configured with, re-read when it changes.
    const tags = deviceTagSource(config.auth.devices_file, logger.child({ component: 'device-tags' }));
    // Device state lives beside the aggregates: in PostgreSQL the roles may run on different hosts.
    const registry: DeviceRegistry =
      config.aggregates.type === 'postgres'
        ? new PostgresDeviceRegistry({ url: config.aggregates.url, schema: config.aggregates.schema, logger: logger.child({ component: 'devices' }) })
        : new SqliteDeviceRegistry(files.devices, logger.child({ component: 'devices' }));
    // The aggregator's writer lock (PostgreSQL: the session its commits go through; SQLite: a pid file).
    const guard = this.has('aggregator') ? aggregatorGuard(config.aggregates, files.aggregates, { logger: logger.child({ component: 'aggregator-guard' }) }) : undefined;
    const aggregates = openAggregateStore(config.aggregates, files.aggregates, {
      logger: logger.child({ component: 'aggregates' }),
      ...(guard?.writer ? { writer: guard.writer } : {}),
    });
    // A server that is not there at start (NATS, PostgreSQL) is waited for, like one lost later (start-when-available.ts).
    const components: Component[] = [
      config.store.type === 'jetstream' ? this.whenAvailable('stream-store', [stream], 'store') : stream,
      config.aggregates.type === 'postgres' ? this.whenAvailable('device-registry', [registry], 'aggregates.url') : registry,
    ];
    const resolutions = config.aggregation.resolutions;
    // The aggregate store and what cannot start without it (the aggregator, the api role's follower).
    const aggregateParts: Component[] = this.has('aggregator') || this.has('api') ? [aggregates] : [];
    const aggregateGroup = (): Component[] =>
      config.aggregates.type === 'postgres' && aggregateParts.length > 0 ? [this.whenAvailable('aggregate-store', aggregateParts, 'aggregates.url')] : aggregateParts;

    if (this.has('collector')) {
      const bus: MessageBus =
        config.broker.mode === 'embedded'
          ? (this.broker = new EmbeddedBroker({
              listen: config.broker.listen,
              listenSetting: opts.settings?.mqttPort ?? 'broker.listen',
              ...(config.broker.tls_listen && config.broker.tls ? { tlsListen: config.broker.tls_listen, tls: config.broker.tls } : {}),
              maxPacketBytes: config.broker.max_packet_bytes,
              auth: new DeviceAuthenticator(config.auth.devices_file, config.auth.allow_anonymous),
              logger: logger.child({ component: 'broker' }),
              metrics,
            }))
          : new ExternalBus(config.broker, logger.child({ component: 'broker' }), metrics);
      const ingestor = new Ingestor(
        stream,
        bus,
        registry,
        {
          maxBatchReadings: config.ingest.max_batch_readings,
          commitIntervalMs: config.ingest.commit_interval_ms,
          ...faultInjection(),
          health: { stream: this.health.reporter('stream-store'), deadLetters: this.health.reporter('dead-letters') },
        },
        logger.child({ component: 'ingest' }),
        metrics,
      );
      // status() never throws: a write the registry cannot make now stays pending for its next flush.
      bus.onStatus((device, payload) => registry.status(device, payload, Date.now()));
      this.bus = bus;
      // Stop order is the reverse: ingest flushes and acks what it holds before the broker closes.
      components.push(bus, ingestor);
      this.ingestor = ingestor;
      const registryHealth = this.health.reporter('device-registry');
      let retryAt = 0;
      const flushTimer: Component = {
        name: 'registry-flush',
        start: async () => {
          // A registry that cannot write (disk full, database down) keeps its writes pending and is retried with backoff.
          this.registryTimer = safeInterval(logger, 'registry flush timer', 1000, async () => {
            if (Date.now() < retryAt) return;
            try {
              await registry.flush();
              registryHealth.ok();
            } catch (err) {
              registryHealth.fail(err);
              retryAt = Date.now() + registryHealth.nextDelayMs();
            }
          });
        },
        stop: async () => {
          if (this.registryTimer) clearInterval(this.registryTimer);
        },
      };
      components.push(flushTimer);
    }

    if (this.has('aggregator')) {
      // With alert rules, the evaluator reads what the aggregator has just read: one store read and one
      // decode of each record for both.
      const sharedReads = config.alerts.rules.length > 0 ? new SharedReads() : undefined;
      const aggregator = new Aggregator(
        partitions,
        aggregates,
        {
          resolutions,
          allowedLatenessMs: config.aggregation.allowed_lateness,
          maxFutureSkewMs: config.ingest.max_future_skew,
          retention: config.aggregation.retention,
          health: { stream: this.health.reporter('stream-reader'), aggregates: this.health.reporter('aggregate-store') },
          ...(sharedReads ? { sharedReads } : {}),
        },
        logger.child({ component: 'aggregator' }),
        metrics,
      );
      this.ingestor?.onCommit(() => aggregator.notify());
      // While it runs, `replay` (and, on PostgreSQL, a second aggregator) refuses to race it.
      aggregateParts.push(guard!, aggregator);
      components.push(...aggregateGroup());
      components.push(
        new StreamRetention(
          partitions,
          {
            retentionMs: config.store.retention,
            ...(config.store.max_bytes !== undefined ? { maxBytes: config.store.max_bytes } : {}),
            // Only what every stream consumer has committed past may go.
            consumedBelow: async (p) => {
              const agg = await aggregates.checkpoint(p);
              const alerts = this.alertStore?.checkpoint(p);
              return alerts === undefined ? agg : Math.min(agg, alerts);
            },
            health: this.health.reporter('stream-retention'),
          },
          logger.child({ component: 'retention' }),
          metrics,
        ),
      );
      this.aggregator = aggregator;
      if (config.alerts.rules.length > 0) {
        const store = new SqliteAlertStore(files.alerts);
        const evaluator = new AlertEvaluator(
          partitions,
          store,
          {
            rules: config.alerts.rules,
            notifiers: notifierNames(config.alerts.notify),
            flapping: config.alerts.flapping,
            allowedLatenessMs: config.aggregation.allowed_lateness,
            maxFutureSkewMs: config.ingest.max_future_skew,
            tags,
            health: { stream: this.health.reporter('alert-stream-reader'), store: this.health.reporter('alert-store') },
            ...(sharedReads ? { sharedReads } : {}),
            checkpointIntervalMs: config.alerts.checkpoint_interval,
          },
          logger.child({ component: 'alerts' }),
          metrics,
        );
        this.ingestor?.onCommit(() => evaluator.notify());
        // mqtt notifications go through the collector's broker connection; an aggregator without one (its
        // own host) publishes through a client of its own to an external broker.
        const bus = this.bus;
        const mqttNotify = config.alerts.notify.find((n) => n.type === 'mqtt');
        const publisher =
          !bus && config.broker.mode === 'external' && mqttNotify
            ? new AlertPublisher(
                {
                  ...config.broker,
                  ...(mqttNotify.username !== undefined ? { username: mqttNotify.username, password: mqttNotify.password } : {}),
                },
                logger.child({ component: 'alert-publisher' }),
              )
            : undefined;
        const publish: MqttPublish | undefined = bus ? (topic, payload, o) => bus.publish(topic, payload, o) : publisher ? (topic, payload, o) => publisher.publish(topic, payload, o) : undefined;
        const worker = new DeliveryWorker({
          outbox: store,
          notifiers: createNotifiers(config.alerts.notify, {
            logger: logger.child({ component: 'alerts' }),
            ...(publish ? { publish } : {}),
          }),
          logger: logger.child({ component: 'alert-delivery' }),
          metrics,
          concurrency: config.alerts.delivery.concurrency,
          retry: retryScheduleOf(config.alerts.delivery),
          health: this.health.reporter('alert-outbox'),
        });
        evaluator.onTransitions(() => worker.wake());
        const statusWatcher = new StatusAlertWatcher(
          registry,
          store,
          { rules: config.alerts.rules, notifiers: notifierNames(config.alerts.notify), flapping: config.alerts.flapping, tags },
          logger.child({ component: 'alert-status' }),
        );
        statusWatcher.onTransitions(() => worker.wake());
        // Before retention (which asks the store for the evaluator's checkpoints) and after the aggregator.
        components.splice(components.length - 1, 0, store, evaluator, statusWatcher, ...(publisher ? [publisher] : []), worker);
        this.statusWatcher = statusWatcher;
        this.alertStore = store;
        this.evaluator = evaluator;
      }
    }

    // The api role serves the whole HTTP API; a collector or aggregator process on its own still serves
    // /healthz, /readyz and its /metrics on api.listen.
    const apiRole = this.has('api');
    let updates: BucketUpdateSource | undefined = this.aggregator;
    if (apiRole && !updates) {
      // Live updates for /api/v1/stream: straight from the aggregator in this process; in the api-only role,
      // by following the aggregate store's checkpoint (api/store-follower.ts).
      const follower = new StoreFollower(
        partitions,
        aggregates,
        { resolutions, maxFutureSkewMs: config.ingest.max_future_skew, health: this.health.reporter('aggregate-follower') },
        logger.child({ component: 'stream-follower' }),
      );
      aggregateParts.push(follower);
      updates = follower;
    }
    if (!this.has('aggregator')) components.push(...aggregateGroup());
    // Alerts for the API: the evaluator's own store in this process, else the aggregator's on this data_dir.
    const { evaluator, statusWatcher } = this;
    let alertTransitions: AlertTransitionSource | undefined =
      evaluator && statusWatcher
        ? { onTransitions: (l) => (evaluator.onTransitions(l), statusWatcher.onTransitions(l)) }
        : undefined;
    let alertStore = this.alertStore ? () => this.alertStore : undefined;
    if (apiRole && !this.evaluator) {
      const feed = new AlertStoreFeed(files.alerts, logger.child({ component: 'alert-feed' }));
      components.push(feed);
      alertTransitions = feed;
      alertStore = () => feed.current();
    }
    this.api = new ApiServer({
      listen: config.api.listen,
      listenSetting: opts.settings?.apiPort ?? (apiRole ? 'api.listen' : 'api.listen; run each role on a host with its own --listen ADDR'),
      resolutions,
      allowedLatenessMs: config.aggregation.allowed_lateness,
      maxPageSize: config.api.max_page_size,
      aggregates,
      devices: registry,
      tags,
      tokens: config.api.tokens_file ? loadTokens(config.api.tokens_file) : undefined,
      ...(config.api.tls ? { tls: config.api.tls } : {}),
      metrics,
      logger: logger.child({ component: apiRole ? 'api' : 'ops-http' }),
      ready: () => this.started,
      ...(alertStore ? { alerts: alertStore } : {}),
      ...(alertTransitions ? { alertTransitions } : {}),
      failing: () => this.health.failing(),
      ...(apiRole ? (updates ? { updates } : {}) : { opsOnly: true }),
    });
    components.push(this.api);
    this.components = components;
  }

  /** `parts` start now if `resource` is reachable, else later by themselves; refused credentials are a config error at `setting`. */
  private whenAvailable(resource: string, parts: Component[], setting: string): Component {
    return new StartWhenAvailable({
      parts,
      health: this.health.reporter(resource),
      refused: (err) => new ConfigError([{ path: setting, message: `the server refused the configured credentials or database: ${describe(err)}` }]),
    });
  }

  private registryTimer: NodeJS.Timeout | undefined;
  alertStore: SqliteAlertStore | undefined;
  private bus: MessageBus | undefined;
  statusWatcher: StatusAlertWatcher | undefined;
  evaluator: AlertEvaluator | undefined;

  async start(): Promise<void> {
    await startAll(this.components);
    this.started = true;
    this.logger.info({ role: this.role, data_dir: this.config.data_dir }, 'tidemark-cloud started');
  }

  async stop(): Promise<void> {
    this.started = false;
    const errors = await stopAll(this.components);
    for (const err of errors) this.logger.error({ err }, 'error while stopping');
    this.logger.info('tidemark-cloud stopped');
  }
}

/** TIDEMARK_FAULT_KILL_AFTER_COMMIT=N: fault tests kill the collector between its N-th commit and the acks. */
function faultInjection(): { faultKillAfterCommit?: number } {
  const n = Number(process.env.TIDEMARK_FAULT_KILL_AFTER_COMMIT);
  return Number.isInteger(n) && n > 0 ? { faultKillAfterCommit: n } : {};
}
