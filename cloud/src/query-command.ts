// `tidemark-cloud query`: fetches every page of /api/v1/aggregates and prints table, csv or json.
import { ConfigError, parseDuration } from '@tidemark/shared';
import type { BucketItem } from './api/bucket-item.js';

export interface QueryCommandOptions {
  url: string;
  /** One device, or `tag` (key=value, repeatable): every device with the tags, merged (device "*"). */
  device?: string;
  tag?: string[];
  sensor: string;
  resolution: string;
  from: string;
  to: string;
  limit?: string;
  token?: string;
  format: 'table' | 'csv' | 'json';
}

type Item = BucketItem;

const COLUMNS = ['start', 'count', 'min', 'max', 'avg', 'stddev', 'sum', 'first', 'last', 'final', 'revision'] as const;

/** "now", a relative "-1h" / "-15m", or an ISO 8601 time → ISO string. */
export function resolveTime(name: string, raw: string, now = Date.now()): string {
  if (raw === 'now') return new Date(now).toISOString();
  if (raw.startsWith('-')) {
    try {
      return new Date(now - parseDuration(raw.slice(1))).toISOString();
    } catch {
      throw new ConfigError([{ path: `--${name}`, message: `"${raw}" is not a relative duration like -1h` }]);
    }
  }
  const ms = Date.parse(raw);
  if (!Number.isFinite(ms)) throw new ConfigError([{ path: `--${name}`, message: `"${raw}" is not an ISO 8601 time` }]);
  return new Date(ms).toISOString();
}

export async function runQuery(opts: QueryCommandOptions, out: NodeJS.WritableStream): Promise<number> {
  const base = opts.url.replace(/\/+$/, '');
  const tags = opts.tag ?? [];
  if ((opts.device === undefined) === (tags.length === 0)) {
    throw new ConfigError([{ path: '--device', message: 'give --device ID, or --tag key=value (repeatable) to merge every device with the tags' }]);
  }
  const params = new URLSearchParams({
    ...(opts.device !== undefined ? { device: opts.device } : {}),
    sensor: opts.sensor,
    resolution: opts.resolution,
    from: resolveTime('from', opts.from),
    to: resolveTime('to', opts.to),
  });
  for (const t of tags) params.append('tag', t);
  if (opts.limit) params.set('limit', opts.limit);
  const token = opts.token ?? process.env.TIDEMARK_API_TOKEN;
  const items: Item[] = [];
  let cursor: string | null = null;
  do {
    if (cursor) params.set('cursor', cursor);
    const res = await fetch(`${base}/api/v1/aggregates?${params}`, { headers: token ? { authorization: `Bearer ${token}` } : {} });
    const body = (await res.json().catch(() => ({}))) as { items?: Item[]; next_cursor?: string | null; error?: { message?: string } };
    if (!res.ok) {
      process.stderr.write(`tidemark-cloud query: HTTP ${res.status}: ${body.error?.message ?? res.statusText}\n`);
      return res.status >= 400 && res.status < 500 ? 2 : 1;
    }
    items.push(...(body.items ?? []));
    cursor = body.next_cursor ?? null;
  } while (cursor);

  if (opts.format === 'json') {
    out.write(`${JSON.stringify(items, null, 2)}\n`);
  } else if (opts.format === 'csv') {
    out.write(`${COLUMNS.join(',')}\n`);
    for (const it of items) out.write(`${COLUMNS.map((c) => String(it[c])).join(',')}\n`);
  } else {
    const rows = items.map((it) => COLUMNS.map((c) => (typeof it[c] === 'number' ? fmt(it[c] as number) : String(it[c]))));
    const widths = COLUMNS.map((c, i) => Math.max(c.length, ...rows.map((r) => r[i]!.length)));
    const line = (cells: readonly string[]) => cells.map((v, i) => (i === 0 ? v.padEnd(widths[i]!) : v.padStart(widths[i]!))).join('  ');
    out.write(`${line(COLUMNS)}\n`);
    for (const r of rows) out.write(`${line(r)}\n`);
    const who = opts.device ?? `tag ${tags.join(' ')}`;
    out.write(`${items.length} bucket${items.length === 1 ? '' : 's'} (${who}/${opts.sensor}, ${opts.resolution})\n`);
  }
  return 0;
}

function fmt(v: number): string {
  return Number.isInteger(v) ? String(v) : v.toPrecision(6).replace(/\.?0+$/, '');
}
