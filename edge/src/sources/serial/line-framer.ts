// Bytes → lines. CR, LF and CRLF all end a line and empty lines are dropped, so the output is the same
// however the bytes were chunked. A line longer than `maxLineLength` bytes is reported once and skipped up
// to its end; memory stays bounded by maxLineLength plus one chunk. After reset() (each (re)connect) the
// bytes before the first line end are the "head": possibly the tail of a line sent before we were there —
// unless the caller saw the line idle since the reset (lineIdle()): then the next segment is a whole line.

export interface FramerSink {
  /** A complete, non-empty line (UTF-8 decoded, without its terminator). */
  line(text: string): void;
  /** What came before the first terminator after reset(); may be empty. */
  head(text: string): void;
  /**
   * A line over the limit, reported once, as soon as it is over: its first min(TOO_LONG_PREFIX_BYTES,
   * maxLineLength + 1) bytes (never more than are known at that point, so the same however it was chunked).
   */
  tooLong(prefix: string): void;
}

/** At most this much of an over-long line is kept for the error log. */
export const TOO_LONG_PREFIX_BYTES = 200;

const LF = 0x0a;
const CR = 0x0d;

export class LineFramer {
  /** Bytes of the current, unterminated line, from earlier chunks (copied: callers may reuse buffers). */
  private pending: Buffer[] = [];
  private pendingBytes = 0;
  /** Inside an over-long line, already reported: drop bytes up to its end. */
  private skipping = false;
  private atHead = false;
  private readonly prefixBytes: number;

  constructor(
    private readonly maxLineLength: number,
    private readonly sink: FramerSink,
  ) {
    this.prefixBytes = Math.min(TOO_LONG_PREFIX_BYTES, maxLineLength + 1);
  }

  push(chunk: Buffer): void {
    let start = 0;
    const length = chunk.length;
    for (let i = 0; i < length; i++) {
      const b = chunk[i];
      if (b !== LF && b !== CR) continue;
      this.endSegment(chunk, start, i);
      start = i + 1;
    }
    if (start < length) this.keep(chunk, start);
  }

  /**
   * Forgets any unterminated bytes (the line was cut by a disconnect) and makes the next segment the head.
   * Returns the forgotten bytes as text ('' when none), so the caller can count them.
   */
  reset(): string {
    const dropped = this.skipping || this.pendingBytes === 0 ? '' : Buffer.concat(this.pending, this.pendingBytes).toString('utf8');
    this.pending = [];
    this.pendingBytes = 0;
    this.skipping = false;
    this.atHead = true;
    return dropped;
  }

  /**
   * The line has been idle since reset(): nothing was received, so the next byte starts a line and the next
   * segment is a whole line, not a head. Returns false (and changes nothing) if bytes already arrived.
   */
  lineIdle(): boolean {
    if (!this.atHead || this.pendingBytes > 0 || this.skipping) return false;
    this.atHead = false;
    return true;
  }

  private endSegment(chunk: Buffer, start: number, end: number): void {
    const wasHead = this.atHead;
    this.atHead = false;
    if (this.skipping) {
      this.skipping = false;
      return;
    }
    const size = this.pendingBytes + (end - start);
    if (size > this.maxLineLength) {
      this.sink.tooLong(this.prefix(chunk, start, end));
      this.clearPending();
      return;
    }
    if (size === 0) {
      if (wasHead) this.sink.head('');
      return;
    }
    let text: string;
    if (this.pendingBytes === 0) {
      text = chunk.toString('utf8', start, end);
    } else {
      this.pending.push(chunk.subarray(start, end));
      text = Buffer.concat(this.pending, size).toString('utf8');
      this.clearPending();
    }
    if (wasHead) this.sink.head(text);
    else this.sink.line(text);
  }

  /** Keeps the unterminated tail of a chunk; reports it at once if it is already over the limit. */
  private keep(chunk: Buffer, start: number): void {
    if (this.skipping) return;
    const size = this.pendingBytes + (chunk.length - start);
    if (size > this.maxLineLength) {
      this.sink.tooLong(this.prefix(chunk, start, chunk.length));
      this.clearPending();
      this.skipping = true;
      return;
    }
    this.pending.push(Buffer.from(chunk.subarray(start)));
    this.pendingBytes = size;
  }

  private prefix(chunk: Buffer, start: number, end: number): string {
    const parts = [...this.pending, chunk.subarray(start, Math.min(end, start + this.prefixBytes))];
    const all = Buffer.concat(parts);
    return all.toString('utf8', 0, Math.min(all.length, this.prefixBytes));
  }

  private clearPending(): void {
    if (this.pendingBytes === 0 && this.pending.length === 0) return;
    this.pending = [];
    this.pendingBytes = 0;
  }
}
