// Reads an open serial port on a timer (serial.read_interval_ms) instead of through serialport's stream.
// The stream reads every chunk the moment it arrives, each read a round trip through libuv's thread pool
// plus a failed read and a poll wake-up: at 100 lines/s that alone cost ~6–8 % of a core on the benchmark
// VM (issue 12). A timer that drains whatever the tty buffered since the last tick does one non-blocking
// read per tick, ~1.5–2 %. The cost is latency: a line waits at most one interval before it is read (a
// USB-serial adapter already holds bytes up to 16 ms). The kernel keeps what arrives in between (4 KiB
// N_TTY buffer = ~350 ms at 115200 baud, ~44 ms at 921600), and a tick reads until the tty is empty.
import { readSync } from 'node:fs';
import { guard } from '@tidemark/shared';

export interface PollerSink {
  data(chunk: Buffer): void;
  /** The port failed or hung up; the poller has stopped. */
  lost(why: string): void;
}

const READ_BYTES = 64 * 1024;
const RETRY_CODES = new Set(['EAGAIN', 'EWOULDBLOCK', 'EINTR']);

export class PortPoller {
  private timer: NodeJS.Timeout | undefined;
  /** Reused for every read: the framer copies what it keeps and decodes lines to strings at once. */
  private readonly buf = Buffer.allocUnsafe(READ_BYTES);

  /**
   * `fd` must be open non-blocking with VMIN >= 1 (serialport opens ports so: O_NONBLOCK, vmin 1), so an
   * empty tty reads as EAGAIN and only a hung-up one reads 0 bytes.
   */
  constructor(
    private readonly fd: number,
    private readonly intervalMs: number,
    private readonly sink: PollerSink,
  ) {}

  start(): void {
    this.timer ??= setInterval(
      guard(
        (err) => {
          this.stop();
          this.sink.lost(`serial read failed: ${(err as Error)?.message ?? String(err)}`);
        },
        'serial poll',
        () => this.poll(),
      ),
      this.intervalMs,
    );
  }

  /** Stops reading; call before the port's fd is closed. Idempotent. */
  stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
  }

  private poll(): void {
    while (this.timer !== undefined) {
      let n: number;
      try {
        n = readSync(this.fd, this.buf, 0, READ_BYTES, null);
      } catch (err) {
        if (RETRY_CODES.has((err as NodeJS.ErrnoException).code ?? '')) return; // nothing buffered
        this.stop();
        this.sink.lost((err as Error).message);
        return;
      }
      if (n === 0) {
        // A hung-up tty reads as end of file, forever: that is a lost port, not an empty one.
        this.stop();
        this.sink.lost('port hung up (end of file)');
        return;
      }
      this.sink.data(this.buf.subarray(0, n));
      if (n < READ_BYTES) return;
    }
  }
}
