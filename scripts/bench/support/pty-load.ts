// Serial input for benchmarks, written to the far end of socat pty pairs: a sparse probe whose values name
// each reading (line `k`), and csv bulk load at a fixed rate. Writes never block the benchmark's event loop
// (it also timestamps what it measures): the fd is non-blocking and what the pty cannot take yet waits in
// memory for the next write, counted as a stall.
import { closeSync, constants, openSync, writeSync } from 'node:fs';

export class PtyWriter {
  private readonly fd: number;
  private pending = '';
  /** Writes the pty refused (EAGAIN) because the reader fell behind. */
  stalls = 0;
  /** Why writing stopped (socat gone: EIO); the benchmark reports it, its process watch says why. */
  failed: string | undefined;

  constructor(path: string) {
    this.fd = openSync(path, constants.O_WRONLY | constants.O_NONBLOCK | constants.O_NOCTTY);
    // What precedes the first line end after the agent opens its port is discarded as a partial line.
    this.write('\n');
  }

  write(text: string): void {
    if (this.failed !== undefined) return;
    this.pending += text;
    while (this.pending.length > 0) {
      let n: number;
      try {
        n = writeSync(this.fd, this.pending);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'EAGAIN') this.stalls++;
        else this.failed = (err as Error).message;
        return;
      }
      // ASCII only, so bytes = characters.
      this.pending = this.pending.slice(n);
    }
  }

  close(): void {
    closeSync(this.fd);
  }
}

/** Line `k` (k = 1, 2, …) at random intervals with mean 1000 / hz ms, so it cannot phase-lock with the agent's timers. */
export class Probe {
  private timer: NodeJS.Timeout | undefined;
  private k = 0;
  /** writtenAt[k] = Date.now() just before line k was written. */
  readonly writtenAt: number[] = [];
  readonly out: PtyWriter;

  constructor(path: string, private readonly hz: number) {
    this.out = new PtyWriter(path);
  }

  start(): void {
    this.timer = setTimeout(() => {
      this.k++;
      this.writtenAt[this.k] = Date.now();
      this.out.write(`${this.k}\n`);
      this.start();
    }, (1000 / this.hz) * (0.5 + Math.random()));
  }

  /** The last k written at or before `t`. */
  lastBefore(t: number): number {
    let k = this.k;
    while (k > 0 && this.writtenAt[k]! > t) k--;
    return k;
  }

  stop(): void {
    clearTimeout(this.timer);
    this.out.close();
  }
}

/**
 * csv lines of `columns` random-walk values (2 decimals) at `linesPerS` to each writer, emitted every 10 ms
 * against the wall clock (a late timer writes the lines it owes), like a PLC printing on a serial line.
 */
export class CsvLoad {
  private timer: NodeJS.Timeout | undefined;
  private t0 = 0;
  private readonly written: number[];
  private readonly walk: number[][];
  /** Per writer, values to put in the next due line instead of the walk (a spike), and who wants to know when. */
  private readonly injections: { column: number; value: string; written: (at: number) => void }[][];

  /** Per writer, the walk's random source. */
  private readonly random: (() => number)[];

  /**
   * `seed`: each writer's walk draws from its own generator seeded `seed + writer`, so a run's values are the
   * same whatever the timing (what the alert rules decide then repeats from run to run); absent: Math.random.
   */
  constructor(
    private readonly outs: readonly PtyWriter[],
    private readonly columns: number,
    private readonly linesPerS: number,
    seed?: number,
  ) {
    this.random = outs.map((_, i) => (seed === undefined ? Math.random : mulberry32(seed + i)));
    this.written = outs.map(() => 0);
    this.walk = outs.map(() => Array.from({ length: columns }, () => 50));
    this.injections = outs.map(() => []);
  }

  /**
   * Puts `value` in `column` of writer `writer`'s next due line (the walk goes on underneath); `written` gets
   * Date.now() taken just before the write that carries it.
   */
  inject(writer: number, column: number, value: string, written: (at: number) => void): void {
    this.injections[writer]!.push({ column, value, written });
  }

  start(): void {
    this.t0 = Date.now();
    this.timer = setInterval(() => this.tick(), 10);
  }

  private tick(): void {
    const due = Math.floor(((Date.now() - this.t0) * this.linesPerS) / 1000);
    this.outs.forEach((out, i) => {
      const w = this.walk[i]!;
      const random = this.random[i]!;
      let text = '';
      const injected: ((at: number) => void)[] = [];
      for (; this.written[i]! < due; this.written[i]!++) {
        const spike = this.injections[i]!.shift();
        if (spike) injected.push(spike.written);
        for (let c = 0; c < this.columns; c++) {
          w[c] = Math.min(100, Math.max(0, w[c]! + random() - 0.5));
          text += (c > 0 ? ',' : '') + (spike?.column === c ? spike.value : w[c]!.toFixed(2));
        }
        text += '\n';
      }
      const at = Date.now();
      if (text !== '') out.write(text);
      for (const f of injected) f(at);
    });
  }

  stop(): void {
    clearInterval(this.timer);
  }
}

/** A small seeded generator of uniform [0, 1) numbers (mulberry32): repeatable bench data. */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
