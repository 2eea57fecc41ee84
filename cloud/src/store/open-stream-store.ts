// Chooses the stream store backend from the config: the SQLite log in data_dir (one partition), or NATS
// JetStream with `store.partitions` streams named `<stream>-p<k>` (or just `<stream>` for one partition),
// each replicated `store.replicas` times. Ingest appends through the router; the aggregator, retention and
// the API's follower read the partitions one by one.
import type { Logger } from '@tidemark/shared';
import type { CloudConfig } from '../config.js';
import type { NatsConnection } from 'nats';
import { connectNats, JetStreamStreamStore } from './jetstream/jetstream-stream-store.js';
import { PartitionedStreamStore } from './partitioned-stream-store.js';
import { SqliteStreamStore } from './sqlite-stream-store.js';

export interface OpenStreamOptions {
  /** data_dir/stream.db, for the SQLite backend. */
  sqlitePath: string;
  /** Processes that only read and trim (aggregator, api, replay): JetStream builds no dedup state then. */
  readOnly?: boolean;
  logger?: Logger;
}

/** The JetStream stream name of partition `k` of `count`. */
export function partitionStreamName(stream: string, k: number, count: number): string {
  return count === 1 ? stream : `${stream}-p${k}`;
}

export function openStreamStore(config: CloudConfig['store'], opts: OpenStreamOptions): PartitionedStreamStore {
  if (config.type === 'sqlite') {
    return new PartitionedStreamStore([new SqliteStreamStore({ path: opts.sqlitePath, ...(opts.readOnly ? { readonly: true } : {}) })]);
  }
  const count = config.partitions;
  // One NATS connection for every partition of this process, opened by the first partition that starts.
  let shared: Promise<NatsConnection> | undefined;
  const auth = {
    ...(config.username !== undefined ? { username: config.username } : {}),
    ...(config.password !== undefined ? { password: config.password } : {}),
    ...(config.token !== undefined ? { token: config.token } : {}),
    ...(config.tls !== undefined
      ? {
          tls: {
            ...(config.tls.ca !== undefined ? { caFile: config.tls.ca } : {}),
            ...(config.tls.cert !== undefined ? { certFile: config.tls.cert } : {}),
            ...(config.tls.key !== undefined ? { keyFile: config.tls.key } : {}),
          },
        }
      : {}),
  };
  const connection = () => (shared ??= connectNats(config.servers, { connectTimeoutMs: 5_000, name: `tidemark-cloud ${config.stream}`, auth }));
  // drain() flushes what is pending; on a connection that is reconnecting it returns without closing, and
  // the reconnect loop would keep the process alive: close() whatever is left open.
  const closeShared = async () => {
    const nc = await shared?.catch(() => undefined);
    shared = undefined;
    if (!nc) return;
    await nc.drain().catch(() => undefined);
    if (!nc.isClosed()) await nc.close().catch(() => undefined);
  };
  return new PartitionedStreamStore(
    Array.from(
      { length: count },
      (_, k) =>
        new JetStreamStreamStore({
          servers: config.servers,
          stream: partitionStreamName(config.stream, k, count),
          replicas: config.replicas,
          partition: { index: k, count },
          connection,
          ...(opts.readOnly ? { readOnly: true } : {}),
          ...(opts.logger ? { logger: opts.logger.child({ partition: k }) } : {}),
        }),
    ),
    closeShared,
  );
}
