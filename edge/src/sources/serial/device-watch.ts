// Notices that an open serial device is gone although the port never said so. On Linux a hung-up tty
// (USB unplug, pty peer gone) reads 0 bytes forever, and serialport's unixRead retries zero-byte reads
// without end instead of reporting a disconnect (serialport/bindings-cpp#162). Unplugging removes the device
// node and its /dev/serial/by-id link, so polling the path's identity catches what the port misses.
import { guard } from '@tidemark/shared';
import fs from 'node:fs';

/** How often an open device's path is checked. */
export const DEVICE_WATCH_INTERVAL_MS = 250;

export class DeviceWatch {
  private timer: NodeJS.Timeout | undefined;
  /** undefined: not watching; '': watching, identity not learned yet (the first stat failed oddly). */
  private identity: string | undefined;
  private checking = false;
  /** Bumped by stop(), so a start() still waiting for its first stat knows it was cancelled. */
  private generation = 0;

  constructor(
    private readonly devicePath: string,
    private readonly onGone: (why: string) => void,
    private readonly intervalMs = DEVICE_WATCH_INTERVAL_MS,
  ) {}

  /** Remembers which device the path names now, then checks it periodically until stop() or gone. */
  async start(): Promise<void> {
    this.stop();
    const generation = this.generation;
    const first = await identify(this.devicePath);
    if (generation !== this.generation) return;
    if (first === undefined) return this.onGone('device path disappeared');
    this.identity = first.startsWith('!') ? '' : first;
    // No logger here: a check that throws (an onGone handler) becomes a process warning on stderr, never a crash.
    this.timer = setInterval(guard((err, what) => process.emitWarning(`${what} failed: ${String(err)}`), 'serial device watch', () => this.check()), this.intervalMs);
  }

  /** Whether periodic checks are scheduled. */
  get watching(): boolean {
    return this.timer !== undefined;
  }

  stop(): void {
    this.generation++;
    clearInterval(this.timer);
    this.timer = undefined;
    this.identity = undefined;
  }

  private async check(): Promise<void> {
    if (this.checking || this.identity === undefined) return;
    this.checking = true;
    const generation = this.generation;
    try {
      const now = await identify(this.devicePath);
      if (generation !== this.generation) return; // stopped meanwhile
      if (now === undefined) return this.gone('device path disappeared');
      // A transient error (EACCES during udev's rule run, EMFILE) is not proof of an unplug.
      if (now.startsWith('!')) return;
      if (this.identity === '') this.identity = now;
      else if (now !== this.identity) return this.gone('device path now names another device');
    } finally {
      this.checking = false;
    }
  }

  private gone(why: string): void {
    this.stop();
    this.onGone(why);
  }
}

/** `dev:ino:rdev` of what the path names, undefined when it does not exist, `!message` on other errors. */
async function identify(p: string): Promise<string | undefined> {
  try {
    const st = await fs.promises.stat(p);
    return `${st.dev}:${st.ino}:${st.rdev}`;
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR' || code === 'ENODEV' || code === 'ENXIO') return undefined;
    return `!${(err as Error).message}`;
  }
}
