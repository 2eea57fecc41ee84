// Load generator child of ingest.bench.ts: N simulated devices in ONE process, each its own mqtt.js client
// (client id = username = device id, as the ACL demands), sending pre-encoded batches with seq 1, 2, 3 … and
// timing each batch from publish to the collector's app-level ack. Plain Node on the built packages (no
// transpiler in the measured process). Driven by the parent over IPC: init → connect → phase… → close; it
// replies with one message per step. It never resends: a missing ack is reported, not papered over.
import { performance } from 'node:perf_hooks';
import { connect } from 'mqtt';
import { decodeAck, encodeBatch, newStreamId, topics } from '@tidemark/proto';
import { standardBatchReadings } from '../../../proto/dist/fixtures/standard.js';

/** @type {{ url: string, devices: string[], password: string | undefined, batchSize: number, variants: number }} */
let cfg;
/** @type {Device[]} */
let devices = [];
/** Fixture variants: readings with timestamps relative to the variant's start, and the span they cover. */
let variants = [];

/**
 * @typedef {{ id: string, streamId: Uint8Array, client: import('mqtt').MqttClient | undefined, topic: string,
 *   nextSeq: number, lastSeq: number, inflight: Map<number, number>, acked: Map<number, string>, queued: number,
 *   onAck: ((seq: number, status: string, at: number) => void) | undefined, payloads: Map<number, Buffer> }} Device
 */

function send(msg) {
  process.send?.(msg);
}

function percentile(sorted, p) {
  if (sorted.length === 0) return null;
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return Number(sorted[i].toFixed(1));
}

function latencySummary(values) {
  const sorted = Float64Array.from(values).sort();
  return { p50: percentile(sorted, 50), p95: percentile(sorted, 95), p99: percentile(sorted, 99), max: percentile(sorted, 100) };
}

function cpuMs(since) {
  const u = process.cpuUsage(since);
  return (u.user + u.system) / 1000;
}

/** `batchSize` readings: fixture variants back to back, each shifted past the previous one's span. */
function batchReadings(deviceIndex, seq, baseMs) {
  const out = [];
  let offset = baseMs + (seq - 1) * variants.spanPerBatch;
  let k = (deviceIndex * 7 + seq) % variants.length;
  while (out.length < cfg.batchSize) {
    const v = variants[k];
    for (let i = 0; i < v.readings.length && out.length < cfg.batchSize; i++) {
      const r = v.readings[i];
      out.push({ sensor: r.sensor, ts: offset + r.rel, value: r.value });
    }
    offset += v.span;
    k = (k + 1) % variants.length;
  }
  return out;
}

function init(msg) {
  cfg = msg;
  const t0 = performance.now();
  variants = [];
  for (let s = 1; s <= cfg.variants; s++) {
    const rs = standardBatchReadings(s);
    const first = Math.min(...rs.map((r) => r.ts));
    const last = Math.max(...rs.map((r) => r.ts));
    variants.push({ readings: rs.map((r) => ({ sensor: r.sensor, rel: r.ts - first, value: r.value })), span: last - first + 100 });
  }
  const maxSpan = Math.max(...variants.map((v) => v.span));
  variants.spanPerBatch = maxSpan * Math.ceil(cfg.batchSize / 1000);
  devices = cfg.devices.map((id) => ({
    id,
    streamId: newStreamId(),
    client: undefined,
    topic: topics.batch(id),
    nextSeq: 1,
    lastSeq: 0,
    inflight: new Map(),
    acked: new Map(),
    queued: 0,
    onAck: undefined,
    payloads: new Map(),
  }));
  send({ event: 'ready', setup_ms: Math.round(performance.now() - t0) });
}

/** Encodes seqs [from, to] of every device before a phase, so encoding is never inside a timed window. */
function encodeRange(from, to) {
  // Event time ends about now for the last seq a phase may send (the agent is draining a backlog).
  const baseMs = Date.now() - to * variants.spanPerBatch;
  let bytes = 0;
  let n = 0;
  devices.forEach((d, i) => {
    for (let seq = from; seq <= to; seq++) {
      const payload = Buffer.from(
        encodeBatch({
          deviceId: d.id,
          streamId: d.streamId,
          seq,
          clock: { synced: true, anchorWallMs: baseMs, anchorMonoMs: 0 },
          readings: batchReadings(i, seq, baseMs),
        }),
      );
      d.payloads.set(seq, payload);
      bytes += payload.length;
      n++;
    }
  });
  return { batches: n, bytes };
}

function handleAck(d, payload) {
  const at = performance.now();
  let ack;
  try {
    ack = decodeAck(new Uint8Array(payload));
  } catch (err) {
    send({ event: 'log', message: `${d.id}: undecodable ack: ${err.message}` });
    return;
  }
  for (const r of ack.results) {
    const status = r.status + (r.reason ? `: ${r.reason}` : '');
    const prev = d.acked.get(r.seq);
    d.acked.set(r.seq, prev === undefined ? status : `${prev}|${status}`);
    d.onAck?.(r.seq, r.status, at);
  }
}

async function connectAll(concurrency) {
  const latencies = [];
  const failures = [];
  const t0 = performance.now();
  const c0 = process.cpuUsage();
  let next = 0;
  const worker = async () => {
    while (next < devices.length) {
      const d = devices[next++];
      const s = performance.now();
      try {
        d.client = await new Promise((resolve, reject) => {
          const client = connect(cfg.url, {
            clientId: d.id,
            username: d.id,
            password: cfg.password,
            clean: true,
            keepalive: 60,
            protocolVersion: 4,
            reconnectPeriod: 0, // a dropped device is a failure of the run, not something to hide
            connectTimeout: 120_000,
          });
          client.once('connect', () => resolve(client));
          client.once('error', (err) => {
            client.end(true);
            reject(err);
          });
        });
        latencies.push(performance.now() - s);
        d.client.on('message', (_topic, payload) => handleAck(d, payload));
        d.client.on('close', () => {
          if (!d.closing) send({ event: 'log', message: `${d.id}: connection closed unexpectedly` });
        });
        const granted = await d.client.subscribeAsync(topics.ack(d.id), { qos: 1 });
        if (granted[0]?.qos === 128) throw new Error('ack subscription refused');
      } catch (err) {
        failures.push(`${d.id}: ${err.message}`);
      }
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  send({
    event: 'connected',
    devices: devices.length - failures.length,
    seconds: Number(((performance.now() - t0) / 1000).toFixed(2)),
    connect_ms: latencySummary(latencies),
    generator_cpu_ms: Math.round(cpuMs(c0)),
    failures: failures.slice(0, 5),
    failed: failures.length,
  });
}

/**
 * One timed phase. `max`: every device keeps `window` batches unacked until it has sent `batches`
 * (closed loop: the collector's capacity sets the pace). `paced`: every device sends one batch every
 * devices×batchSize/rate seconds (open loop at `rate` readings/s, random phase per device), at most
 * `window` unacked (the agent's max_inflight); a send due while the window is full waits for an ack.
 */
let prepared;

/** Encodes every batch the phase will send, before the parent starts measuring it. */
function preparePhase(p) {
  const encode0 = performance.now();
  const from = devices[0].nextSeq;
  const perDevice = p.kind === 'max' ? p.batches : Math.max(1, Math.round((p.rate * p.seconds) / (cfg.batchSize * devices.length)));
  const encoded = encodeRange(from, from + perDevice - 1);
  prepared = { p, from, perDevice, encoded, encodeMs: performance.now() - encode0 };
  send({ event: 'prepared', batches: encoded.batches, encode_ms: Math.round(prepared.encodeMs) });
}

async function runPhase() {
  const { p, from, perDevice, encoded, encodeMs } = prepared;

  const latencies = [];
  const ackTimes = [];
  const statuses = {};
  let unexpected = 0;
  let publishErrors = 0;
  let waitedForWindow = 0;
  let outstanding = 0;
  let finish;
  const done = new Promise((r) => (finish = r));
  const c0 = process.cpuUsage();
  const t0 = performance.now();

  const publish = (d) => {
    const seq = d.nextSeq++;
    const payload = d.payloads.get(seq);
    d.payloads.delete(seq);
    d.inflight.set(seq, performance.now());
    outstanding++;
    d.client.publish(d.topic, payload, { qos: 1 }, (err) => {
      if (err) publishErrors++;
    });
  };
  const lastSeq = from + perDevice - 1;
  for (const d of devices) {
    d.lastSeq = lastSeq;
    d.queued = 0;
    d.onAck = (seq, status, at) => {
      const sentAt = d.inflight.get(seq);
      if (sentAt === undefined) {
        unexpected++; // an ack for nothing in flight: a second ack, or one for another phase
        return;
      }
      d.inflight.delete(seq);
      outstanding--;
      statuses[status] = (statuses[status] ?? 0) + 1;
      latencies.push(at - sentAt);
      ackTimes.push(at - t0);
      if (p.kind === 'max') {
        if (d.nextSeq <= d.lastSeq) publish(d);
      } else if (d.queued > 0 && d.inflight.size < p.window) {
        d.queued--;
        publish(d);
      }
      if (outstanding === 0 && devices.every((x) => x.nextSeq > x.lastSeq)) finish();
    };
  }

  if (p.kind === 'max') {
    for (const d of devices) for (let i = 0; i < p.window && d.nextSeq <= d.lastSeq; i++) publish(d);
  } else {
    const intervalMs = (devices.length * cfg.batchSize * 1000) / p.rate;
    // Every send of the phase, in time order: device i's k-th batch is due at phase_i + k × interval.
    const due = [];
    devices.forEach((d, i) => {
      const phase = Math.random() * intervalMs;
      for (let k = 0; k < perDevice; k++) due.push({ at: phase + k * intervalMs, i });
    });
    due.sort((a, b) => a.at - b.at);
    let k = 0;
    await new Promise((resolve) => {
      const tick = () => {
        const now = performance.now() - t0;
        while (k < due.length && due[k].at <= now) {
          const d = devices[due[k++].i];
          if (d.inflight.size < p.window) publish(d);
          else {
            d.queued++;
            waitedForWindow++;
          }
        }
        if (k < due.length) setTimeout(tick, Math.max(0, Math.min(5, due[k].at - now)));
        else resolve();
      };
      tick();
    });
  }

  const drainDeadlineMs = p.drainSeconds * 1000;
  const timer = setTimeout(() => finish(), drainDeadlineMs);
  if (outstanding > 0 || !devices.every((x) => x.nextSeq > x.lastSeq)) await done;
  clearTimeout(timer);
  const seconds = (ackTimes.length > 0 ? Math.max(...ackTimes) : performance.now() - t0) / 1000;
  const cpu = cpuMs(c0);
  let missing = 0;
  for (const d of devices) {
    missing += d.inflight.size + (d.lastSeq - d.nextSeq + 1);
    d.onAck = undefined;
  }
  send({
    event: 'phase',
    kind: p.kind,
    batches_sent: encoded.batches - devices.reduce((n, d) => n + (d.lastSeq - d.nextSeq + 1), 0),
    batches_acked: latencies.length,
    bytes_per_reading: Number((encoded.bytes / encoded.batches / cfg.batchSize).toFixed(2)),
    encode_ms: Math.round(encodeMs),
    seconds: Number(seconds.toFixed(3)),
    ack_ms: latencySummary(latencies),
    statuses,
    unexpected_acks: unexpected,
    publish_errors: publishErrors,
    missing_acks: missing,
    waited_for_window: waitedForWindow,
    generator_cpu_ms: Math.round(cpu),
  });
}

/** Waits briefly for stray acks (a second ack for a seq would show up here), then reports every seq's acks. */
async function close(p) {
  await new Promise((r) => setTimeout(r, p.settleMs));
  let okOnce = 0;
  let notOkOnce = 0;
  const examples = [];
  for (const d of devices) {
    for (let seq = 1; seq < d.nextSeq; seq++) {
      const s = d.acked.get(seq);
      if (s === 'ok') okOnce++;
      else {
        notOkOnce++;
        if (examples.length < 5) examples.push(`${d.id}#${seq}: ${s ?? 'no ack'}`);
      }
    }
  }
  await Promise.all(
    devices.map((d) => {
      d.closing = true;
      return d.client ? d.client.endAsync().catch(() => undefined) : undefined;
    }),
  );
  send({ event: 'closed', sent: devices.reduce((n, d) => n + d.nextSeq - 1, 0), acked_ok_once: okOnce, not_ok_once: notOkOnce, examples });
}

process.on('message', (msg) => {
  const run = async () => {
    if (msg.cmd === 'init') init(msg);
    else if (msg.cmd === 'connect') await connectAll(msg.concurrency);
    else if (msg.cmd === 'prepare') preparePhase(msg);
    else if (msg.cmd === 'phase') await runPhase();
    else if (msg.cmd === 'close') {
      await close(msg);
      process.disconnect();
    }
  };
  run().catch((err) => {
    send({ event: 'error', message: err.stack ?? String(err) });
  });
});
