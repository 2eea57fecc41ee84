// The buffer's data types, shared by the buffer, its helpers (chunks, drops, clock correction) and the runner.

export interface BufferedReading {
  sensor: string;
  ts: number;
  value: number;
  /** Whether `ts` came from a synchronised wall clock. A batch never mixes trusted and untrusted times. */
  synced: boolean;
}

export interface SealedBatch {
  seq: number;
  payload: Uint8Array;
  readings: number;
  synced: boolean;
  firstTs: number;
  lastTs: number;
  createdMs: number;
}

/**
 * Builds the wire bytes for a batch at seal time. `lowWaterSeq`: the oldest seq still in the buffer (every
 * seq below it was acked or given up and will never be sent), so the collector can fold gaps in its dedup.
 */
export type BatchEncoder = (seq: number, readings: BufferedReading[], synced: boolean, lowWaterSeq: number) => Uint8Array;

export interface BufferStats {
  deviceId: string;
  streamId: string;
  nextSeq: number;
  pendingReadings: number;
  sealedBatches: number;
  sealedReadings: number;
  bufferedReadings: number;
  oldestTs: number | null;
  newestTs: number | null;
  fileBytes: number;
  drops: Record<string, number>;
}

export interface SqliteBufferOptions {
  path: string;
  deviceId: string;
  /**
   * Caps the database file at this many pages: SQLite then fails writes with SQLITE_FULL exactly as on a
   * full disk. For tests and for emulating a small SD card; the agent itself leaves it unset.
   */
  maxPageCount?: number;
}
