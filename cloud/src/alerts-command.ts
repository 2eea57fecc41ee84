// `tidemark-cloud alerts list|ack`: reads every page of GET /api/v1/alerts (table or json), and acknowledges
// one alert with POST /api/v1/alerts/{id}/ack. Exit codes: 0 ok, 1 runtime failure (unreachable API, an
// unknown id, a refused token), 2 a bad --url or a request the API calls malformed (HTTP 400).
import { ConfigError } from '@tidemark/shared';

export const ALERT_STATES = ['pending', 'firing', 'resolved'] as const;

export interface AlertsListOptions {
  url: string;
  state?: string;
  rule?: string;
  device?: string;
  token?: string;
  format: 'table' | 'json';
}

export interface AlertsAckOptions {
  url: string;
  token?: string;
}

/** An item of GET /api/v1/alerts, as far as this command prints it. */
export interface AlertItem {
  id: string;
  rule: string;
  device: string;
  sensor: string | null;
  severity: string;
  state: string;
  value: number | null;
  since: string;
  event_time: string;
  acked_by: string | null;
  message?: string;
  late?: boolean;
  [field: string]: unknown;
}

interface Io {
  out: NodeJS.WritableStream;
  err: NodeJS.WritableStream;
}

const COLUMNS = ['id', 'state', 'severity', 'rule', 'device', 'sensor', 'value', 'since', 'acked_by', 'message'] as const;

export async function runAlertsList(opts: AlertsListOptions, io: Io = { out: process.stdout, err: process.stderr }): Promise<number> {
  const base = baseUrl(opts.url);
  const params = new URLSearchParams();
  if (opts.state) params.set('state', opts.state);
  if (opts.rule) params.set('rule', opts.rule);
  if (opts.device) params.set('device', opts.device);
  const items: AlertItem[] = [];
  const seen = new Set<string>();
  let cursor: string | null = null;
  do {
    if (cursor) params.set('cursor', cursor);
    const query = params.toString();
    const res = await request(`${base}/api/v1/alerts${query ? `?${query}` : ''}`, { headers: auth(opts.token) }, io, 'list');
    if (typeof res === 'number') return res;
    const body = (await res.json().catch(() => ({}))) as { items?: AlertItem[]; next_cursor?: string | null; error?: { message?: string } };
    if (!res.ok) return httpFailure('list', res.status, body.error?.message ?? res.statusText, io);
    items.push(...(body.items ?? []));
    cursor = body.next_cursor ?? null;
    if (cursor !== null) {
      if (seen.has(cursor)) {
        io.err.write(`tidemark-cloud alerts list: the API returned cursor "${cursor}" twice; stopping\n`);
        return 1;
      }
      seen.add(cursor);
    }
  } while (cursor);

  if (opts.format === 'json') {
    io.out.write(`${JSON.stringify(items, null, 2)}\n`);
    return 0;
  }
  const rows = items.map((it) => COLUMNS.map((c) => cell(it, c)));
  const widths = COLUMNS.map((c, i) => Math.max(c.length, ...rows.map((r) => r[i]!.length)));
  // The last column (message) is not padded: it is free text.
  const line = (cells: readonly string[]) => cells.map((v, i) => (i === cells.length - 1 ? v : v.padEnd(widths[i]!))).join('  ').trimEnd();
  io.out.write(`${line(COLUMNS.map((c) => c.toUpperCase()))}\n`);
  for (const r of rows) io.out.write(`${line(r)}\n`);
  io.out.write(`${items.length} alert${items.length === 1 ? '' : 's'}\n`);
  return 0;
}

export async function runAlertsAck(id: string, opts: AlertsAckOptions, io: Io = { out: process.stdout, err: process.stderr }): Promise<number> {
  const base = baseUrl(opts.url);
  const res = await request(
    `${base}/api/v1/alerts/${encodeURIComponent(id)}/ack`,
    { method: 'POST', headers: { ...auth(opts.token), 'content-type': 'application/json' }, body: '{}' },
    io,
    'ack',
  );
  if (typeof res === 'number') return res;
  const body = (await res.json().catch(() => ({}))) as Partial<AlertItem> & { error?: { message?: string } };
  if (res.status === 404) {
    io.err.write(`tidemark-cloud alerts ack: no alert "${id}" (HTTP 404${body.error?.message ? `: ${body.error.message}` : ''})\n`);
    return 1;
  }
  if (!res.ok) return httpFailure('ack', res.status, body.error?.message ?? res.statusText, io);
  const by = typeof body.acked_by === 'string' ? ` by ${body.acked_by}` : '';
  const state = typeof body.state === 'string' ? ` (${body.state})` : '';
  io.out.write(`acknowledged ${id}${by}${state}\n`);
  return 0;
}

function baseUrl(raw: string): string {
  let ok = false;
  try {
    ok = /^https?:$/.test(new URL(raw).protocol);
  } catch {
    ok = false;
  }
  if (!ok) throw new ConfigError([{ path: '--url', message: `"${raw}" is not an http(s) URL, e.g. http://127.0.0.1:8080` }]);
  return raw.replace(/\/+$/, '');
}

function auth(token: string | undefined): Record<string, string> {
  const t = token ?? process.env.TIDEMARK_API_TOKEN;
  return t ? { authorization: `Bearer ${t}` } : {};
}

/** fetch, or the exit code after saying why the API could not be reached. */
async function request(url: string, init: RequestInit, io: Io, sub: string): Promise<Response | number> {
  try {
    return await fetch(url, { ...init, signal: AbortSignal.timeout(30_000) });
  } catch (err) {
    const cause = err instanceof Error ? (err.cause as { code?: string } | undefined) : undefined;
    const why = cause?.code ?? (err instanceof Error ? err.message : String(err));
    io.err.write(`tidemark-cloud alerts ${sub}: cannot reach ${new URL(url).origin}: ${why}\n`);
    return 1;
  }
}

function httpFailure(sub: string, status: number, message: string, io: Io): number {
  io.err.write(`tidemark-cloud alerts ${sub}: HTTP ${status}: ${message}\n`);
  return status === 400 ? 2 : 1;
}

function cell(it: AlertItem, c: (typeof COLUMNS)[number]): string {
  const v = it[c];
  if (v === null || v === undefined) return '-';
  if (c === 'state' && it.late === true) return `${String(v)} (late)`;
  if (typeof v === 'number') return Number.isInteger(v) ? String(v) : v.toPrecision(6).replace(/\.?0+$/, '');
  return String(v);
}
