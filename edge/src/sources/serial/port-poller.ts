// Reads an open serial port on a timer (serial.read_interval_ms) instead of through serialport's stream.
// The stream reads every chunk the moment it arrives, each read a round trip through libuv's thread pool
// plus a failed read and a poll wake-up: at 100 lines/s that alone cost ~6–8 % of a core on the benchmark
// VM (issue 12). A timer that drains whatever the tty buffered since the last tick does one non-blocking
// read per tick, ~1.5–2 %. The cost is latency: a line waits at most one interval before it is read (a
// USB-serial adapter already holds bytes up to 16 ms). The kernel keeps what arrives in between (4 KiB
// N_TTY buffer = ~350 ms at 115200 baud, ~44 ms at 921600), and a tick reads until the tty is empty.
// A quiet port does not keep the timer going: a tick that finds nothing stops it and waits for the port to
// become readable (`waitReadable`, the fd's poll watch), reads at once when it does — so the first line after
// a quiet spell is read on arrival — and ticks again while bytes keep coming. Idle, the port costs no
// wake-ups; under a steady stream every tick finds bytes and the cadence is the timer's.
// readNow() lets another wake-up of the process serve as a tick (the runner's seal timer: issue 12): it reads
// at once and restarts the interval from there, so no line waits longer than an interval, and the timer does
// not wake the process again a few milliseconds later to find what that read already took.
import { readSync } from 'node:fs';
import { guard } from '@tidemark/shared';

export interface PollerSink {
  data(chunk: Buffer): void;
  /** The port failed or hung up; the poller has stopped. */
  lost(why: string): void;
}

/**
 * Calls `callback` once, when the fd has bytes to read (or hung up), or with an error when waiting failed.
 * Returns a function that cancels the wait. Level-triggered: bytes that arrived before the call count.
 */
export type WaitReadable = (callback: (err: Error | null) => void) => () => void;

const READ_BYTES = 64 * 1024;
const RETRY_CODES = new Set(['EAGAIN', 'EWOULDBLOCK', 'EINTR']);

type PollResult = 'data' | 'empty' | 'lost';

export class PortPoller {
  private running = false;
  private timer: NodeJS.Timeout | undefined;
  private cancelWait: (() => void) | undefined;
  /** Reused for every read: the framer copies what it keeps and decodes lines to strings at once. */
  private readonly buf = Buffer.allocUnsafe(READ_BYTES);
  private readonly tick: () => void;
  private readonly woken: (err: Error | null) => void;
  private readonly readAtOnce: () => void;

  /**
   * `fd` must be open non-blocking with VMIN >= 1 (serialport opens ports so: O_NONBLOCK, vmin 1), so an
   * empty tty reads as EAGAIN and only a hung-up one reads 0 bytes. Without `waitReadable` the timer runs
   * whether or not bytes come.
   */
  constructor(
    private readonly fd: number,
    private readonly intervalMs: number,
    private readonly sink: PollerSink,
    private readonly waitReadable?: WaitReadable,
  ) {
    const failed = (err: unknown) => {
      this.stop();
      this.sink.lost(`serial read failed: ${(err as Error)?.message ?? String(err)}`);
    };
    this.tick = guard(failed, 'serial poll', () => {
      if (this.poll() === 'empty') this.sleep();
    });
    this.woken = guard(failed, 'serial readable', (err: Error | null) => {
      this.cancelWait = undefined;
      if (!this.running) return;
      if (err) throw err;
      // Read what woke us now (stamped on arrival), then tick while bytes keep coming.
      if (this.poll() !== 'lost') this.startTimer();
    });
    this.readAtOnce = guard(failed, 'serial read now', () => {
      if (!this.running) return;
      if (this.timer !== undefined) {
        // This read is the tick: the next one is an interval from now. A new timer rather than refresh():
        // Node keeps a refreshed timer's list at its old expiry, and would wake up then to find nothing due.
        clearInterval(this.timer);
        // guard-audit: this.tick is built with guard() in the constructor
        this.timer = setInterval(this.tick, this.intervalMs);
        // Not asleep on an empty read: the caller's moment says nothing about the port; the tick decides.
        this.poll();
        return;
      }
      // Asleep: bytes that arrived since are read now (their readable callback may not have run yet), and the
      // timer starts as when the port wakes the poller. A quiet port stays asleep.
      if (this.poll() !== 'data' || !this.running) return;
      const cancel = this.cancelWait;
      this.cancelWait = undefined;
      cancel?.();
      this.startTimer();
    });
  }

  start(): void {
    if (this.running) return;
    this.running = true;
    this.startTimer();
  }

  /**
   * Reads what the port holds now, as a tick would, and counts it as the tick: the interval restarts from
   * here. For a caller that is awake anyway (a timer of its own) and wants the lines that already arrived.
   * Does nothing once stopped.
   */
  readNow(): void {
    this.readAtOnce();
  }

  /** Stops reading; call before the port's fd is closed. Idempotent. */
  stop(): void {
    this.running = false;
    clearInterval(this.timer);
    this.timer = undefined;
    const cancel = this.cancelWait;
    this.cancelWait = undefined;
    cancel?.();
  }

  /** Whether the poller is waiting for the port to become readable (no timer running). */
  get sleeping(): boolean {
    return this.cancelWait !== undefined;
  }

  private startTimer(): void {
    // guard-audit: this.tick is built with guard() in the constructor (made once, not per start)
    if (this.running) this.timer ??= setInterval(this.tick, this.intervalMs);
  }

  private sleep(): void {
    if (this.waitReadable === undefined || !this.running) return;
    clearInterval(this.timer);
    this.timer = undefined;
    this.cancelWait = this.waitReadable(this.woken);
  }

  private poll(): PollResult {
    let result: PollResult = 'empty';
    while (this.running) {
      let n: number;
      try {
        n = readSync(this.fd, this.buf, 0, READ_BYTES, null);
      } catch (err) {
        if (RETRY_CODES.has((err as NodeJS.ErrnoException).code ?? '')) return result; // nothing (more) buffered
        this.stop();
        this.sink.lost((err as Error).message);
        return 'lost';
      }
      if (n === 0) {
        // A hung-up tty reads as end of file, forever: that is a lost port, not an empty one.
        this.stop();
        this.sink.lost('port hung up (end of file)');
        return 'lost';
      }
      result = 'data';
      this.sink.data(this.buf.subarray(0, n));
      if (n < READ_BYTES) return result;
    }
    return result;
  }
}
