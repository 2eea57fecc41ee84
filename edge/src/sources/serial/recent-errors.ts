// The last few refused lines of a source, with reason and time, for `/status` and `doctor`. A fixed ring:
// recording is O(1) and allocation-free beyond the entry, so a flood of garbage costs no memory.

export interface RecentError {
  /** ISO 8601 UTC. */
  at: string;
  reason: string;
  /** The line (or its start), at most RECENT_LINE_CHARS characters. */
  line: string;
}

export const RECENT_LINE_CHARS = 200;

interface Entry {
  at: number;
  reason: string;
  line: string;
}

export class RecentErrors {
  private readonly ring: (Entry | undefined)[];
  private next = 0;

  constructor(readonly capacity = 10) {
    this.ring = new Array<Entry | undefined>(capacity).fill(undefined);
  }

  record(at: number, reason: string, line: string): void {
    const text = line.length > RECENT_LINE_CHARS ? `${line.slice(0, RECENT_LINE_CHARS - 1)}…` : line;
    this.ring[this.next] = { at, reason, line: text };
    this.next = (this.next + 1) % this.capacity;
  }

  /** Oldest first. */
  list(): RecentError[] {
    const out: RecentError[] = [];
    for (let i = 0; i < this.capacity; i++) {
      const e = this.ring[(this.next + i) % this.capacity];
      if (e !== undefined) out.push({ at: new Date(e.at).toISOString(), reason: e.reason, line: e.line });
    }
    return out;
  }
}
