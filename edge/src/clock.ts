// Wall-clock trust. Gateways often boot without an RTC, so every timestamp carries whether the wall clock
// was synchronised when it was taken; untrusted times are sent flagged, never silently guessed.
// The anchor (wall ms, monotonic ms) pair lets the cloud and later corrections relate the two clocks.
import { execFile } from 'node:child_process';
import { performance } from 'node:perf_hooks';
import { guard } from '@tidemark/shared';

export type SyncCheck = 'auto' | 'assume_synced' | 'never_synced';

export interface ClockAnchor {
  wallMs: number;
  monoMs: number;
}

export interface ClockOptions {
  syncCheck: SyncCheck;
  /** Wall times before this (ms since epoch) are implausible: the clock cannot be synchronised. */
  minPlausibleTime: number;
  /** How often `auto` re-checks. */
  recheckMs?: number;
  /** Injected for tests. */
  probe?: () => Promise<boolean | undefined>;
}

/** Asks systemd whether NTP has synchronised the clock; undefined when timedatectl is unavailable. */
export function timedatectlProbe(): Promise<boolean | undefined> {
  return new Promise((resolve) => {
    execFile('timedatectl', ['show', '-p', 'NTPSynchronized', '--value'], { timeout: 2000 }, (err, stdout) => {
      if (err) return resolve(undefined);
      const v = stdout.trim();
      resolve(v === 'yes' ? true : v === 'no' ? false : undefined);
    });
  });
}

export class Clock {
  private syncedState: boolean;
  private anchorState: ClockAnchor;
  private timer: NodeJS.Timeout | undefined;
  private readonly opts: Required<Omit<ClockOptions, 'probe'>> & { probe: () => Promise<boolean | undefined> };

  constructor(opts: ClockOptions) {
    this.opts = { recheckMs: 30_000, probe: timedatectlProbe, ...opts };
    this.anchorState = { wallMs: Date.now(), monoMs: Math.round(performance.now()) };
    this.syncedState = this.initialState();
  }

  private initialState(): boolean {
    switch (this.opts.syncCheck) {
      case 'assume_synced':
        return true;
      case 'never_synced':
        return false;
      case 'auto':
        return Date.now() >= this.opts.minPlausibleTime;
    }
  }

  /** Runs the first check and keeps re-checking in `auto` mode. */
  async start(): Promise<void> {
    if (this.opts.syncCheck !== 'auto') return;
    await this.check();
    // No logger here: a failed re-check (a probe or listener that throws) becomes a process warning on stderr.
    this.timer = setInterval(guard((err, what) => process.emitWarning(`${what} failed: ${String(err)}`), 'clock re-check', () => this.check()), this.opts.recheckMs);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }

  private async check(): Promise<void> {
    const plausible = Date.now() >= this.opts.minPlausibleTime;
    const ntp = await this.opts.probe();
    // Without timedatectl (containers, minimal images) plausibility is the best evidence we have.
    const synced = plausible && ntp !== false;
    if (synced !== this.syncedState) {
      const before = this.anchorState;
      this.syncedState = synced;
      this.anchorState = { wallMs: Date.now(), monoMs: Math.round(performance.now()) };
      if (synced) {
        // How far the wall clock jumped relative to the monotonic clock since the last anchor: the
        // correction for every reading stamped by the untrusted clock in this run.
        const step = this.anchorState.wallMs - this.anchorState.monoMs - (before.wallMs - before.monoMs);
        // Readings are corrected by the same step, so letting now() follow the new clock keeps order.
        this.last = 0;
        for (const l of this.listeners) l(step);
      }
    }
  }

  private readonly listeners: ((stepMs: number) => void)[] = [];

  /** Called when the clock becomes synchronised, with the wall clock's step in ms (may be negative). */
  onSynced(listener: (stepMs: number) => void): void {
    this.listeners.push(listener);
  }

  get synced(): boolean {
    return this.syncedState;
  }

  get anchor(): ClockAnchor {
    return this.anchorState;
  }

  /** Current wall time in ms; never goes backwards within this process even if the wall clock steps back. */
  private last = 0;
  now(): number {
    const t = Date.now();
    this.last = t > this.last ? t : this.last;
    return this.last;
  }
}
