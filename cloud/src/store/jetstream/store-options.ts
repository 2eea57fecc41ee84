// Options of one JetStream partition store (JetStreamStreamStore); the defaults are in docs/jetstream-store.md.
import type { NatsConnection } from 'nats';
import type { Logger } from '@tidemark/shared';

export interface JetStreamStreamStoreOptions {
  /** NATS URLs, e.g. `nats://10.0.0.1:4222`; every member of a cluster, so the client can fail over. */
  servers: string[];
  /** The partition's stream name (`[A-Za-z0-9_-]`); `<stream>_DEDUP` (KV) and `<stream>_DLQ` go beside it. */
  stream: string;
  /** JetStream replicas of every stream of the partition: 1 (single server) or 3 (a cluster; survives a node). */
  replicas: number;
  /** The server's msg-id dedup window: a resend after a lost PubAck is dropped by the server within it. Default 2 min. */
  duplicateWindowMs?: number;
  /** A dedup snapshot is written this often (default 30 s): a restart scans only the messages after it. */
  snapshotIntervalMs?: number;
  /** ... and after this many appended records (default 50,000). */
  snapshotEveryRecords?: number;
  /** Dead letters kept at most (oldest dropped by the server). Default 10,000. */
  maxDeadLetters?: number;
  /** Dead letters kept at most this long. Default 30 days. */
  deadLetterMaxAgeMs?: number;
  /** Default 5 s. */
  connectTimeoutMs?: number;
  /**
   * For processes that only read and trim (the aggregator and api roles): no dedup state is built and no
   * snapshots are written; append and deadLetter throw; trim stops at the S its collector's snapshot wrote.
   */
  readOnly?: boolean;
  /**
   * This stream's place in a partitioned store. Recorded at first start; a later start with another layout
   * is refused (a different partition count would move devices, and their dedup state, between partitions).
   */
  partition?: { index: number; count: number };
  /**
   * A connection to share (many partitions in one process), or a function that opens it on first use: the
   * store uses it and leaves it open at stop. Without it the store opens its own from `servers`.
   */
  connection?: NatsConnection | (() => Promise<NatsConnection>);
  /** PubAcks, JetStream API calls and pulls. Default 5 s. */
  requestTimeoutMs?: number;
  /** How long start() waits for a cluster that is still electing leaders. Default 30 s. */
  startTimeoutMs?: number;
  logger?: Logger;
}
