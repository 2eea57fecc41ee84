// Counts the readings transforms remove, by transform and reason, into one Prometheus counter. Removals are
// tallied in a map while a source's readings pass the chain and added to the counter once per call: a
// prom-client inc per reading (label hashing) would cost more than the transforms themselves.
import type { RemovedHandler } from './pipeline.js';

interface LabelledCounter {
  inc(labels: { transform: string; reason: string }, value: number): void;
}

export class RemovalTally {
  private readonly pending = new Map<string, number>();

  constructor(private readonly counter: LabelledCounter) {}

  /** Hand this to TransformPipeline.run. */
  readonly onRemoved: RemovedHandler = (transform, reason) => {
    const key = `${transform}\u0000${reason}`;
    this.pending.set(key, (this.pending.get(key) ?? 0) + 1);
  };

  /** Adds the tallied removals to the counter. */
  flush(): void {
    if (this.pending.size === 0) return;
    for (const [key, n] of this.pending) {
      const [transform, reason] = key.split('\u0000') as [string, string];
      this.counter.inc({ transform, reason }, n);
    }
    this.pending.clear();
  }
}
