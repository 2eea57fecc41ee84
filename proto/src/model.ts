// The plain-data view of the wire messages that the rest of Tidemark codes against. The protobuf shapes
// (columnar series, deltas, Long) never leak past this package.

/** One sensor reading. `ts`: integer ms since the Unix epoch (>= 0, safe integer); `value`: finite float64. */
export interface Reading {
  sensor: string;
  ts: number;
  value: number;
}

/** The wall/monotonic anchor the agent used to stamp readings, and whether the wall clock was synchronised. */
export interface ClockState {
  synced: boolean;
  anchorWallMs: number;
  anchorMonoMs: number;
}

/** One upload. (deviceId, streamId, seq) is its identity; its content never changes once sent. */
export interface Batch {
  deviceId: string;
  streamId: Uint8Array;
  seq: number;
  clock: ClockState;
  readings: Reading[];
  /** Every seq below this was acked or given up by the sender and will never be sent (0/absent: unknown). */
  lowWaterSeq?: number;
}

export type AckStatus = 'ok' | 'duplicate' | 'rejected';

export interface AckResult {
  seq: number;
  status: AckStatus;
  /** Why a batch was rejected; absent when empty on the wire. */
  reason?: string;
}

/** The collector's app-level acknowledgement of one or more batches of one stream. */
export interface Ack {
  deviceId: string;
  streamId: Uint8Array;
  results: AckResult[];
}
