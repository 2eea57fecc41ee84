// Connecting to NATS and making sure the partition's streams exist with a configuration the delivery
// contract can live with: file storage, the expected replicas, and NO server-side limits on the record stream
// (max_age / max_bytes / max_msgs would let the server delete records the aggregator has not consumed;
// retention is the store's own trim()). An existing stream that disagrees is refused, never silently changed.
import { DiscardPolicy, RetentionPolicy, StorageType, connect, nanos, type JetStreamManager, type NatsConnection, type StreamConfig, type StreamInfo } from 'nats';
import { NotConnectedError, StorageError } from '@tidemark/shared';
import { recordSubjects } from './record-headers.js';

export interface NatsAuth {
  username?: string;
  password?: string;
  /** A token (`nats-server --auth`), instead of username/password. */
  token?: string;
  /** TLS: file paths of a CA to trust and of a client certificate and key. */
  tls?: { caFile?: string; certFile?: string; keyFile?: string };
}

/** Credentials go in `auth`: the client does not read `user:password@` from the server URLs. */
export async function connectNats(
  servers: readonly string[],
  opts: { connectTimeoutMs: number; name: string; auth?: NatsAuth },
): Promise<NatsConnection> {
  const auth = opts.auth ?? {};
  try {
    return await connect({
      servers: [...servers],
      name: opts.name,
      ...(auth.username !== undefined ? { user: auth.username } : {}),
      ...(auth.password !== undefined ? { pass: auth.password } : {}),
      ...(auth.token !== undefined ? { token: auth.token } : {}),
      ...(auth.tls !== undefined ? { tls: auth.tls } : {}),
      timeout: opts.connectTimeoutMs,
      // nats.js records a stack trace twice per request/publish for its error messages: ~10 % of the collector's
      // thread at saturation (scripts/bench/ingest.bench.ts). Our errors name the operation themselves.
      noAsyncTraces: true,
      // Once connected, ride out server restarts and node failures: the runner retries failed appends.
      reconnect: true,
      maxReconnectAttempts: -1,
      reconnectTimeWait: 250,
      waitOnFirstConnect: false,
    });
  } catch (err) {
    throw new NotConnectedError(`cannot connect to NATS at ${servers.join(', ')}: ${(err as Error).message}`, { cause: err });
  }
}

export async function jetStreamManager(nc: NatsConnection, servers: readonly string[], timeoutMs: number): Promise<JetStreamManager> {
  try {
    return await nc.jetstreamManager({ timeout: timeoutMs });
  } catch (err) {
    throw new StorageError(`JetStream is not available at ${servers.join(', ')} (is the server started with -js?): ${(err as Error).message}`, {
      cause: err,
    });
  }
}

/** Retries what a JetStream cluster says while it elects leaders or peers come up, until the deadline. */
export async function whileElecting<T>(what: string, deadline: number, fn: () => Promise<T>): Promise<T> {
  for (let delay = 100; ; delay = Math.min(delay * 2, 1000)) {
    try {
      return await fn();
    } catch (err) {
      if (!isTransient(err) || Date.now() + delay > deadline) {
        if (err instanceof StorageError) throw err;
        throw new StorageError(`${what}: ${(err as Error).message}`, { cause: err });
      }
    }
    await new Promise((r) => setTimeout(r, delay));
  }
}

export function isTransient(err: unknown): boolean {
  const e = err as { code?: string; api_error?: { err_code?: number; code?: number }; message?: string };
  if (e.code === '503' || e.code === 'TIMEOUT' || e.api_error?.code === 503) return true;
  return /temporarily unavailable|no suitable peers|insufficient resources|timeout|no responders|leader/i.test(e.message ?? '');
}

export interface RecordStreamSpec {
  stream: string;
  replicas: number;
  duplicateWindowMs: number;
}

export async function ensureRecordStream(jsm: JetStreamManager, spec: RecordStreamSpec, deadline: number): Promise<StreamInfo> {
  const want: Partial<StreamConfig> = {
    name: spec.stream,
    description: 'Tidemark stream store partition: one message per accepted batch (offset = stream sequence)',
    subjects: [recordSubjects(spec.stream)],
    retention: RetentionPolicy.Limits,
    storage: StorageType.File,
    num_replicas: spec.replicas,
    max_msgs: -1,
    max_bytes: -1,
    max_age: 0,
    max_msgs_per_subject: -1,
    discard: DiscardPolicy.Old,
    duplicate_window: nanos(spec.duplicateWindowMs),
    // Offsets stay dense: nothing but prefix purges (trim) ever removes a record.
    deny_delete: true,
  };
  const info = await whileElecting(`stream ${spec.stream}`, deadline, () => createOrGet(jsm, want));
  const problems = incompatibilities(info, spec);
  if (problems.length > 0) {
    throw new StorageError(
      `JetStream stream ${spec.stream} exists with a configuration the stream store cannot use: ${problems.join('; ')}. ` +
        `Fix the stream (nats stream edit ${spec.stream}) or the store configuration.`,
    );
  }
  if (info.config.duplicate_window !== want.duplicate_window) {
    return whileElecting(`stream ${spec.stream}`, deadline, () => jsm.streams.update(spec.stream, { ...info.config, duplicate_window: want.duplicate_window! }));
  }
  return info;
}

function incompatibilities(info: StreamInfo, spec: RecordStreamSpec): string[] {
  const c = info.config;
  const out: string[] = [];
  const subjects = [recordSubjects(spec.stream)];
  if (JSON.stringify(c.subjects ?? []) !== JSON.stringify(subjects)) {
    out.push(`subjects are ${JSON.stringify(c.subjects ?? [])}, expected ${JSON.stringify(subjects)} (other subjects would interleave foreign messages into the offsets)`);
  }
  if (c.num_replicas !== spec.replicas) out.push(`num_replicas is ${c.num_replicas}, configured replicas: ${spec.replicas}`);
  if (c.storage !== StorageType.File) out.push(`storage is ${c.storage}, expected file`);
  if (c.retention !== RetentionPolicy.Limits) out.push(`retention is ${c.retention}, expected limits`);
  const limited = (v: number | undefined) => v !== undefined && v > 0;
  if (limited(c.max_age)) out.push('max_age is set (the server would delete records the aggregator may not have consumed)');
  if (limited(c.max_bytes)) out.push('max_bytes is set (the server would delete records the aggregator may not have consumed)');
  if (limited(c.max_msgs)) out.push('max_msgs is set (the server would delete records the aggregator may not have consumed)');
  if (limited(c.max_msgs_per_subject)) out.push('max_msgs_per_subject is set (the server would delete records)');
  if (c.mirror || (c.sources && c.sources.length > 0)) out.push('the stream is a mirror or has sources');
  if (c.sealed) out.push('the stream is sealed');
  return out;
}

export interface DeadLetterStreamSpec {
  stream: string;
  replicas: number;
  maxMessages: number;
  maxAgeMs: number;
}

/** The dead-letter stream is bounded by the server itself: oldest out first. Its limits follow the config. */
export async function ensureDeadLetterStream(jsm: JetStreamManager, spec: DeadLetterStreamSpec, deadline: number): Promise<void> {
  const want: Partial<StreamConfig> = {
    name: spec.stream,
    description: 'Tidemark dead letters: refused payloads with their reason (bounded)',
    subjects: [`${spec.stream}.>`],
    retention: RetentionPolicy.Limits,
    storage: StorageType.File,
    num_replicas: spec.replicas,
    max_msgs: spec.maxMessages,
    max_age: nanos(spec.maxAgeMs),
    discard: DiscardPolicy.Old,
  };
  const info = await whileElecting(`stream ${spec.stream}`, deadline, () => createOrGet(jsm, want));
  if (info.config.max_msgs !== want.max_msgs || info.config.max_age !== want.max_age) {
    await whileElecting(`stream ${spec.stream}`, deadline, () =>
      jsm.streams.update(spec.stream, { ...info.config, max_msgs: want.max_msgs!, max_age: want.max_age! }),
    );
  }
}

async function createOrGet(jsm: JetStreamManager, want: Partial<StreamConfig>): Promise<StreamInfo> {
  const name = want.name!;
  try {
    return await jsm.streams.info(name);
  } catch (err) {
    if (!isNotFound(err)) throw err;
  }
  try {
    return await jsm.streams.add(want);
  } catch (err) {
    // Another instance created it in the meantime: use (and check) theirs.
    if (/already in use/i.test((err as Error).message)) return jsm.streams.info(name);
    throw err;
  }
}

function isNotFound(err: unknown): boolean {
  const e = err as { api_error?: { err_code?: number }; message?: string };
  return e.api_error?.err_code === 10059 || /stream not found/i.test(e.message ?? '');
}
