// Summarises a V8 .cpuprofile (node --cpu-prof) of the collector: self time by function and by component
// (SQLite, protobuf decode/validate, aedes/MQTT, sockets, GC …), and the inclusive time of the ingest path's
// key functions (SQLite or NATS JetStream stream store). Native calls (better-sqlite3's run/COMMIT, the fsync inside it) have no url of their own;
// they are charged to the nearest JavaScript caller's component. Optionally restricted to a time window
// (ms since the profile started), so connect and shutdown can be left out.
// CLI: npx tsx scripts/bench/support/ingest-profile.ts <file.cpuprofile> [fromMs] [toMs]
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

interface CallFrame {
  functionName: string;
  url: string;
  lineNumber: number;
}
interface ProfileNode {
  id: number;
  callFrame: CallFrame;
  children?: number[];
}
interface CpuProfile {
  nodes: ProfileNode[];
  startTime: number;
  endTime: number;
  samples: number[];
  timeDeltas: number[];
}

export interface ProfileSummary {
  window_ms: number;
  busy_ms: number;
  idle_ms: number;
  /** Busy time by component, largest first: [component, ms, % of busy]. */
  components: [string, number, number][];
  /** Self time by function, largest first. */
  top_self: { fn: string; where: string; component: string; ms: number; pct: number }[];
  /** Inclusive (self + callees) time of the ingest path's landmarks, % of busy. */
  inclusive: Record<string, { ms: number; pct: number }>;
}

/** The place a frame's code lives, short: a package name, a workspace module, or a Node internal. */
function where(url: string): string {
  if (url === '') return '';
  const nm = url.lastIndexOf('/node_modules/');
  if (nm >= 0) {
    const rest = url.slice(nm + '/node_modules/'.length).split('/');
    return rest[0]!.startsWith('@') ? `${rest[0]}/${rest[1]}` : rest[0]!;
  }
  const ws = /\/(proto|shared|edge|cloud)\/dist\/(.*)$/.exec(url);
  if (ws) return `@tidemark/${ws[1]}/${ws[2]}`;
  if (url.startsWith('node:')) return url;
  return url.replace(/^file:\/\//, '');
}

const MQTT_PACKAGES = new Set([
  'aedes', 'aedes-packet', 'aedes-persistence', 'mqtt-packet', 'mqtt', 'bl', 'fastfall', 'fastparallel', 'fastseries',
  'qlobber', 'retimer', 'reusify', 'hyperid', 'uuid', 'end-of-stream', 'fastq', 'readable-stream', 'process-nextick-args',
  'duplexify', 'stream-shift', 'number-allocator', 'commist', 'worker-timers',
]);

/** The component a frame is charged to: by its own code, or for a native frame by its caller's. */
function component(fn: string, place: string): string {
  if (fn === '(garbage collector)') return 'GC';
  if (fn === '(program)') return 'V8/native (unattributed)';
  if (fn === '(idle)') return 'idle';
  if (place.includes('/store/jetstream/')) return 'JetStream store (own code: dedup decisions, headers, read)';
  if (place === 'nats' || place === 'nkeys.js') return 'NATS client (nats.js: publish, PubAcks, protocol)';
  if (place === 'better-sqlite3' || place.includes('/store/')) return 'SQLite (better-sqlite3: insert, dedup, COMMIT + fsync)';
  if (place === 'protobufjs' || place === '@protobufjs/utf8' || place === '@protobufjs/float' || place === 'long' || place.startsWith('@tidemark/proto'))
    return 'protobuf decode/validate/encode (@tidemark/proto, protobufjs)';
  if (MQTT_PACKAGES.has(place)) return 'MQTT broker/client (aedes, mqtt-packet, mqtt.js)';
  if (place.startsWith('@tidemark/cloud/ingest')) return 'ingest (own code)';
  if (place.startsWith('@tidemark/cloud/broker')) return 'broker hooks (ACL, delivery)';
  if (place.startsWith('@tidemark/cloud/aggregate')) return 'aggregator';
  if (place === 'prom-client' || place.startsWith('@tidemark/shared/metrics')) return 'metrics';
  if (place === 'pino' || place.startsWith('@tidemark/shared/logging')) return 'logging';
  if (/^node:(net|stream|internal\/stream|internal\/net|internal\/streams|internal\/stream_base)/.test(place) || place === 'node:internal/stream_base_commons')
    return 'Node sockets and streams';
  if (place.startsWith('node:internal/process') || place.startsWith('node:internal/timers') || place === 'node:timers' || place === 'node:events')
    return 'Node event loop (timers, nextTick, events)';
  if (place.startsWith('node:')) return `Node other`;
  if (place.startsWith('@tidemark/')) return place.split('/').slice(0, 3).join('/');
  return place === '' ? 'V8/native (unattributed)' : place;
}

const LANDMARKS: Record<string, (f: CallFrame, place: string) => boolean> = {
  'Ingestor.process (whole group: check + append + acks)': (f, p) => f.functionName === 'process' && p.includes('cloud/ingest/ingestor'),
  'Ingestor.check (peek + decodeBatch + validateBatch)': (f, p) => f.functionName === 'check' && p.includes('cloud/ingest/ingestor'),
  decodeBatch: (f, p) => f.functionName === 'decodeBatch' && p.startsWith('@tidemark/proto'),
  validateBatch: (f, p) => f.functionName === 'validateBatch' && p.startsWith('@tidemark/proto'),
  'SqliteStreamStore.append (insert + dedup + COMMIT/fsync)': (f, p) => f.functionName === 'append' && p.includes('cloud/store/sqlite-stream-store'),
  // Synchronous part only: the PubAcks are awaited (idle time), not a blocking call as SQLite's COMMIT is.
  'JetStream Appender.append (dedup + pipelined publish)': (f, p) => f.functionName === 'append' && p.includes('cloud/store/jetstream/appender'),
  'nats.js publish (headers, encode, write)': (f, p) => f.functionName === 'publish' && p === 'nats',
  'publishAck (encode + broker publish)': (f, p) => f.functionName === 'publishAck' && p.includes('cloud/broker/'),
  encodeAck: (f, p) => f.functionName === 'encodeAck' && p.startsWith('@tidemark/proto'),
  'aedes/mqtt-packet parser': (f, p) => p === 'mqtt-packet' && /parse/i.test(f.functionName),
};

export function summariseProfile(path: string, fromMs = 0, toMs = Number.POSITIVE_INFINITY, top = 20): ProfileSummary {
  const prof = JSON.parse(readFileSync(path, 'utf8')) as CpuProfile;
  const byId = new Map<number, ProfileNode>();
  const parent = new Map<number, number>();
  for (const n of prof.nodes) {
    byId.set(n.id, n);
    for (const c of n.children ?? []) parent.set(c, n.id);
  }
  // Component of each node: its own code, or (native, no url) the nearest ancestor with code.
  const compOf = new Map<number, string>();
  const placeOf = new Map<number, string>();
  for (const n of prof.nodes) {
    let place = where(n.callFrame.url);
    const fn = n.callFrame.functionName;
    if (place === '' && !fn.startsWith('(')) {
      for (let p = parent.get(n.id); p !== undefined && place === ''; p = parent.get(p)) place = where(byId.get(p)!.callFrame.url);
    }
    placeOf.set(n.id, place);
    compOf.set(n.id, component(fn, place));
  }

  const self = new Map<number, number>();
  const incl = new Map<string, number>();
  let t = 0;
  let total = 0;
  let idle = 0;
  for (let i = 0; i < prof.samples.length; i++) {
    t += prof.timeDeltas[i]! / 1000;
    // A sample's duration is the gap to the next sample.
    const dur = (prof.timeDeltas[i + 1] ?? 0) / 1000;
    if (t < fromMs || t > toMs) continue;
    const id = prof.samples[i]!;
    total += dur;
    if (byId.get(id)!.callFrame.functionName === '(idle)') {
      idle += dur;
      continue;
    }
    self.set(id, (self.get(id) ?? 0) + dur);
    const hit = new Set<string>();
    for (let n: number | undefined = id; n !== undefined; n = parent.get(n)) {
      const node = byId.get(n)!;
      for (const [name, match] of Object.entries(LANDMARKS)) if (!hit.has(name) && match(node.callFrame, placeOf.get(n)!)) hit.add(name);
    }
    for (const name of hit) incl.set(name, (incl.get(name) ?? 0) + dur);
  }
  const busy = total - idle;
  const pct = (ms: number) => Number(((100 * ms) / Math.max(busy, 1e-9)).toFixed(1));

  const comps = new Map<string, number>();
  const fns = new Map<string, { fn: string; where: string; component: string; ms: number }>();
  for (const [id, ms] of self) {
    const n = byId.get(id)!;
    const comp = compOf.get(id)!;
    comps.set(comp, (comps.get(comp) ?? 0) + ms);
    const place = where(n.callFrame.url) || `(native, called from ${placeOf.get(id) || '?'})`;
    const key = `${n.callFrame.functionName}|${place}|${n.callFrame.lineNumber}`;
    const e = fns.get(key) ?? { fn: n.callFrame.functionName || '(anonymous)', where: n.callFrame.url ? `${place}:${n.callFrame.lineNumber + 1}` : place, component: comp, ms: 0 };
    e.ms += ms;
    fns.set(key, e);
  }
  return {
    window_ms: Math.round(total),
    busy_ms: Math.round(busy),
    idle_ms: Math.round(idle),
    components: [...comps].sort((a, b) => b[1] - a[1]).map(([c, ms]) => [c, Math.round(ms), pct(ms)]),
    top_self: [...fns.values()]
      .sort((a, b) => b.ms - a.ms)
      .slice(0, top)
      .map((e) => ({ ...e, ms: Math.round(e.ms), pct: pct(e.ms) })),
    inclusive: Object.fromEntries(Object.keys(LANDMARKS).map((k) => [k, { ms: Math.round(incl.get(k) ?? 0), pct: pct(incl.get(k) ?? 0) }])),
  };
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const [file, from, to] = process.argv.slice(2);
  if (!file) {
    console.error('usage: ingest-profile.ts <file.cpuprofile> [fromMs] [toMs]');
    process.exit(2);
  }
  console.log(JSON.stringify(summariseProfile(file, from ? Number(from) : 0, to ? Number(to) : Number.POSITIVE_INFINITY, 30), null, 1));
}
