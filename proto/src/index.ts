// @tidemark/proto: the Tidemark wire format (tidemark.v1 over MQTT) in terms of plain readings.
// Everything protobuf-specific (columns, deltas, decimal scaling, 64-bit integers) stays inside this package.
export type { Ack, AckResult, AckStatus, Batch, ClockState, Reading } from './model.js';
export { NAME_PATTERN, STREAM_ID_BYTES, hexToStreamId, isValidName, newStreamId, streamIdToHex } from './names.js';
export { DEFAULT_BATCH_LIMITS, validateBatch, type BatchLimits } from './validate.js';
export { decodeBatch, decodeBatchColumns, encodeBatch, peekBatchIdentity, type BatchIdentity, type ColumnarBatch, type DecodeBatchOptions, type SeriesColumns } from './batch-codec.js';
export { decodeAck, encodeAck } from './ack-codec.js';
export { topics, type TopicKind } from './topics.js';
