// A stand-in for the Uplink (uplink.ts) in sender and agent tests: a switchable connection, a record of every publish, and
// publishes that resolve at once (PUBACK), fail, or wait until the test releases them.
import { NotConnectedError } from '@tidemark/shared';
import type { MqttUplink } from '../mqtt-uplink.js';

export interface RecordedPublish {
  topic: string;
  payload: Uint8Array;
}

interface Held {
  publish: RecordedPublish;
  resolve(): void;
  reject(err: Error): void;
}

export class FakeUplink {
  connected = true;
  started = false;
  stopped = false;

  async start(): Promise<void> {
    this.started = true;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.connected = false;
  }

  /** What a publish does: resolve now, reject now, or wait for release()/fail(). */
  mode: 'ack' | 'fail' | 'hold' = 'ack';
  readonly publishes: RecordedPublish[] = [];
  private readonly held: Held[] = [];

  publish(topic: string, payload: Uint8Array | string): Promise<void> {
    if (!this.connected) return Promise.reject(new NotConnectedError('not connected to the collector'));
    const p = { topic, payload: typeof payload === 'string' ? new TextEncoder().encode(payload) : Uint8Array.from(payload) };
    this.publishes.push(p);
    if (this.mode === 'fail') return Promise.reject(new Error('connection lost while publishing'));
    if (this.mode === 'hold') return new Promise((resolve, reject) => this.held.push({ publish: p, resolve, reject }));
    return Promise.resolve();
  }

  get heldCount(): number {
    return this.held.length;
  }

  /** Resolves the oldest held publish (its PUBACK arrives). */
  release(): void {
    const h = this.held.shift();
    if (!h) throw new Error('no publish is held');
    h.resolve();
  }

  /** Rejects the oldest held publish. */
  fail(): void {
    const h = this.held.shift();
    if (!h) throw new Error('no publish is held');
    h.reject(new Error('connection lost while publishing'));
  }

  /** The seqs published so far (from the payloads), in order, optionally only from index `since` on. */
  seqs(decodeSeq: (payload: Uint8Array) => number, since = 0): number[] {
    return this.publishes.slice(since).map((p) => decodeSeq(p.payload));
  }

  asUplink(): MqttUplink {
    return this as unknown as MqttUplink;
  }
}
