// The console's only way to the server: the public HTTP API (same origin) and /api/v1/stream. When the
// server wants a bearer token, the console asks for one once and keeps it in sessionStorage, so it lives
// exactly as long as the tab. A 401 anywhere drops the token and asks again.

const TOKEN_KEY = 'tidemark.token';

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

export interface Device {
  id: string;
  online: boolean;
  last_seen: string | null;
  backlog_readings: number | null;
  oldest_buffered_time: string | null;
  clock_synced: boolean | null;
  agent_version?: string | null;
  batches?: number;
  readings?: number;
  /** Readings the gateway dropped, when its status reports them (null: not reported). */
  dropped_readings?: number | null;
  /** Batches from the device the collector refused. */
  rejected_batches?: number;
}

export interface SensorInfo {
  name: string;
  first_seen: string;
  last_seen: string;
  readings?: number;
}

export interface Bucket {
  device: string;
  sensor: string;
  resolution: string;
  start: string;
  count: number;
  sum: number;
  min: number;
  max: number;
  avg: number;
  stddev: number;
  first: number;
  last: number;
  final: boolean;
  revision: number;
}

export interface Alert {
  id: string;
  rule: string;
  device: string;
  sensor?: string | null;
  severity: 'info' | 'warning' | 'critical' | string;
  state: 'pending' | 'firing' | 'resolved' | string;
  value?: number | null;
  since?: string | null;
  event_time?: string | null;
  acked_by?: string | null;
  message?: string | null;
  late?: boolean;
}

type AuthListener = (reason: 'missing' | 'rejected') => void;
const authListeners = new Set<AuthListener>();

export const auth = {
  get token(): string | null {
    return sessionStorage.getItem(TOKEN_KEY);
  },
  set(token: string | null): void {
    if (token) sessionStorage.setItem(TOKEN_KEY, token);
    else sessionStorage.removeItem(TOKEN_KEY);
  },
  /** Called when the server refuses us: the shell shows the token form. */
  onNeeded(listener: AuthListener): () => void {
    authListeners.add(listener);
    return () => authListeners.delete(listener);
  },
};

function headers(extra: Record<string, string> = {}): Record<string, string> {
  const token = auth.token;
  return token ? { ...extra, authorization: `Bearer ${token}` } : extra;
}

async function fail(res: Response): Promise<never> {
  let code = 'http_' + res.status;
  let message = `${res.status} ${res.statusText}`;
  try {
    const body = (await res.json()) as { error?: { code?: string; message?: string } };
    if (body.error?.code) code = body.error.code;
    if (body.error?.message) message = body.error.message;
  } catch {
    // not JSON: keep the status line
  }
  if (res.status === 401) {
    const hadToken = auth.token !== null;
    auth.set(null);
    for (const l of authListeners) l(hadToken ? 'rejected' : 'missing');
  }
  throw new ApiError(res.status, code, message);
}

export async function getJson<T>(path: string, signal?: AbortSignal): Promise<T> {
  const res = await fetch(path, { headers: headers({ accept: 'application/json' }), signal: signal ?? null });
  if (!res.ok) return fail(res);
  return (await res.json()) as T;
}

export async function postJson<T>(path: string, body: unknown = {}): Promise<T> {
  const res = await fetch(path, { method: 'POST', headers: headers({ 'content-type': 'application/json', accept: 'application/json' }), body: JSON.stringify(body) });
  if (!res.ok) return fail(res);
  return (await res.json().catch(() => ({}))) as T;
}

/** Checks a token before keeping it: true when the server accepts it. */
export async function tryToken(token: string): Promise<boolean> {
  const res = await fetch('/api/v1/devices', { headers: { authorization: `Bearer ${token}` } });
  return res.ok;
}

export const listDevices = (signal?: AbortSignal) => getJson<{ items: Device[] }>('/api/v1/devices', signal).then((r) => r.items);
export const listSensors = (device: string, signal?: AbortSignal) =>
  getJson<{ items: SensorInfo[] }>(`/api/v1/devices/${encodeURIComponent(device)}/sensors`, signal).then((r) => r.items);

/** Every bucket of [from, to), following cursors. */
export async function fetchBuckets(q: { device: string; sensor: string; resolution: string; from: number; to: number }, signal?: AbortSignal): Promise<Bucket[]> {
  const out: Bucket[] = [];
  let cursor: string | null = null;
  do {
    const p = new URLSearchParams({
      device: q.device,
      sensor: q.sensor,
      resolution: q.resolution,
      from: new Date(q.from).toISOString(),
      to: new Date(q.to).toISOString(),
      limit: '10000',
    });
    if (cursor) p.set('cursor', cursor);
    const page: { items: Bucket[]; next_cursor: string | null } = await getJson(`/api/v1/aggregates?${p}`, signal);
    out.push(...page.items);
    cursor = page.next_cursor;
  } while (cursor);
  return out;
}

/** The resolutions the server aggregates at, from its OpenAPI document (fallback: the SPEC's defaults). */
let resolutionsPromise: Promise<string[]> | undefined;
export function resolutions(): Promise<string[]> {
  resolutionsPromise ??= getJson<Record<string, unknown>>('/api/v1/openapi.json')
    .then((doc) => {
      const found = findEnum(doc, 'resolution');
      return found && found.length > 0 ? found : ['1m', '1h', '1d'];
    })
    .catch(() => ['1m', '1h', '1d']);
  return resolutionsPromise;
}

function findEnum(doc: unknown, name: string): string[] | undefined {
  // parameters: [{ name: 'resolution', schema: { enum: [...] } }] somewhere in the document
  const stack: unknown[] = [doc];
  while (stack.length) {
    const node = stack.pop();
    if (!node || typeof node !== 'object') continue;
    const o = node as Record<string, unknown>;
    if (o.name === name && o.schema && typeof o.schema === 'object') {
      const e = (o.schema as { enum?: unknown }).enum;
      if (Array.isArray(e) && e.every((x) => typeof x === 'string')) return e as string[];
    }
    for (const v of Object.values(o)) if (v && typeof v === 'object') stack.push(v);
  }
  return undefined;
}

export type AlertsAnswer = { available: true; items: Alert[]; next_cursor: string | null } | { available: false; reason: string };

/** A server without alerts answers 404 or 501: that is "not configured", not an error. */
export async function listAlerts(q: Record<string, string>, signal?: AbortSignal): Promise<AlertsAnswer> {
  try {
    const r = await getJson<{ items: Alert[]; next_cursor?: string | null }>(`/api/v1/alerts?${new URLSearchParams(q)}`, signal);
    return { available: true, items: r.items, next_cursor: r.next_cursor ?? null };
  } catch (err) {
    if (err instanceof ApiError && (err.status === 404 || err.status === 501)) return { available: false, reason: err.message };
    throw err;
  }
}

export const ackAlert = (id: string) => postJson(`/api/v1/alerts/${encodeURIComponent(id)}/ack`);
