// When the alert evaluator commits its state with a stream offset (alerts.checkpoint_interval): the state of
// evaluated chunks may wait, per partition, until the interval has passed since the first of them, and then
// commits with the offset after the last. (Their transitions do not wait: the evaluator publishes them at
// once, ahead of the checkpoint — alert-evaluator.ts.) Invariant: a deferred entry names the
// partition's committed checkpoint (`expectedOffset`, what the commit is fenced on) and carries every series
// and kv change made since it, so one commit covers all the chunks it held.

/** Chunks of one partition evaluated but not yet committed. */
export interface Deferred {
  expectedOffset: number;
  /** The offset after the last deferred chunk. */
  next: number;
  dirty: Set<string>;
  kv: Map<string, string>;
  /** When the first of them was evaluated (clock). */
  since: number;
}

export class CheckpointDeferral {
  private readonly held = new Map<number, Deferred>();

  /** intervalMs 0: nothing is ever held. `clock`: monotonic ms. */
  constructor(
    readonly intervalMs: number,
    private readonly clock: () => number,
  ) {}

  /** What the partition's next commit must also cover, if anything is held. */
  of(partition: number): Deferred | undefined {
    return this.held.get(partition);
  }

  /**
   * After a chunk was evaluated into `d` (the held changes plus its own): holds it and returns true, or
   * returns false when it must commit now (the interval has passed, or it is 0).
   */
  hold(partition: number, d: Omit<Deferred, 'since'>): boolean {
    if (this.intervalMs <= 0) return false;
    const now = this.clock();
    const since = this.held.get(partition)?.since ?? now;
    if (now - since >= this.intervalMs) return false;
    this.held.set(partition, { ...d, since });
    return true;
  }

  /** The held partitions that have waited at least `olderThanMs` (0: all of them). */
  due(olderThanMs: number): [number, Deferred][] {
    const now = this.clock();
    return [...this.held].filter(([, d]) => now - d.since >= olderThanMs);
  }

  /** The partition committed. */
  committed(partition: number): void {
    this.held.delete(partition);
  }

  /** The evaluator's memory was dropped (a failed commit, a reload): what was held is gone with it. */
  clear(): void {
    this.held.clear();
  }
}
