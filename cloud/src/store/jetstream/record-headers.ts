// How one accepted batch is laid out as one JetStream message: the payload is the batch bytes, identity and
// metadata travel in headers, and `Nats-Msg-Id` is the identity, so the server itself drops a resend of a
// publish whose PubAck was lost (within the stream's duplicate window). The message IS the dedup record.
import { headers, type MsgHdrs } from 'nats';
import { StorageError } from '@tidemark/shared';
import type { AppendItem, StreamRecord } from '../stream-store.js';

export const H = {
  device: 'Tm-Device',
  stream: 'Tm-Stream',
  seq: 'Tm-Seq',
  received: 'Tm-Received',
  readings: 'Tm-Readings',
  lowWater: 'Tm-Low-Water',
  /** `<writer instance>.<append call>`: which append call stored the message (outcomes after a lost PubAck). */
  writer: 'Tm-Writer',
  msgId: 'Nats-Msg-Id',
} as const;

export const DLQ_H = { reason: 'Tm-Reason', device: 'Tm-Device', received: 'Tm-Received' } as const;

/** Stream names become subjects and KV bucket names: keep to what both accept. */
export const STREAM_NAME = /^[A-Za-z0-9_-]{1,200}$/;

/**
 * Device ids may contain `.` (a subject token separator, and `..` would be an empty token): it becomes `=`,
 * which device ids never contain, so the token is reversible and valid in subjects and KV keys.
 */
export function deviceToken(deviceId: string): string {
  return deviceId.replaceAll('.', '=');
}

export function recordSubject(stream: string, deviceId: string): string {
  return `${stream}.b.${deviceToken(deviceId)}`;
}

export function recordSubjects(stream: string): string {
  return `${stream}.b.>`;
}

/** The identity the server deduplicates on. Device ids never contain `:`. */
export function msgIdOf(deviceId: string, streamHex: string, seq: number): string {
  return `${deviceId}:${streamHex}:${seq}`;
}

export function recordHeaders(item: AppendItem, streamHex: string, writerTag: string): MsgHdrs {
  const h = headers();
  h.set(H.device, item.deviceId);
  h.set(H.stream, streamHex);
  h.set(H.seq, String(item.seq));
  h.set(H.received, String(item.receivedMs));
  h.set(H.readings, String(item.readings));
  if (item.lowWaterSeq !== undefined) h.set(H.lowWater, String(item.lowWaterSeq));
  h.set(H.writer, writerTag);
  return h;
}

/** What the dedup fold needs from a stored message (its headers alone: scans use headers-only consumers). */
export interface StoredIdentity {
  deviceId: string;
  streamHex: string;
  seq: number;
  receivedMs: number;
  lowWaterSeq: number | undefined;
  writer: string | undefined;
  msgId: string;
}

/** Undefined when the message is not one of ours (published by hand onto the subject). */
export function parseIdentity(h: MsgHdrs | undefined): StoredIdentity | undefined {
  if (!h) return undefined;
  const deviceId = h.get(H.device);
  const streamHex = h.get(H.stream);
  const seq = Number(h.get(H.seq));
  const receivedMs = Number(h.get(H.received));
  if (!deviceId || !streamHex || !Number.isSafeInteger(seq) || seq < 1 || !Number.isFinite(receivedMs)) return undefined;
  const lw = h.get(H.lowWater);
  const lowWaterSeq = lw === '' ? undefined : Number(lw);
  const writer = h.get(H.writer);
  return {
    deviceId,
    streamHex,
    seq,
    receivedMs,
    lowWaterSeq: Number.isSafeInteger(lowWaterSeq) ? lowWaterSeq : undefined,
    writer: writer === '' ? undefined : writer,
    msgId: msgIdOf(deviceId, streamHex, seq),
  };
}

export function toStreamRecord(stream: string, offset: number, h: MsgHdrs | undefined, data: Uint8Array): StreamRecord {
  const id = parseIdentity(h);
  if (!id) throw new StorageError(`stream ${stream}: message ${offset} carries no Tidemark identity headers (published by something else?)`);
  return {
    offset,
    deviceId: id.deviceId,
    streamId: Uint8Array.from(Buffer.from(id.streamHex, 'hex')),
    seq: id.seq,
    receivedMs: id.receivedMs,
    // The connection's read buffer may be reused: the record owns a copy.
    payload: data.slice(),
  };
}

/** A header value must be one line. */
export function headerValue(text: string): string {
  return text.replace(/[\r\n]+/g, ' ');
}
