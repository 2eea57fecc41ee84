// Helpers shared by the JetStream store tests: stores on private servers, stream cleanup, readers, items.
// Test-only (imports vitest).
import { randomBytes } from 'node:crypto';
import { connect, type NatsConnection } from 'nats';
import { NotConnectedError, StorageError } from '@tidemark/shared';
import { expect } from 'vitest';
import { item } from '../../stream-store.contract.js';
import type { AppendItem, AppendOutcome, StreamRecord, StreamStore } from '../../stream-store.js';
import { JetStreamStreamStore, type JetStreamStreamStoreOptions } from '../jetstream-stream-store.js';

let streams = 0;
const run = randomBytes(3).toString('hex');
export const freshStream = (): string => `tm_${run}_${++streams}`;

export function storeOn(servers: string[], stream: string, extra: Partial<JetStreamStreamStoreOptions> = {}): JetStreamStreamStore {
  return new JetStreamStreamStore({ servers, stream, replicas: 1, requestTimeoutMs: 5_000, ...extra });
}

export async function started(servers: string[], stream: string, extra: Partial<JetStreamStreamStoreOptions> = {}): Promise<JetStreamStreamStore> {
  const s = storeOn(servers, stream, extra);
  await s.start();
  return s;
}

export async function withNats<T>(servers: string[], fn: (nc: NatsConnection) => Promise<T>): Promise<T> {
  const nc = await connect({ servers });
  try {
    return await fn(nc);
  } finally {
    await nc.close();
  }
}

export async function deleteStreams(servers: string[], stream: string): Promise<void> {
  await withNats(servers, async (nc) => {
    const jsm = await nc.jetstreamManager();
    for (const s of [stream, `${stream}_DLQ`, `KV_${stream}_DEDUP`]) await jsm.streams.delete(s).catch(() => false);
  });
}

export async function readAll(store: StreamStore, from = 1): Promise<StreamRecord[]> {
  const out: StreamRecord[] = [];
  for (;;) {
    const got = await store.read(from, 500);
    out.push(...got);
    if (got.length < 500) return out;
    from = got.at(-1)!.offset + 1;
  }
}

export const idOf = (r: { deviceId: string; streamId: Uint8Array; seq: number }): string => `${r.deviceId}/${Buffer.from(r.streamId).toString('hex')}/${r.seq}`;
export const seqs = (device: string, stream: number, list: number[], extra: Partial<AppendItem> = {}): AppendItem[] =>
  list.map((s) => ({ ...item(device, stream, s), ...extra }));
/** What a failed append may throw: the runner retries both. */
export const expectStoreError = (err: unknown): void => expect(err instanceof StorageError || err instanceof NotConnectedError, String(err)).toBe(true);
export const dups = (n: number): AppendOutcome[] => Array<AppendOutcome>(n).fill('duplicate');
export const oks = (n: number): AppendOutcome[] => Array<AppendOutcome>(n).fill('ok');
