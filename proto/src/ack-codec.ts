// Ack <-> tidemark.v1.Ack bytes. Bytes that are not an Ack -> WireFormatError; a decodable Ack that breaks
// the contract (bad device id, stream id length, seq, unknown status) -> ValidationError naming the field.
import { ValidationError, WireFormatError } from '@tidemark/shared';
import { tidemark } from './gen/telemetry.js';
import { safeInt64 } from './int64.js';
import type { Ack, AckResult, AckStatus } from './model.js';
import { describeValue, isValidName, nameError } from './names.js';
import { validateSeq, validateStreamId } from './validate.js';

const pb = tidemark.v1;

// Wire numbers of enum tidemark.v1.AckStatus; written out so they are checked here, next to the mapping.
const STATUS_TO_WIRE: Readonly<Record<AckStatus, number>> = { ok: 1, duplicate: 2, rejected: 3 };
const WIRE_TO_STATUS: ReadonlyMap<number, AckStatus> = new Map(
  Object.entries(STATUS_TO_WIRE).map(([status, n]) => [n, status as AckStatus]),
);

function validateAck(a: Ack): void {
  if (typeof a !== 'object' || a === null) throw new ValidationError(`expected an ack object, got ${describeValue(a)}`);
  if (!isValidName(a.deviceId)) throw nameError('deviceId', a.deviceId);
  validateStreamId(a.streamId);
  if (!Array.isArray(a.results)) throw new ValidationError(`expected an array, got ${describeValue(a.results)}`, 'results');
  a.results.forEach((r, i) => {
    if (typeof r !== 'object' || r === null) throw new ValidationError(`expected a result, got ${describeValue(r)}`, `results[${i}]`);
    validateSeq(r.seq, `results[${i}].seq`);
    if (!Object.hasOwn(STATUS_TO_WIRE, r.status)) {
      throw new ValidationError(`expected one of ok, duplicate, rejected, got ${describeValue(r.status)}`, `results[${i}].status`);
    }
    if (r.reason !== undefined && typeof r.reason !== 'string') {
      throw new ValidationError(`expected a string, got ${describeValue(r.reason)}`, `results[${i}].reason`);
    }
  });
}

/** Validates (throws ValidationError), then encodes. */
export function encodeAck(a: Ack): Uint8Array {
  validateAck(a);
  return pb.Ack.encode({
    deviceId: a.deviceId,
    streamId: a.streamId,
    results: a.results.map((r) => ({ seq: r.seq, status: STATUS_TO_WIRE[r.status], reason: r.reason ?? '' })),
  }).finish();
}

export function decodeAck(bytes: Uint8Array): Ack {
  if (!(bytes instanceof Uint8Array)) throw new WireFormatError('not a tidemark.v1.Ack: expected bytes');
  let msg: tidemark.v1.Ack;
  try {
    msg = pb.Ack.decode(bytes);
  } catch (err) {
    throw new WireFormatError(`not a tidemark.v1.Ack: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
  }
  const results: AckResult[] = (msg.results ?? []).map((r, i) => {
    const status = WIRE_TO_STATUS.get(r.status ?? 0);
    // An unknown status (a newer collector) must not be guessed at: the edge keeps the batch and resends.
    if (status === undefined) throw new ValidationError(`unknown ack status ${r.status ?? 0}`, `results[${i}].status`);
    const out: AckResult = { seq: safeInt64(r.seq, `results[${i}].seq`), status };
    if (r.reason) out.reason = r.reason;
    return out;
  });
  const ack: Ack = { deviceId: msg.deviceId ?? '', streamId: Uint8Array.from(msg.streamId ?? []), results };
  validateAck(ack);
  return ack;
}
