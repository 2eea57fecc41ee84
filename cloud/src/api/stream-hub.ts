// Fan-out of committed bucket updates to live-stream subscribers. The hub is fed through the aggregator's
// listener interface (`publish` is a BucketUpdateListener), turns each changed bucket into the same item
// /api/v1/aggregates serves, numbers it, and hands each subscriber the events its filter matches, in commit
// order. It never blocks the publisher: slow subscribers are the SSE route's problem (it drops them).
//
// Resume (SSE Last-Event-ID): ids are `<epoch>-<seq>`, epoch random per hub. The last `replayEvents` events
// are kept, so a client reconnecting within that window gets exactly what it missed. When that cannot be
// promised (unknown epoch = another process or a restart, an id older than the window, updates lost
// upstream, or the hub went idle in between), the subscriber gets a reset instead: "re-read
// /api/v1/aggregates, then follow from here". Idle = no subscriber for `idleRetainMs`: then publishing is
// free (nothing is serialized), which is the common case of an API nobody streams from.
import { randomBytes } from 'node:crypto';
import type { Logger } from '@tidemark/shared';
import type { BucketUpdateListener, Resolution } from '../aggregate/aggregator.js';
import type { AlertTransition } from '../alerts/alert-types.js';
import { toBucketItem } from './bucket-item.js';

/** Anything that reports committed bucket changes like the Aggregator does (it satisfies this itself). */
export interface BucketUpdateSource {
  onUpdate(listener: BucketUpdateListener): void;
  /** Updates were lost upstream (e.g. stream records trimmed before they could be read). */
  onGap?(listener: (reason: string) => void): void;
  /**
   * Lets a source that must work to find updates skip that work while nobody wants them. The source asks
   * only when there are updates to fetch (a false answer counts them as missed).
   */
  setDemand?(wanted: () => boolean): void;
}

export interface StreamFilter {
  device?: string;
  sensor?: string;
  /** Resolution label. */
  resolution?: string;
}

export interface HubEvent {
  /**
   * `bucket`: a changed bucket. `watermark`: a device's watermark advanced (buckets may have become final).
   * `alert`: an alert transition (the AlertTransition as JSON).
   */
  type: 'bucket' | 'watermark' | 'alert';
  id: string;
  device: string;
  /** Bucket events only. */
  sensor?: string;
  resolution?: string;
  /** The bucket item, or {device, watermark, allowed_lateness_ms}, as JSON (one line). */
  data: string;
}

export interface StreamSubscriber {
  /** Matching events of one commit, in order. Must not throw; must not block. */
  events(events: readonly HubEvent[]): void;
  /** Updates may have been missed; `id` is the position to resume from after re-reading the aggregates. */
  reset(reason: string, id: string): void;
}

export interface HubOptions {
  resolutions: readonly Resolution[];
  allowedLatenessMs: number;
  /** Events kept for Last-Event-ID resume (0 = none). Default 10 000. */
  replayEvents?: number;
  /**
   * How long events are still numbered and kept after the last subscriber left, so a client that lost its
   * connection can resume. After that the hub is idle and costs nothing per commit. Default 60 s.
   */
  idleRetainMs?: number;
  logger?: Logger;
}

export const DEFAULT_REPLAY_EVENTS = 10_000;
export const DEFAULT_IDLE_RETAIN_MS = 60_000;

// Sensor and resolution filters narrow bucket events only: a device's watermark concerns all its buckets.
const matches = (f: StreamFilter, e: HubEvent) =>
  (f.device === undefined || f.device === e.device) &&
  (e.type === 'watermark' ||
    (e.type === 'alert'
      ? f.sensor === undefined || e.sensor === undefined || f.sensor === e.sensor
      : (f.sensor === undefined || f.sensor === e.sensor) && (f.resolution === undefined || f.resolution === e.resolution)));

/** Committed alert transitions, for `event: alert` (the in-process evaluator, or a follower of the alert store). */
export interface AlertTransitionSource {
  onTransitions(listener: (transitions: readonly AlertTransition[]) => void): void;
}

export class BucketUpdateHub {
  readonly epoch = randomBytes(4).toString('hex');
  private seq = 0;
  /** Lowest last-seen seq from which a resume is complete (raised by evictions and gaps). */
  private floor = 0;
  private ring: HubEvent[] = [];
  private readonly capacity: number;
  private readonly resolutionMs: Map<string, number>;
  private readonly subs = new Map<StreamSubscriber, StreamFilter>();
  /** Last watermark announced per device, to announce only advances. */
  private readonly watermarks = new Map<string, number>();
  private closed = false;
  /** With no subscribers, the hub stays active (keeps events for resume) until this time. */
  private retainUntil = 0;
  /** Updates went by unrecorded while idle. */
  private missedWhileIdle = false;

  constructor(private readonly opts: HubOptions) {
    this.capacity = opts.replayEvents ?? DEFAULT_REPLAY_EVENTS;
    this.resolutionMs = new Map(opts.resolutions.map((r) => [r.label, r.ms]));
  }

  /** Connects to a source. The Aggregator cannot unsubscribe, so close() turns this hub's listener into a no-op. */
  attach(source: BucketUpdateSource): this {
    source.onUpdate(this.publish);
    source.onGap?.((reason) => this.gap(reason));
    source.setDemand?.(() => {
      if (!this.idle) return true;
      this.missedWhileIdle = true; // the source skips them, just as publish() would
      return false;
    });
    return this;
  }

  /** Nobody listens and nobody recently did: nothing is numbered or kept (see subscribe()). */
  get idle(): boolean {
    return this.subs.size === 0 && Date.now() >= this.retainUntil;
  }

  get subscribers(): number {
    return this.subs.size;
  }

  /** The id of the newest event (what a reset tells the client to resume from). */
  get lastId(): string {
    return `${this.epoch}-${this.seq}`;
  }

  readonly publish: BucketUpdateListener = (updates, watermarks) => {
    if (this.closed || updates.length === 0) return;
    if (this.idle) {
      this.missedWhileIdle = true;
      return;
    }
    const { allowedLatenessMs } = this.opts;
    const events: HubEvent[] = [];
    for (const b of updates) {
      const ms = this.resolutionMs.get(b.resolution);
      if (ms === undefined) continue; // not a resolution this API serves (config mismatch between roles)
      const item = toBucketItem(b, ms, watermarks.get(b.device), allowedLatenessMs);
      events.push({ type: 'bucket', id: `${this.epoch}-${++this.seq}`, device: b.device, sensor: b.sensor, resolution: b.resolution, data: JSON.stringify(item) });
    }
    // After the buckets, so a client applying events in order sees the data before what may finalize it.
    const devices = new Set(updates.map((b) => b.device));
    for (const device of devices) {
      const wm = watermarks.get(device);
      if (wm === undefined || wm <= (this.watermarks.get(device) ?? -Infinity)) continue;
      this.watermarks.set(device, wm);
      const data = JSON.stringify({ device, watermark: new Date(wm).toISOString(), allowed_lateness_ms: allowedLatenessMs });
      events.push({ type: 'watermark', id: `${this.epoch}-${++this.seq}`, device, data });
    }
    this.emit(events);
  };

  /** Feeds committed alert transitions into the same numbered stream (`event: alert`). */
  attachAlerts(source: AlertTransitionSource): this {
    source.onTransitions(this.publishAlerts);
    return this;
  }

  readonly publishAlerts = (transitions: readonly AlertTransition[]): void => {
    if (this.closed || transitions.length === 0) return;
    if (this.idle) {
      this.missedWhileIdle = true;
      return;
    }
    this.emit(
      transitions.map((t) => ({
        type: 'alert' as const,
        id: `${this.epoch}-${++this.seq}`,
        device: t.device,
        ...(t.sensor === null ? {} : { sensor: t.sensor }),
        data: JSON.stringify(t),
      })),
    );
  };

  private emit(events: HubEvent[]): void {
    if (this.capacity > 0) {
      this.ring.push(...events);
      const excess = this.ring.length - this.capacity;
      if (excess > 0) {
        this.floor = Math.max(this.floor, seqOf(this.ring[excess - 1]!.id));
        this.ring.splice(0, excess);
      }
    } else this.floor = this.seq;
    for (const [sub, filter] of this.subs) {
      const mine = events.filter((e) => matches(filter, e));
      if (mine.length > 0) this.deliver(sub, () => sub.events(mine));
    }
  }

  /** Updates were lost before reaching the hub: nobody can resume across this point. */
  gap(reason: string): void {
    if (this.closed) return;
    // The gap takes a number of its own: ids before it cannot resume, the reset's id (this one) can.
    this.floor = ++this.seq;
    this.ring = [];
    for (const sub of this.subs.keys()) this.deliver(sub, () => sub.reset(reason, this.lastId));
  }

  /**
   * Adds a subscriber. With a Last-Event-ID, first replays the matching events it missed, or sends it a reset
   * when that is not possible. Returns the unsubscribe function.
   */
  subscribe(filter: StreamFilter, sub: StreamSubscriber, lastEventId?: string): () => void {
    if (this.missedWhileIdle) {
      // Updates went by unrecorded: no id from before can resume (the new number marks the spot).
      this.missedWhileIdle = false;
      this.floor = ++this.seq;
      this.ring = [];
    }
    if (lastEventId !== undefined) {
      const missed = this.since(lastEventId);
      if (typeof missed === 'string') sub.reset(missed, this.lastId);
      else {
        const mine = missed.filter((e) => matches(filter, e));
        if (mine.length > 0) sub.events(mine);
      }
    }
    this.subs.set(sub, filter);
    return () => {
      if (this.subs.delete(sub) && this.subs.size === 0) this.retainUntil = Date.now() + (this.opts.idleRetainMs ?? DEFAULT_IDLE_RETAIN_MS);
    };
  }

  /** Events after `lastEventId`, or why they cannot be given. */
  private since(lastEventId: string): HubEvent[] | string {
    const m = /^([0-9a-f]+)-(\d+)$/.exec(lastEventId);
    if (!m || m[1] !== this.epoch) return 'Last-Event-ID is from another server process; updates may have been missed';
    const last = Number(m[2]);
    if (last > this.seq) return 'Last-Event-ID is not one this server issued';
    if (last < this.floor) return 'Last-Event-ID is older than the replay window; updates were missed';
    const first = this.ring.findIndex((e) => seqOf(e.id) > last);
    return first < 0 ? [] : this.ring.slice(first);
  }

  private deliver(sub: StreamSubscriber, fn: () => void): void {
    try {
      fn();
    } catch (err) {
      // A subscriber bug must never reach the aggregator's loop.
      this.opts.logger?.error({ err }, 'stream subscriber failed');
      this.subs.delete(sub);
      if (this.subs.size === 0) this.retainUntil = Date.now() + (this.opts.idleRetainMs ?? DEFAULT_IDLE_RETAIN_MS);
    }
  }

  close(): void {
    this.closed = true;
    this.subs.clear();
    this.ring = [];
  }
}

function seqOf(id: string): number {
  return Number(id.slice(id.indexOf('-') + 1));
}
