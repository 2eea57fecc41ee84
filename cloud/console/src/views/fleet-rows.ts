// The fleet's windowed table body: only the rows in view (and a few either side) exist, at a fixed height,
// over a spacer as tall as every row. Row elements are cloned from one template and then reused — moving the
// window, re-sorting or refreshing rewrites only the text and attributes that changed. The viewport's height
// and scroll offset come from ResizeObserver and scroll events, so rendering never forces a layout.
import type { Device } from '../api.js';
import { ago, count, duration, h } from '../format.js';

export const ROW_H = 36;
const OVERSCAN = 8;

export interface FleetRow extends Device {
  rate: number | null;
  backlogAgeMs: number | null;
  alerts: number;
  /** last_seen in ms (-Infinity: never), parsed once per refresh for sorting. */
  lastSeenMs: number;
}

const CELLS = ['status', 'id', 'last_seen', 'backlog', 'backlog_age', 'clock', 'rate', 'drops', 'rejected', 'alerts'] as const;
const NUMERIC = new Set<string>(['backlog', 'backlog_age', 'rate', 'drops', 'rejected', 'alerts']);
// Cells whose content is an inner element (badge, link, span) rather than text.
const INNER: Partial<Record<(typeof CELLS)[number], () => HTMLElement>> = {
  status: () => h('span', { class: 'badge' }),
  id: () => h('a', { class: 'device-link' }),
  last_seen: () => h('span'),
  clock: () => h('span'),
  rejected: () => h('span'),
  alerts: () => h('span'),
};

function rowTemplate(): HTMLElement {
  const row = h('div', { class: 'fleet-row', role: 'row' });
  for (const key of CELLS) {
    const inner = INNER[key]?.();
    row.append(h('div', { role: 'cell', class: `col col-${key}${NUMERIC.has(key) ? ' num' : ''}` }, inner ?? ''));
  }
  return row;
}

const setText = (el: Element, text: string) => {
  if (el.textContent !== text) el.textContent = text;
};
const setAttr = (el: Element, name: string, v: string) => {
  if (el.getAttribute(name) !== v) el.setAttribute(name, v);
};

function fillRow(row: HTMLElement, d: FleetRow, i: number, now: number, alertsAvailable: boolean): void {
  const c = row.children;
  const inner = (k: number) => c[k]!.firstElementChild!;
  setAttr(row, 'class', `fleet-row${d.online ? '' : ' is-offline'}${d.alerts > 0 ? ' is-alerting' : ''}`);
  setAttr(row, 'aria-rowindex', String(i + 2));
  setAttr(row, 'data-device', d.id);
  setAttr(row, 'data-online', String(d.online));
  const badge = inner(0);
  setAttr(badge, 'class', `badge ${d.online ? 'ok' : 'off'}`);
  setAttr(badge, 'data-status', d.online ? 'online' : 'offline');
  setText(badge, d.online ? 'online' : 'offline');
  const link = inner(1);
  setAttr(link, 'href', `#/device/${encodeURIComponent(d.id)}`);
  setText(link, d.id);
  const seen = inner(2);
  setAttr(seen, 'title', d.last_seen ?? 'never');
  setText(seen, d.last_seen ? `${ago(d.last_seen, now)} ago` : 'never');
  setText(c[3]!, count(d.backlog_readings));
  setText(c[4]!, d.backlogAgeMs === null ? '—' : duration(d.backlogAgeMs));
  const clock = inner(5);
  setAttr(clock, 'class', d.clock_synced === false ? 'warn' : '');
  setText(clock, d.clock_synced === null ? '—' : d.clock_synced ? 'synced' : 'NOT synced');
  setText(c[6]!, d.rate === null ? '…' : count(d.rate));
  setText(c[7]!, count(d.dropped_readings));
  const rejected = inner(8);
  setAttr(rejected, 'class', (d.rejected_batches ?? 0) > 0 ? 'warn' : '');
  setText(rejected, count(d.rejected_batches));
  const alerts = inner(9);
  setAttr(alerts, 'class', alertsAvailable && d.alerts > 0 ? 'badge crit' : '');
  setText(alerts, alertsAvailable ? String(d.alerts) : '—');
}

export class FleetRows {
  private readonly template = rowTemplate();
  private top = 0;
  private height: number;
  private items: readonly FleetRow[] = [];
  private alertsAvailable = true;
  private frame = 0;
  private readonly resizeObserver: ResizeObserver;
  /** Rows rendered before the first paint carry `elementtiming`, so the page can tell when they were painted. */
  private timed = false;

  constructor(
    private readonly viewport: HTMLElement,
    private readonly spacer: HTMLElement,
    private readonly rowsEl: HTMLElement,
  ) {
    // Until the first layout reports it, the viewport's CSS height (calc(100vh - 170px), at least 300px).
    this.height = Math.max(300, window.innerHeight - 170);
    this.resizeObserver = new ResizeObserver((entries) => {
      const hgt = entries[entries.length - 1]!.contentRect.height;
      if (hgt > 0 && Math.abs(hgt - this.height) >= 1) {
        this.height = hgt;
        this.schedule();
      }
    });
    this.resizeObserver.observe(viewport);
    viewport.addEventListener('scroll', () => {
      this.top = viewport.scrollTop;
      this.schedule();
    });
  }

  /** Shows `items` (already filtered and sorted). `timed`: tag these rows for the paint timing. */
  set(items: readonly FleetRow[], alertsAvailable: boolean, opts: { timed?: boolean } = {}): void {
    this.items = items;
    this.alertsAvailable = alertsAvailable;
    this.spacer.style.height = `${items.length * ROW_H}px`;
    // The browser clamps the scroll offset when the list gets shorter; follow it without reading layout.
    this.top = Math.max(0, Math.min(this.top, items.length * ROW_H - this.height));
    this.timed = opts.timed ?? false;
    this.render();
  }

  close(): void {
    cancelAnimationFrame(this.frame);
    this.resizeObserver.disconnect();
  }

  private schedule(): void {
    if (this.frame) return;
    this.frame = requestAnimationFrame(() => {
      this.frame = 0;
      this.render();
    });
  }

  private render(): void {
    const first = Math.max(0, Math.floor(this.top / ROW_H) - OVERSCAN);
    const last = Math.min(this.items.length, Math.ceil((this.top + this.height) / ROW_H) + OVERSCAN);
    const want = Math.max(0, last - first);
    const rows = this.rowsEl.children;
    while (rows.length > want) rows[rows.length - 1]!.remove();
    const missing: HTMLElement[] = [];
    for (let k = rows.length; k < want; k++) missing.push(this.template.cloneNode(true) as HTMLElement);
    if (missing.length) this.rowsEl.append(...missing);
    const now = Date.now();
    for (let k = 0; k < want; k++) {
      const row = rows[k] as HTMLElement;
      fillRow(row, this.items[first + k]!, first + k, now, this.alertsAvailable);
      // On the id cell: Element Timing reports text for the block that holds it, not for the inline link.
      if (this.timed) row.children[1]!.setAttribute('elementtiming', 'fleet-row');
    }
    this.rowsEl.style.transform = `translateY(${first * ROW_H}px)`;
  }
}
