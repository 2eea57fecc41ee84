// One poll of one slave: run its request plan on the bus, decode every value, count every failure. Invariants:
// a poll costs at most timeout × (retries + 1) per request and ends at the first request that gets no answer,
// so a silent slave costs one request's worth of bus time; every request, timeout and exception is counted
// per slave (exceptions per code); a request refused with "illegal data address" is split into one request
// per value for good, so the register at fault is named (with its config path) and the others keep coming.
// All readings of a poll carry the time the poll began.
import type { Logger, MetricsRegistry } from '@tidemark/shared';
import { RateLimitedLogger } from '@tidemark/shared';
import type { SourceReading } from '../source.js';
import type { ModbusSlaveConfig } from './config.js';
import type { ModbusBus, ReadOutcome } from './modbus-bus.js';
import type { PollOutcome } from './poll-schedule.js';
import { decodeRegisters, registerCount, scaled } from './register-codec.js';
import { describeSpan, isBitTable, planRequests, splitRequest, type PlannedValue, type ReadRequest } from './request-plan.js';

/** Modbus exception codes by number, for messages (the metric label is the number). */
export const EXCEPTION_NAMES: Record<number, string> = {
  1: 'illegal function',
  2: 'illegal data address',
  3: 'illegal data value',
  4: 'slave device failure',
  5: 'acknowledge',
  6: 'slave device busy',
  8: 'memory parity error',
  10: 'gateway path unavailable',
  11: 'gateway target device failed to respond',
};

const ILLEGAL_DATA_ADDRESS = 2;
const SLAVE_DEVICE_BUSY = 6;

export interface PollResult {
  readings: SourceReading[];
  outcome: PollOutcome;
  /** What went wrong in this poll, one line each (for logs and doctor). */
  problems: string[];
  /** Requests sent, retries included. */
  requests: number;
}

type Inc = { inc(value?: number): void };

export interface SlavePollerContext {
  source: string;
  logger: Logger;
  metrics: MetricsRegistry;
  now: () => number;
}

export class SlavePoller {
  readonly id: number;
  private plan: ReadRequest[];
  private readonly label: { source: string; slave: string };
  private readonly requestsCounter: Inc;
  private readonly timeoutsCounter: Inc;
  private readonly errorsCounter: Inc;
  private readonly pollsCounter: Inc;
  private readonly upGauge: { set(v: number): void };
  private readonly exceptionCounters = new Map<number, Inc>();
  private readonly rateLimited: RateLimitedLogger;
  private readonly namedIllegal = new Set<number>();

  constructor(
    readonly config: ModbusSlaveConfig,
    /** Position of the slave in the source's `slaves` list, for config paths in messages. */
    readonly position: number,
    private readonly ctx: SlavePollerContext,
  ) {
    this.id = config.id;
    const values: PlannedValue[] = config.registers.map((r, index) => ({ ...r, index }));
    this.plan = planRequests(values, { maxRegisters: config.max_registers_per_request, maxGap: config.max_gap });
    this.label = { source: ctx.source, slave: String(config.id) };
    const m = ctx.metrics;
    this.requestsCounter = m.counter('modbus_requests_total', 'Modbus requests sent, retries included', ['source', 'slave']).labels(this.label);
    this.timeoutsCounter = m.counter('modbus_timeouts_total', 'Modbus requests that got no answer in time', ['source', 'slave']).labels(this.label);
    this.errorsCounter = m
      .counter('modbus_bad_responses_total', 'Modbus answers refused (bad CRC, wrong length, garbled frame)', ['source', 'slave'])
      .labels(this.label);
    this.pollsCounter = m.counter('modbus_polls_total', 'Polls of a Modbus slave in which it answered', ['source', 'slave']).labels(this.label);
    this.upGauge = m.gauge('modbus_slave_up', 'Whether the slave answered its last poll (1) or not (0)', ['source', 'slave']).labels(this.label);
    // Registered up front so the series family exists before the first exception.
    m.counter('modbus_exceptions_total', 'Modbus exception answers, by slave and exception code', ['source', 'slave', 'code']);
    this.rateLimited = new RateLimitedLogger(ctx.logger, 60_000);
  }

  /** How many requests one poll takes now (after any illegal-address splits). */
  get requestCount(): number {
    return this.plan.length;
  }

  /** Polls the slave once. `probe`: a single attempt per request (the slave has been silent). */
  async poll(bus: ModbusBus, probe = false, isRunning: () => boolean = () => true): Promise<PollResult> {
    const ts = this.ctx.now();
    const readings: SourceReading[] = [];
    const problems: string[] = [];
    const attempts = probe ? 1 : this.config.retries + 1;
    let answered = false;
    let requests = 0;
    for (let k = 0; k < this.plan.length; k++) {
      const req = this.plan[k]!;
      let res: ReadOutcome = { ok: false, kind: 'timeout' };
      for (let a = 0; a < attempts; a++) {
        requests++;
        this.requestsCounter.inc();
        res = await bus.read(this.id, req.table, req.address, req.count, this.config.timeout);
        if (res.ok || res.kind === 'disconnected') break;
        if (res.kind === 'timeout') this.timeoutsCounter.inc();
        else if (res.kind === 'bad_response') this.errorsCounter.inc();
        else {
          this.exception(res.code).inc();
          answered = true;
          if (res.code !== SLAVE_DEVICE_BUSY) break;
        }
        if (!isRunning()) break;
      }
      if (!isRunning()) return { readings, outcome: answered ? 'answered' : 'bus_down', problems, requests };
      if (res.ok) {
        answered = true;
        this.decode(req, res.words, ts, readings, problems);
        continue;
      }
      const span = describeSpan(req.table, req.address, req.count);
      if (res.kind === 'disconnected') {
        problems.push(`${span}: bus not connected (${res.message})`);
        return { readings, outcome: answered ? 'answered' : 'bus_down', problems, requests };
      }
      if (res.kind === 'exception') {
        const what = `exception ${res.code} (${EXCEPTION_NAMES[res.code] ?? 'unknown'})`;
        if (res.code === ILLEGAL_DATA_ADDRESS && req.values.length > 1) {
          // Which of the coalesced values is at fault? Read them one by one from now on, starting with this poll.
          this.plan.splice(k, 1, ...splitRequest(req));
          k--;
          this.ctx.logger.warn(
            { slave: this.id, span, registers: req.values.map((v) => v.name) },
            `slave ${this.id} answered ${what} for ${span}; reading these registers one by one to find which`,
          );
          continue;
        }
        if (res.code === ILLEGAL_DATA_ADDRESS) {
          const v = req.values[0]!;
          const line = `${this.where(v)}: the slave answered ${what}: it has no ${describeSpan(v.table, v.address, req.count)}`;
          problems.push(line);
          if (!this.namedIllegal.has(v.index)) {
            this.namedIllegal.add(v.index);
            this.ctx.logger.warn({ slave: this.id, register: v.name, path: this.path(v), table: v.table, address: v.address }, `${line}; check the address (0-based) and table`);
          }
        } else {
          const line = `${span} (${req.values.map((v) => v.name).join(', ')}): ${what}`;
          problems.push(line);
          this.rateLimited.warn(`exception-${res.code}-${req.address}`, { slave: this.id, span, code: res.code }, `slave ${this.id}: ${line}`);
        }
        continue;
      }
      // No valid answer after every attempt: the slave is silent (or the line garbles it). Stop here, so a
      // dead slave costs this one request, not one per request of its plan.
      problems.push(
        `${span}: ${res.kind === 'timeout' ? `no answer within ${this.config.timeout} ms` : `bad answer (${res.message})`} × ${attempts} attempt${attempts === 1 ? '' : 's'}`,
      );
      this.upGauge.set(answered ? 1 : 0);
      if (answered) this.pollsCounter.inc();
      return { readings, outcome: answered ? 'answered' : 'silent', problems, requests };
    }
    this.upGauge.set(answered ? 1 : 0);
    if (answered) this.pollsCounter.inc();
    return { readings, outcome: answered ? 'answered' : 'silent', problems, requests };
  }

  private decode(req: ReadRequest, words: number[], ts: number, out: SourceReading[], problems: string[]): void {
    for (const v of req.values) {
      const at = v.address - req.address;
      const width = isBitTable(v.table) ? 1 : registerCount(v.type);
      const raw = words.slice(at, at + width);
      if (raw.length !== width) {
        // modbus-serial checks lengths; should a short answer slip through, the value is skipped, not guessed.
        this.errorsCounter.inc();
        problems.push(`${this.where(v)}: short answer`);
        continue;
      }
      out.push({ sensor: v.name, value: scaled(decodeRegisters(raw, v.type, v.word_order), v.scale, v.offset), ts });
    }
  }

  private exception(code: number): Inc {
    let c = this.exceptionCounters.get(code);
    if (c === undefined) {
      c = this.ctx.metrics
        .counter('modbus_exceptions_total', 'Modbus exception answers, by slave and exception code', ['source', 'slave', 'code'])
        .labels({ ...this.label, code: String(code) });
      this.exceptionCounters.set(code, c);
    }
    return c;
  }

  private path(v: PlannedValue): string {
    return `slaves[${this.position}].registers[${v.index}]`;
  }

  private where(v: PlannedValue): string {
    return `register ${v.name} (${this.path(v)}, ${v.table} ${v.address}, slave ${this.id})`;
  }

  /** Flushes rate-limited log summaries (on stop). */
  flushLogs(): void {
    this.rateLimited.flush();
  }
}
