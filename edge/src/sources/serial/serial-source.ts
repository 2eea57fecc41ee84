// A serial line source (serialport 13): open the port, frame bytes into lines, parse them, hand readings to
// the sink. The port may vanish at any time (USB unplug): the source then reconnects with jittered backoff,
// forever, and reports its state in `source_connected{source}`. Nothing here throws into the runner or ends
// the process; every refused line is counted in `source_parse_errors_total{source,reason}` and the last few are
// kept for `/status` (recentErrors()). Nothing reaches the sink once stop() has resolved.
//
// The first line after an open: if bytes were already arriving when the port opened (or waited in the
// kernel's input queue), what precedes the first line end may be the tail of a line cut by our arrival and is
// refused as `partial_line`. If the line stays quiet for IDLE_AT_OPEN (see idleWindowMs) after the open, the
// device was between lines, so its next line is whole and is parsed: a device that reports once a minute
// loses nothing on a restart. Quiet is only believed when the event loop was responsive throughout (timer
// ticks on time), so a busy start can never pass a cut line off as whole.
import type { SerialPort } from 'serialport';
import { guard, RateLimitedLogger, tally } from '@tidemark/shared';
import type { Source, SourceContext, SourceReading } from '../source.js';
import type { SerialSourceConfig } from './config.js';
import { DeviceWatch } from './device-watch.js';
import { LineFramer, type FramerSink } from './line-framer.js';
import { createParser, type LineParser, type ParseErrorReason, type ParseResult } from './parsers/index.js';
import { PortPoller, type WaitReadable } from './port-poller.js';
import { reconnectDelay } from './reconnect-backoff.js';
import { RecentErrors, type RecentError } from './recent-errors.js';
import { stablePathFor } from './stable-path.js';
import { sourceConnected, sourceParseErrors, sourceReconnects } from '../source-metrics.js';

/** How many refused lines recentErrors() keeps. */
export const RECENT_ERRORS_KEPT = 10;

/**
 * How long the line must be silent after an open before it counts as idle: 20 character times (10 bits
 * each), at least 50 ms — longer than a USB serial adapter's latency timer (FTDI: 16 ms), so bytes already
 * on their way when the port opened arrive inside the window.
 */
export function idleWindowMs(baudRate: number): number {
  return Math.max(50, Math.ceil((20 * 10 * 1000) / baudRate));
}

type Inc = { inc(value?: number): void };

export class SerialSource implements Source {
  readonly type = 'serial';
  readonly name: string;

  private readonly parse: LineParser;
  private readonly framer: LineFramer;
  private readonly recent = new RecentErrors(RECENT_ERRORS_KEPT);
  private readonly rateLimited: RateLimitedLogger;
  private readonly connectedGauge: { set(value: number): void };
  private readonly errorsByReason = new Map<ParseErrorReason, Inc>();
  private readonly linesCounter: Inc;
  private readonly disconnectsCounter: Inc;

  private running = false;
  private stopping: Promise<void> | undefined;
  private connecting: Promise<void> | undefined;
  private port: SerialPort | undefined;
  private watch: DeviceWatch | undefined;
  private poller: PortPoller | undefined;
  private reconnectTimer: NodeJS.Timeout | undefined;
  /** Consecutive failed opens since the port was last open (or since start). */
  private failures = 0;
  private lastFailure: string | undefined;
  /** When the port was lost (or start, while never open): for the "reconnected after" log line. */
  private downSince: number | undefined;
  private headerPending = false;
  /** Checks for an idle line after an open (see the header); undefined once decided. */
  private idleTimer: NodeJS.Timeout | undefined;
  private idleAtOpen: boolean | undefined;
  private batch: SourceReading[] = [];
  private lines = 0;

  constructor(
    private readonly config: SerialSourceConfig,
    private readonly ctx: SourceContext,
  ) {
    this.name = config.name;
    this.parse = createParser(config.parser);
    const sink: FramerSink = {
      line: (text) => this.onLine(text),
      head: (text) => this.onHead(text),
      tooLong: (prefix) => {
        this.lines++;
        this.refuse('line_too_long', prefix);
      },
    };
    this.framer = new LineFramer(config.max_line_length, sink);
    this.rateLimited = new RateLimitedLogger(ctx.logger, 60_000);
    const labels = { source: config.name };
    this.connectedGauge = sourceConnected(ctx.metrics).labels(labels);
    this.connectedGauge.set(0);
    // Counted per read (tens a second): a tally, not prom-client's inc() with its label hashing.
    this.linesCounter = tally(ctx.metrics.counter('serial_lines_total', 'Lines framed by a serial source', ['source']), labels);
    this.disconnectsCounter = sourceReconnects(ctx.metrics).labels(labels);
    // Registered up front so the series exists before the first error.
    sourceParseErrors(ctx.metrics);
  }

  /** Whether the port is open now. */
  get connected(): boolean {
    return this.port !== undefined;
  }

  /**
   * After the last open: true once the line was seen idle (its next line is whole), false if bytes were
   * arriving at the open (the head was treated as possibly cut), undefined while undecided or closed.
   */
  get lineIdleAtOpen(): boolean | undefined {
    return this.idleAtOpen;
  }

  /** Reads the port now when it is read on a timer (serial.read_interval_ms > 0): see Source.readNow. */
  readNow(): void {
    if (this.running && this.port !== undefined) this.poller?.readNow();
  }

  /** The last few refused lines, oldest first. */
  recentErrors(): RecentError[] {
    return this.recent.list();
  }

  /** Resolves after the first attempt to open the port; if it failed, the source keeps retrying. */
  async start(): Promise<void> {
    if (this.running) return;
    await this.stopping;
    this.stopping = undefined;
    this.running = true;
    this.failures = 0;
    this.lastFailure = undefined;
    this.downSince = undefined;
    const stable = stablePathFor(this.config.path);
    if (stable !== undefined) {
      this.ctx.logger.info({ path: this.config.path, stable_path: stable }, 'serial path depends on USB enumeration order; prefer the stable path');
    }
    await this.connect();
  }

  stop(): Promise<void> {
    if (!this.running) return this.stopping ?? Promise.resolve();
    this.running = false;
    this.stopping = this.shutdown();
    return this.stopping;
  }

  private async shutdown(): Promise<void> {
    clearTimeout(this.reconnectTimer);
    this.reconnectTimer = undefined;
    this.stopIdleCheck();
    this.idleAtOpen = undefined;
    // An open in flight sees `running` false and closes its own port.
    await this.connecting;
    const port = this.port;
    this.port = undefined;
    this.stopPoller();
    this.watch?.stop();
    this.watch = undefined;
    this.batch = [];
    this.connectedGauge.set(0);
    this.flushLineCount();
    if (port !== undefined) await closeQuietly(port);
    this.rateLimited.flush();
    this.ctx.logger.debug({ path: this.config.path }, 'serial source stopped');
  }

  private connect(): Promise<void> {
    const attempt = this.openOnce().finally(() => {
      if (this.connecting === attempt) this.connecting = undefined;
    });
    this.connecting = attempt;
    return attempt;
  }

  private async openOnce(): Promise<void> {
    const c = this.config;
    let port: SerialPort;
    try {
      // Loaded on first use: a gateway without serial sources never pays for the native binding.
      const { SerialPort } = await import('serialport');
      port = new SerialPort({
        path: c.path,
        baudRate: c.baud_rate,
        dataBits: c.data_bits,
        parity: c.parity,
        stopBits: c.stop_bits,
        autoOpen: false,
      });
    } catch (err) {
      return this.openFailed(err);
    }
    // Without an 'error' listener a late stream error would be thrown as an uncaught exception.
    port.on('error', (err: Error) => this.rateLimited.warn('port-error', { path: c.path, err: err.message }, 'serial port error'));
    const error = await new Promise<Error | null>((resolve) => port.open(resolve));
    if (error) return this.openFailed(error);
    if (!this.running) {
      await closeQuietly(port);
      return;
    }
    this.port = port;
    this.framer.reset();
    this.headerPending = false;
    this.connectedGauge.set(1);
    if (this.failures > 0 || this.downSince !== undefined) {
      const downMs = this.downSince === undefined ? undefined : this.ctx.now() - this.downSince;
      this.ctx.logger.info({ path: c.path, failed_attempts: this.failures, down_ms: downMs }, 'serial port open again');
    } else {
      this.ctx.logger.info({ path: c.path, baud_rate: c.baud_rate }, 'serial port open');
    }
    this.failures = 0;
    this.lastFailure = undefined;
    this.downSince = undefined;
    this.read(port);
    port.on('close', guard(this.ctx.logger, 'serial close handler', (err: Error | null) => this.lost(port, err?.message ?? 'port closed')));
    this.startIdleCheck(port);
    const watch = new DeviceWatch(c.path, (why) => this.lost(port, why));
    this.watch = watch;
    await watch.start();
  }

  private openFailed(err: unknown): void {
    if (!this.running) return;
    this.failures++;
    this.downSince ??= this.ctx.now();
    const message = err instanceof Error ? err.message : String(err);
    const delay = this.scheduleReconnect();
    // State changes are logged (the first failure, a different failure); plain retries only at debug.
    if (this.failures === 1) {
      this.ctx.logger.warn({ path: this.config.path, err: message, retry_in_ms: delay }, 'cannot open serial port; retrying with backoff');
    } else if (message !== this.lastFailure) {
      this.ctx.logger.warn({ path: this.config.path, err: message, failed_attempts: this.failures }, 'serial port still unavailable');
    } else {
      this.ctx.logger.debug({ path: this.config.path, err: message, failed_attempts: this.failures, retry_in_ms: delay }, 'serial port open retry failed');
    }
    this.lastFailure = message;
  }

  /** The port closed under us, or its device vanished: count, log once, and try again after a backoff. */
  private lost(port: SerialPort, why: string): void {
    if (port !== this.port) return;
    this.port = undefined;
    this.stopIdleCheck();
    this.idleAtOpen = undefined;
    this.stopPoller();
    this.watch?.stop();
    this.watch = undefined;
    // Closing ends serialport's read loop too, which on a hung-up tty would spin on zero-byte reads.
    void closeQuietly(port);
    this.connectedGauge.set(0);
    this.flush();
    const cut = this.framer.reset();
    if (cut !== '') this.refuse('partial_line', cut);
    if (!this.running) return;
    this.disconnectsCounter.inc();
    this.downSince = this.ctx.now();
    const delay = this.scheduleReconnect();
    this.ctx.logger.warn({ path: this.config.path, err: why, retry_in_ms: delay }, 'serial port lost; reconnecting');
  }

  /**
   * Decides whether the line was idle at the open: two consecutive ticks of half the idle window, each on
   * time, with no byte received. A late tick (the event loop was busy, so bytes may be waiting unread)
   * starts the count again; the first byte ends the check (the head stays "possibly cut").
   */
  private startIdleCheck(port: SerialPort): void {
    this.stopIdleCheck();
    this.idleAtOpen = undefined;
    const tick = idleWindowMs(this.config.baud_rate) / 2;
    const tolerance = Math.max(10, tick / 2);
    let quietTicks = 0;
    const arm = () => {
      const due = performance.now() + tick;
      this.idleTimer = setTimeout(guard(this.ctx.logger, 'serial idle check', () => {
        this.idleTimer = undefined;
        if (port !== this.port || !this.running) return;
        quietTicks = performance.now() - due <= tolerance ? quietTicks + 1 : 0;
        if (quietTicks < 2) return arm();
        if (!this.framer.lineIdle()) return;
        this.idleAtOpen = true;
        // As if the open had landed on a line end: with skip_header the next line is the header.
        this.onHead('');
      }), tick);
    };
    arm();
  }

  private stopIdleCheck(): void {
    clearTimeout(this.idleTimer);
    this.idleTimer = undefined;
  }

  /**
   * Reads the port on a timer (read_interval_ms) that sleeps while the port is quiet, or through serialport's
   * stream when it is 0.
   */
  private read(port: SerialPort): void {
    const binding = (port as unknown as { port?: { fd?: unknown; poller?: unknown } }).port;
    const fd = binding?.fd;
    if (this.config.read_interval_ms === 0 || typeof fd !== 'number') {
      port.on('data', guard(this.ctx.logger, 'serial data handler', (chunk: Buffer) => this.onData(port, chunk)));
      return;
    }
    this.poller = new PortPoller(
      fd,
      this.config.read_interval_ms,
      {
        data: (chunk) => this.onData(port, chunk),
        lost: (why) => this.lost(port, why),
      },
      readableWatch(binding?.poller),
    );
    this.poller.start();
  }

  private stopPoller(): void {
    this.poller?.stop();
    this.poller = undefined;
  }

  private scheduleReconnect(): number {
    const delay = reconnectDelay(this.failures, this.config.reconnect_min_ms, this.config.reconnect_max_ms);
    clearTimeout(this.reconnectTimer);
    this.reconnectTimer = setTimeout(guard(this.ctx.logger, 'serial reconnect timer', () => {
      this.reconnectTimer = undefined;
      if (this.running) return this.connect();
    }), delay);
    return delay;
  }

  private onData(port: SerialPort, chunk: Buffer): void {
    if (port !== this.port || !this.running) return;
    if (this.idleTimer !== undefined) {
      // Bytes were arriving at the open: the head may be the tail of a cut line.
      this.stopIdleCheck();
      this.idleAtOpen = false;
    }
    try {
      this.framer.push(chunk);
    } catch (err) {
      // An event handler must not throw (it would end the process); a bug here costs one chunk, not the agent.
      this.rateLimited.error('framing', { err }, 'bug: serial line handling threw; chunk skipped');
    }
    this.flush();
    // Awake anyway: the path check rides on this read while bytes come (device-watch.ts). Last, as it may
    // find the device gone and close the port.
    this.watch?.checkIfDue();
  }

  /** What came before the first line end after (re)connecting: a possibly cut line, or the csv header. */
  private onHead(text: string): void {
    const skipHeader = this.config.parser.format === 'csv' && this.config.parser.skip_header;
    if (text === '') {
      this.headerPending = skipHeader;
      return;
    }
    this.lines++;
    if (!skipHeader) this.refuse('partial_line', text);
  }

  private onLine(text: string): void {
    this.lines++;
    if (this.headerPending) {
      this.headerPending = false;
      return;
    }
    let result: ParseResult;
    try {
      result = this.parse(text);
    } catch (err) {
      // Parsers are fuzzed never to throw; should one ever do, the line is logged (rate-limited), not fatal.
      this.rateLimited.error('parser', { err, line: text.slice(0, 200) }, 'bug: serial parser threw; line skipped');
      return;
    }
    const readings = result.readings;
    if (readings !== undefined) for (let i = 0; i < readings.length; i++) this.batch.push(readings[i]!);
    if (result.error !== undefined) this.refuse(result.error, text);
  }

  private refuse(reason: ParseErrorReason, line: string): void {
    let counter = this.errorsByReason.get(reason);
    if (counter === undefined) {
      counter = sourceParseErrors(this.ctx.metrics).labels({ source: this.name, reason });
      this.errorsByReason.set(reason, counter);
    }
    counter.inc();
    this.recent.record(this.ctx.now(), reason, line);
  }

  private flush(): void {
    this.flushLineCount();
    if (this.batch.length === 0) return;
    const out = this.batch;
    this.batch = [];
    try {
      this.ctx.sink(out);
    } catch (err) {
      this.rateLimited.error('sink', { err }, 'the runner refused readings from this serial source');
    }
  }

  private flushLineCount(): void {
    if (this.lines === 0) return;
    this.linesCounter.inc(this.lines);
    this.lines = 0;
  }
}

/**
 * The port's own poll watch on its fd (serialport's binding keeps one per open port, used only by its stream,
 * which this source does not read), as a WaitReadable; undefined when the binding has none (the poller then
 * keeps its timer running).
 */
function readableWatch(poller: unknown): WaitReadable | undefined {
  const p = poller as { once?: unknown; removeListener?: unknown } | undefined;
  if (typeof p?.once !== 'function' || typeof p.removeListener !== 'function') return undefined;
  const watch = p as { once(event: 'readable', cb: (err: Error | null) => void): void; removeListener(event: 'readable', cb: (err: Error | null) => void): void };
  return (callback) => {
    // guard-audit: PortPoller hands in a callback built with guard()
    watch.once('readable', callback);
    return () => watch.removeListener('readable', callback);
  };
}

function closeQuietly(port: SerialPort): Promise<void> {
  return new Promise((resolve) => {
    if (!port.isOpen) return resolve();
    port.close(() => resolve());
  });
}
