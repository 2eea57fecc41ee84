// /api/v1/stream read with fetch (EventSource cannot send an Authorization header). Reconnects with the
// server's `retry:` delay and Last-Event-ID; on `reset` (the server could not promise a complete resume) the
// owner re-reads the aggregates. Closing aborts the request, so a view that goes away leaves nothing open.
import { auth } from './api.js';

export interface StreamEvent {
  event: string;
  id: string | undefined;
  data: string;
}

export interface LiveOptions {
  query: Record<string, string>;
  onEvents(events: StreamEvent[]): void;
  /** Called after a reset event or a reconnect without a usable id: re-read, then keep following. */
  onReset?(): void;
  onState?(state: 'connecting' | 'open' | 'unavailable' | 'closed'): void;
}

export class LiveStream {
  private abort = new AbortController();
  private lastId: string | undefined;
  private retryMs = 3000;
  private closed = false;

  constructor(private readonly opts: LiveOptions) {
    void this.run();
  }

  close(): void {
    this.closed = true;
    this.abort.abort();
    this.opts.onState?.('closed');
  }

  private async run(): Promise<void> {
    let first = true;
    while (!this.closed) {
      this.opts.onState?.('connecting');
      try {
        const headers: Record<string, string> = { accept: 'text/event-stream' };
        const token = auth.token;
        if (token) headers.authorization = `Bearer ${token}`;
        if (this.lastId) headers['last-event-id'] = this.lastId;
        const res = await fetch(`/api/v1/stream?${new URLSearchParams(this.opts.query)}`, { headers, signal: this.abort.signal });
        if (res.status === 501 || res.status === 404) {
          this.opts.onState?.('unavailable');
          return;
        }
        if (!res.ok || !res.body) throw new Error(`stream answered ${res.status}`);
        this.opts.onState?.('open');
        // A reconnect without a resumable id may have missed updates.
        if (!first && !this.lastId) this.opts.onReset?.();
        first = false;
        await this.read(res.body);
      } catch (err) {
        if (this.closed) return;
        void err;
      }
      if (this.closed) return;
      await new Promise((r) => setTimeout(r, this.retryMs));
    }
  }

  private async read(body: ReadableStream<Uint8Array>): Promise<void> {
    const reader = body.getReader();
    const decoder = new TextDecoder();
    let buf = '';
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return;
      buf += decoder.decode(value, { stream: true });
      let cut: number;
      const batch: StreamEvent[] = [];
      while ((cut = buf.indexOf('\n\n')) >= 0) {
        const block = buf.slice(0, cut);
        buf = buf.slice(cut + 2);
        const ev = this.parse(block);
        if (ev) batch.push(ev);
      }
      if (batch.length) {
        const resets = batch.filter((e) => e.event === 'reset');
        const rest = batch.filter((e) => e.event !== 'reset');
        if (rest.length) this.opts.onEvents(rest);
        if (resets.length) this.opts.onReset?.();
      }
    }
  }

  private parse(block: string): StreamEvent | undefined {
    let event = 'message';
    let id: string | undefined;
    const data: string[] = [];
    for (const line of block.split('\n')) {
      if (line === '' || line.startsWith(':')) continue;
      const i = line.indexOf(':');
      const field = i < 0 ? line : line.slice(0, i);
      const value = i < 0 ? '' : line.slice(i + 1).replace(/^ /, '');
      if (field === 'event') event = value;
      else if (field === 'data') data.push(value);
      else if (field === 'id') id = value;
      else if (field === 'retry' && /^\d+$/.test(value)) this.retryMs = Number(value);
    }
    if (id !== undefined) this.lastId = id;
    if (data.length === 0) return undefined;
    return { event, id, data: data.join('\n') };
  }
}
