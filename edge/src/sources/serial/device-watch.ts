// Notices that an open serial device is gone although the port never said so. On Linux a hung-up tty
// (USB unplug, pty peer gone) reads 0 bytes forever, and serialport's unixRead retries zero-byte reads
// without end instead of reporting a disconnect (serialport/bindings-cpp#162). Unplugging removes the device
// node and its /dev/serial/by-id link, so polling the path's identity catches what the port misses.
// The stat is synchronous: a stat of a path in /dev never waits for the device, and done in the timer it
// costs one system call, not a thread-pool round trip and a second wake-up of the process (issue 12).
// While bytes come, the source's reads do the check (checkIfDue): the process is awake anyway, and the timer
// is pushed out each time, so a busy port costs no wake-up of the watch's own; a quiet one, one per interval.
import { guard } from '@tidemark/shared';
import fs from 'node:fs';

/** How often an open device's path is checked. */
export const DEVICE_WATCH_INTERVAL_MS = 250;

export class DeviceWatch {
  private timer: NodeJS.Timeout | undefined;
  /** undefined: not watching; '': watching, identity not learned yet (the first stat failed oddly). */
  private identity: string | undefined;
  /** performance.now() of the last check (or of the start). */
  private checkedAt = 0;
  private readonly onTimer: () => void;

  constructor(
    private readonly devicePath: string,
    private readonly onGone: (why: string) => void,
    private readonly intervalMs = DEVICE_WATCH_INTERVAL_MS,
  ) {
    // No logger here: a check that throws (an onGone handler) becomes a process warning on stderr, never a crash.
    this.onTimer = guard((err, what) => process.emitWarning(`${what} failed: ${String(err)}`), 'serial device watch', () => this.check());
  }

  /** Remembers which device the path names now, then checks it periodically until stop() or gone. */
  async start(): Promise<void> {
    this.stop();
    const first = identify(this.devicePath);
    if (first === undefined) return this.onGone('device path disappeared');
    this.identity = first.startsWith('!') ? '' : first;
    this.checkedAt = performance.now();
    // guard-audit: this.onTimer is built with guard() in the constructor
    this.timer = setInterval(this.onTimer, this.intervalMs);
  }

  /**
   * The caller is awake anyway (it just read the port): checks the path now if half an interval passed since
   * the last check, and restarts the interval from here, so the timer only fires once the reads stop. A path
   * is so checked at least every interval, as by the timer alone. Throws what the onGone handler throws.
   */
  checkIfDue(): void {
    if (this.timer === undefined || performance.now() - this.checkedAt < this.intervalMs / 2) return;
    // A new timer rather than refresh(): Node keeps a refreshed timer's list at its old expiry, and would
    // wake up then to find nothing due.
    clearInterval(this.timer);
    // guard-audit: this.onTimer is built with guard() in the constructor
    this.timer = setInterval(this.onTimer, this.intervalMs);
    this.check();
  }

  /** Whether periodic checks are scheduled. */
  get watching(): boolean {
    return this.timer !== undefined;
  }

  stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
    this.identity = undefined;
  }

  private check(): void {
    if (this.identity === undefined) return;
    this.checkedAt = performance.now();
    const now = identify(this.devicePath);
    if (now === undefined) return this.gone('device path disappeared');
    // A transient error (EACCES during udev's rule run, EMFILE) is not proof of an unplug.
    if (now.startsWith('!')) return;
    if (this.identity === '') this.identity = now;
    else if (now !== this.identity) return this.gone('device path now names another device');
  }

  private gone(why: string): void {
    this.stop();
    this.onGone(why);
  }
}

/** `dev:ino:rdev` of what the path names, undefined when it does not exist, `!message` on other errors. */
function identify(p: string): string | undefined {
  try {
    const st = fs.statSync(p);
    return `${st.dev}:${st.ino}:${st.rdev}`;
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR' || code === 'ENODEV' || code === 'ENXIO') return undefined;
    return `!${(err as Error).message}`;
  }
}
