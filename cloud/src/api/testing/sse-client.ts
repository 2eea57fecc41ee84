// A minimal Server-Sent Events client for tests: a streaming fetch whose body is parsed into events as it
// arrives (per the WHATWG event-stream rules our server uses: LF line ends, `field: value`, comments).
// Tests wait on what has arrived with waitFor, never with sleeps.
import { waitFor } from '@tidemark/shared/testing';

export interface SseEvent {
  event: string;
  id: string | undefined;
  data: string;
}

export class SseClient {
  readonly events: SseEvent[] = [];
  readonly comments: string[] = [];
  retry: number | undefined;
  /** Set once the body ended or failed (server closed, or close() was called). */
  ended = false;
  private buffer = '';

  private constructor(
    readonly response: Response,
    private readonly controller: AbortController,
  ) {}

  /** Opens the stream; resolves once the response headers are in (any status: check `response`). */
  static async connect(url: string, headers: Record<string, string> = {}): Promise<SseClient> {
    const controller = new AbortController();
    const response = await fetch(url, { headers: { accept: 'text/event-stream', ...headers }, signal: controller.signal });
    const client = new SseClient(response, controller);
    if (response.ok && response.body) void client.pump(response.body);
    return client;
  }

  private async pump(body: ReadableStream<Uint8Array>): Promise<void> {
    const decoder = new TextDecoder();
    try {
      for await (const chunk of body) {
        this.buffer += decoder.decode(chunk, { stream: true });
        let end: number;
        while ((end = this.buffer.indexOf('\n\n')) >= 0) {
          this.parseBlock(this.buffer.slice(0, end));
          this.buffer = this.buffer.slice(end + 2);
        }
      }
    } catch {
      // aborted or reset: `ended` says so
    } finally {
      this.ended = true;
    }
  }

  private parseBlock(block: string): void {
    let event = 'message';
    let id: string | undefined;
    const data: string[] = [];
    for (const line of block.split('\n')) {
      if (line.startsWith(':')) {
        this.comments.push(line.slice(1).trim());
        continue;
      }
      const colon = line.indexOf(':');
      const field = colon < 0 ? line : line.slice(0, colon);
      const value = colon < 0 ? '' : line.slice(colon + 1).replace(/^ /, '');
      if (field === 'event') event = value;
      else if (field === 'id') id = value;
      else if (field === 'data') data.push(value);
      else if (field === 'retry') this.retry = Number(value);
    }
    if (data.length > 0) this.events.push({ event, id, data: data.join('\n') });
  }

  /** The `data` of every `event: bucket`, parsed. */
  buckets<T = Record<string, unknown>>(): T[] {
    return this.events.filter((e) => e.event === 'bucket').map((e) => JSON.parse(e.data) as T);
  }

  /** Waits until `check` over the events so far returns something truthy. */
  async until<T>(check: (events: readonly SseEvent[]) => T | undefined | false | null, description: string, timeoutMs = 10_000): Promise<T> {
    return waitFor(() => check(this.events), { timeoutMs, intervalMs: 10, description });
  }

  close(): void {
    this.controller.abort();
  }
}
