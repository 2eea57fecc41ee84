// A Modbus source: one bus (RTU line or TCP connection) and the slaves on it, polled by one loop so that
// exactly one request is outstanding per bus. The loop polls whichever slave is most overdue (poll-schedule.ts),
// so a silent slave backs off and never starves the others; each poll's readings go to the sink stamped with
// the poll's start time. A lost bus is reopened with jittered, capped backoff (and the configured pause after
// connecting), forever, with the state in `source_connected{source}`. Nothing here throws into the runner;
// nothing reaches the sink once stop() has resolved.
import { RateLimitedLogger } from '@tidemark/shared';
import { reconnectDelay } from '../serial/reconnect-backoff.js';
import type { Source, SourceContext } from '../source.js';
import type { ModbusSourceConfig } from './config.js';
import { ModbusSerialBus, type ModbusBus } from './modbus-bus.js';
import { afterPoll, initialSchedule, isProbe, nextSlave, type SlaveSchedule } from './poll-schedule.js';
import { SlavePoller } from './slave-poller.js';
import { sourceConnected, sourceReconnects } from '../source-metrics.js';

export class ModbusSource implements Source {
  readonly type = 'modbus';
  readonly name: string;

  private readonly bus: ModbusBus;
  private readonly pollers: SlavePoller[];
  private schedules: SlaveSchedule[] = [];
  private readonly connectedGauge: { set(value: number): void };
  private readonly rateLimited: RateLimitedLogger;
  private running = false;
  private loop: Promise<void> | undefined;
  private stopping: Promise<void> | undefined;
  private wake: (() => void) | undefined;
  private failures = 0;
  private lastFailure: string | undefined;
  private silent = new Set<number>();

  constructor(
    private readonly config: ModbusSourceConfig,
    private readonly ctx: SourceContext,
    bus?: ModbusBus,
  ) {
    this.name = config.name;
    this.bus = bus ?? new ModbusSerialBus(config);
    this.connectedGauge = sourceConnected(ctx.metrics).labels({ source: config.name });
    const reconnects = sourceReconnects(ctx.metrics).labels({ source: config.name });
    this.connectedGauge.set(0);
    this.rateLimited = new RateLimitedLogger(ctx.logger, 60_000);
    this.pollers = config.slaves.map(
      (s, i) => new SlavePoller(s, i, { source: config.name, logger: ctx.logger, metrics: ctx.metrics, now: ctx.now }),
    );
    this.bus.onLost((why) => {
      this.connectedGauge.set(0);
      reconnects.inc();
      if (this.running) this.ctx.logger.warn({ bus: this.bus.describe(), err: why }, 'modbus bus lost; reconnecting');
      this.interrupt();
    });
  }

  /** Whether the bus is open now (for /status). */
  get connected(): boolean {
    return this.bus.connected;
  }

  /** Resolves after the first attempt to open the bus; if it failed, the source keeps retrying. */
  async start(): Promise<void> {
    if (this.running) return;
    await this.stopping;
    this.stopping = undefined;
    this.running = true;
    this.failures = 0;
    this.lastFailure = undefined;
    const now = this.ctx.now();
    this.schedules = this.config.slaves.map((s) => initialSchedule(s.poll_interval, now));
    const opened = await this.openOnce();
    this.loop = this.run(opened).catch((err: unknown) => {
      // A bug in the loop must not end the agent; it is logged and the source stays down.
      this.ctx.logger.error({ err }, 'bug: modbus poll loop failed; source stopped');
    });
  }

  stop(): Promise<void> {
    if (!this.running) return this.stopping ?? Promise.resolve();
    this.running = false;
    this.interrupt();
    this.stopping = (async () => {
      // Closing the bus settles a request in flight at once, so stop never waits out a long timeout.
      await this.bus.close();
      await this.loop;
      this.loop = undefined;
      await this.bus.close();
      this.connectedGauge.set(0);
      for (const p of this.pollers) p.flushLogs();
      this.rateLimited.flush();
    })();
    return this.stopping;
  }

  private async run(opened: boolean): Promise<void> {
    let justOpened = opened;
    while (this.running) {
      if (!this.bus.connected) {
        this.connectedGauge.set(0);
        const delay = reconnectDelay(this.failures - 1, this.config.reconnect_min_ms, this.config.reconnect_max_ms);
        await this.sleep(delay);
        if (!this.running) return;
        justOpened = await this.openOnce();
        continue;
      }
      if (justOpened) {
        justOpened = false;
        if (this.config.pause_after_connect > 0) await this.sleep(this.config.pause_after_connect);
        continue;
      }
      const i = nextSlave(this.schedules);
      const wait = this.schedules[i]!.due - this.ctx.now();
      if (wait > 0) {
        await this.sleep(wait);
        continue;
      }
      await this.pollOne(i);
    }
  }

  private async pollOne(i: number): Promise<void> {
    const poller = this.pollers[i]!;
    const schedule = this.schedules[i]!;
    const result = await poller.poll(this.bus, isProbe(schedule), () => this.running);
    if (!this.running) return;
    if (result.readings.length > 0) {
      try {
        this.ctx.sink(result.readings);
      } catch (err) {
        this.rateLimited.error('sink', { err }, 'the runner refused readings from this modbus source');
      }
    }
    this.schedules[i] = afterPoll(schedule, result.outcome, this.ctx.now());
    // State changes only: a slave going silent, and coming back.
    if (result.outcome === 'silent' && !this.silent.has(i)) {
      this.silent.add(i);
      this.ctx.logger.warn({ slave: poller.id, problems: result.problems }, `modbus slave ${poller.id} does not answer; polling it with backoff`);
    } else if (result.outcome === 'answered' && this.silent.delete(i)) {
      this.ctx.logger.info({ slave: poller.id }, `modbus slave ${poller.id} answers again`);
    }
    if (result.outcome === 'bus_down' && this.running) await this.bus.close();
  }

  /** One attempt to open the bus; true when it is open. Failures are logged on change, retries at debug. */
  private async openOnce(): Promise<boolean> {
    try {
      await this.bus.open();
    } catch (err) {
      if (!this.running) return false;
      this.failures++;
      const message = err instanceof Error ? err.message : String(err);
      if (this.failures === 1) this.ctx.logger.warn({ bus: this.bus.describe(), err: message }, 'cannot open modbus bus; retrying with backoff');
      else if (message !== this.lastFailure) this.ctx.logger.warn({ bus: this.bus.describe(), err: message, failed_attempts: this.failures }, 'modbus bus still unavailable');
      else this.ctx.logger.debug({ bus: this.bus.describe(), err: message, failed_attempts: this.failures }, 'modbus bus open retry failed');
      this.lastFailure = message;
      return false;
    }
    if (!this.running) {
      await this.bus.close();
      return false;
    }
    this.ctx.logger.info({ bus: this.bus.describe(), failed_attempts: this.failures, slaves: this.pollers.map((p) => p.id) }, 'modbus bus open');
    this.failures = 0;
    this.lastFailure = undefined;
    this.connectedGauge.set(1);
    return true;
  }

  /** Waits `ms`, or less if stop() or a lost bus interrupts. */
  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(done, Math.max(0, ms));
      function done(): void {
        clearTimeout(timer);
        resolve();
      }
      this.wake = done;
    });
  }

  private interrupt(): void {
    const wake = this.wake;
    this.wake = undefined;
    wake?.();
  }
}
