// A minimal Server-Sent Events client for benchmarks: one HTTP GET, events parsed as they arrive, each
// stamped with the wall-clock time its chunk was received (not when the caller got round to it).
import { get, type ClientRequest } from 'node:http';

export interface SseEvent {
  type: string;
  id: string | undefined;
  data: string;
  /** Date.now() when the chunk holding the event's end arrived. */
  at: number;
}

export interface SseConnection {
  close(): void;
  /** Resolves when the stream ends: undefined if close() ended it, else the reason. */
  readonly ended: Promise<string | undefined>;
}

/** Connects and resolves once the server has answered 200 and sent its first bytes. */
export function openSse(url: string, onEvent: (e: SseEvent) => void): Promise<SseConnection> {
  return new Promise((resolve, reject) => {
    let closing = false;
    let opened = false;
    let endReason: (r: string | undefined) => void = () => {};
    const ended = new Promise<string | undefined>((r) => (endReason = r));
    const req: ClientRequest = get(url, { headers: { accept: 'text/event-stream' } }, (res) => {
      if (res.statusCode !== 200) {
        res.resume();
        reject(new Error(`GET ${url}: HTTP ${res.statusCode}`));
        return;
      }
      res.setEncoding('utf8');
      let pending = '';
      res.on('data', (chunk: string) => {
        const at = Date.now();
        if (!opened) {
          opened = true;
          resolve({ close, ended });
        }
        pending += chunk;
        let end: number;
        while ((end = pending.indexOf('\n\n')) >= 0) {
          const block = pending.slice(0, end);
          pending = pending.slice(end + 2);
          let type = 'message';
          let id: string | undefined;
          const data: string[] = [];
          for (const line of block.split('\n')) {
            if (line.startsWith(':') || line === '') continue;
            const colon = line.indexOf(':');
            const field = colon < 0 ? line : line.slice(0, colon);
            const value = colon < 0 ? '' : line.slice(colon + 1).replace(/^ /, '');
            if (field === 'event') type = value;
            else if (field === 'id') id = value;
            else if (field === 'data') data.push(value);
          }
          if (data.length > 0) onEvent({ type, id, data: data.join('\n'), at });
        }
      });
      res.on('end', () => endReason(closing ? undefined : 'the server ended the stream'));
      res.on('error', (err) => endReason(closing ? undefined : err.message));
    });
    req.on('error', (err) => {
      if (!opened) reject(err);
      endReason(closing ? undefined : err.message);
    });
    const close = () => {
      closing = true;
      req.destroy();
      endReason(undefined);
    };
  });
}
