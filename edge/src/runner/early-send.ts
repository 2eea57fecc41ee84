// The runner's `buffer.persist: unacked` policy: when the commit queue is sealed and sent instead of written.
// A reading must be durable within buffer.commit_interval_ms of being read — committed to the buffer, or
// acked by the collector (stored there, exactly once by its seq). So the queue is sealed `lead` after its
// first reading and sent at once, leaving the rest of the interval for the ack; the volatile batches still
// unacked at that deadline are written then (the runner's persist timer). On a healthy link the ack wins and
// nothing is written at all: an SD card is spared the fsync of every group commit.
// The grace left for the ack is three ack round trips (a moving mean), at least MIN_GRACE_MS (a timer may
// fire late by a GC pause or a busy event loop). When that is
// more than half the interval, an ack would rarely beat the deadline — sealing early would only make more,
// smaller batches and write them anyway — so the queue is committed as usual.

/** Least time left for an ack between the early seal and the commit deadline. */
export const MIN_GRACE_MS = 20;

/**
 * How long after the first queued reading to seal and send the queue, or undefined: commit it as usual.
 * `ackRttMs` undefined (no ack seen yet): half the interval each way.
 */
export function earlySendLead(commitIntervalMs: number, ackRttMs: number | undefined): number | undefined {
  const half = commitIntervalMs / 2;
  const grace = ackRttMs === undefined ? half : Math.max(MIN_GRACE_MS, 3 * ackRttMs);
  return grace > half ? undefined : commitIntervalMs - grace;
}
