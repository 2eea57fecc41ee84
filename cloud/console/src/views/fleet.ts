// Fleet: every device with its state, filterable, sortable and searchable, refreshed every 2 s. Only the
// rows in view are in the DOM (fixed row height, a spacer for the rest), so 1,000 devices scroll and
// re-sort as cheaply as 20. Readings/s is derived here from the `readings` counter between refreshes.
import { listAlerts, listDevices, type Device } from '../api.js';
import { ago, count, duration, h } from '../format.js';
import { parseRoute, updateParams } from '../route.js';
import type { ViewHandle } from './view.js';

const ROW_H = 36;
const OVERSCAN = 8;
const POLL_MS = 2000;
const RATE_WINDOW_MS = 10_000;

interface Row extends Device {
  rate: number | null;
  backlogAgeMs: number | null;
  alerts: number;
}

type SortKey = 'status' | 'id' | 'last_seen' | 'backlog' | 'backlog_age' | 'clock' | 'rate' | 'drops' | 'rejected' | 'alerts';

const COLUMNS: { key: SortKey; label: string; title: string; num?: boolean }[] = [
  { key: 'status', label: 'Status', title: 'online or offline (from the gateway status and its will)' },
  { key: 'id', label: 'Device', title: 'device id' },
  { key: 'last_seen', label: 'Last seen', title: 'time since the last accepted batch or status' },
  { key: 'backlog', label: 'Backlog', title: 'readings waiting in the gateway buffer', num: true },
  { key: 'backlog_age', label: 'Backlog age', title: 'age of the oldest buffered reading', num: true },
  { key: 'clock', label: 'Clock', title: 'whether the gateway clock is synchronised' },
  { key: 'rate', label: 'Readings/s', title: 'readings accepted per second (last 10 s)', num: true },
  { key: 'drops', label: 'Drops', title: 'readings the gateway dropped (buffer full or too old), when its status reports them', num: true },
  { key: 'rejected', label: 'Rejects', title: 'batches from this device the collector refused (rejected or undecodable)', num: true },
  { key: 'alerts', label: 'Alerts', title: 'firing alerts', num: true },
];

export function fleetView(root: HTMLElement): ViewHandle {
  const route = parseRoute();
  let query = route.params.get('q') ?? '';
  let status = route.params.get('status') ?? 'all';
  let sortKey = (route.params.get('sort') as SortKey | null) ?? 'id';
  let sortDesc = route.params.get('dir') === 'desc';

  const history = new Map<string, { t: number; readings: number }[]>();
  let devices: Row[] = [];
  let shown: Row[] = [];
  let alertsByDevice = new Map<string, number>();
  let alertsAvailable = true;
  let loaded = false;

  const search = h('input', { type: 'search', id: 'fleet-search', placeholder: 'Search devices', 'aria-label': 'Search devices', value: query });
  const statusSel = h('select', { id: 'fleet-status', 'aria-label': 'Show' });
  for (const [v, label] of [
    ['all', 'All devices'],
    ['online', 'Online'],
    ['offline', 'Offline'],
    ['alerting', 'With firing alerts'],
    ['backlog', 'With backlog'],
  ] as const) {
    statusSel.append(h('option', { value: v, selected: v === status }, label));
  }
  const summary = h('p', { class: 'summary', id: 'fleet-summary', 'aria-live': 'polite' }, 'Loading devices…');
  const headRow = h('div', { class: 'fleet-row fleet-head', role: 'row' });
  const viewport = h('div', { class: 'fleet-viewport', id: 'fleet-viewport', role: 'rowgroup' });
  const spacer = h('div', { class: 'fleet-spacer' });
  const rowsEl = h('div', { class: 'fleet-rows' });
  viewport.append(spacer, rowsEl);
  const table = h('div', { class: 'fleet-table', role: 'table', 'aria-label': 'Devices', 'aria-rowcount': 0 }, headRow, viewport);

  root.replaceChildren(
    h('section', { class: 'view fleet', 'aria-labelledby': 'fleet-title' },
      h('div', { class: 'toolbar' }, h('h1', { id: 'fleet-title' }, 'Fleet'), search, statusSel, summary),
      table,
    ),
  );

  const renderHead = () => {
    headRow.replaceChildren(
      ...COLUMNS.map((c) => {
        const active = c.key === sortKey;
        const btn = h('button', { type: 'button', class: 'sort', title: c.title, 'data-sort': c.key }, c.label, active ? (sortDesc ? ' ▾' : ' ▴') : '');
        btn.addEventListener('click', () => {
          if (sortKey === c.key) sortDesc = !sortDesc;
          else {
            sortKey = c.key;
            sortDesc = !!c.num;
          }
          updateParams({ sort: sortKey, dir: sortDesc ? 'desc' : null });
          renderHead();
          apply();
        });
        return h('div', { role: 'columnheader', class: `col col-${c.key}${c.num ? ' num' : ''}`, 'aria-sort': active ? (sortDesc ? 'descending' : 'ascending') : 'none' }, btn);
      }),
    );
  };

  const sortValue = (r: Row): number | string => {
    switch (sortKey) {
      case 'status': return r.online ? 1 : 0;
      case 'id': return r.id;
      case 'last_seen': return r.last_seen ? Date.parse(r.last_seen) : -Infinity;
      case 'backlog': return r.backlog_readings ?? -1;
      case 'backlog_age': return r.backlogAgeMs ?? -1;
      case 'clock': return r.clock_synced === null ? -1 : r.clock_synced ? 1 : 0;
      case 'rate': return r.rate ?? -1;
      case 'drops': return r.dropped_readings ?? -1;
      case 'rejected': return r.rejected_batches ?? -1;
      case 'alerts': return r.alerts;
    }
  };

  const apply = () => {
    const q = query.trim().toLowerCase();
    shown = devices.filter((d) => {
      if (q && !d.id.toLowerCase().includes(q)) return false;
      if (status === 'online') return d.online;
      if (status === 'offline') return !d.online;
      if (status === 'alerting') return d.alerts > 0;
      if (status === 'backlog') return (d.backlog_readings ?? 0) > 0;
      return true;
    });
    const dir = sortDesc ? -1 : 1;
    shown.sort((a, b) => {
      const x = sortValue(a);
      const y = sortValue(b);
      const c = typeof x === 'string' || typeof y === 'string' ? String(x).localeCompare(String(y)) : x - y;
      return c !== 0 ? c * dir : a.id.localeCompare(b.id);
    });
    const online = devices.filter((d) => d.online).length;
    summary.textContent = loaded
      ? `${shown.length} of ${devices.length} devices · ${online} online · ${devices.length - online} offline${alertsAvailable ? '' : ' · alerts not configured'}`
      : 'Loading devices…';
    table.setAttribute('aria-rowcount', String(shown.length + 1));
    spacer.style.height = `${shown.length * ROW_H}px`;
    renderRows();
  };

  const renderRows = () => {
    const top = viewport.scrollTop;
    const height = viewport.clientHeight || 600;
    const first = Math.max(0, Math.floor(top / ROW_H) - OVERSCAN);
    const last = Math.min(shown.length, Math.ceil((top + height) / ROW_H) + OVERSCAN);
    const now = Date.now();
    const frag = document.createDocumentFragment();
    for (let i = first; i < last; i++) frag.append(renderRow(shown[i]!, i, now));
    rowsEl.style.transform = `translateY(${first * ROW_H}px)`;
    rowsEl.replaceChildren(frag);
  };

  const renderRow = (d: Row, i: number, now: number): HTMLElement => {
    const link = h('a', { href: `#/device/${encodeURIComponent(d.id)}`, class: 'device-link' }, d.id);
    const cell = (key: SortKey, content: Node | string, extra = '') =>
      h('div', { role: 'cell', class: `col col-${key}${extra}` }, content);
    const clock = d.clock_synced === null ? '—' : d.clock_synced ? 'synced' : 'NOT synced';
    return h(
      'div',
      { class: `fleet-row${d.online ? '' : ' is-offline'}${d.alerts > 0 ? ' is-alerting' : ''}`, role: 'row', 'aria-rowindex': i + 2, 'data-device': d.id, 'data-online': d.online },
      cell('status', h('span', { class: `badge ${d.online ? 'ok' : 'off'}`, 'data-status': d.online ? 'online' : 'offline' }, d.online ? 'online' : 'offline')),
      cell('id', link),
      cell('last_seen', h('span', { title: d.last_seen ?? 'never' }, d.last_seen ? `${ago(d.last_seen, now)} ago` : 'never')),
      cell('backlog', count(d.backlog_readings), ' num'),
      cell('backlog_age', d.backlogAgeMs === null ? '—' : duration(d.backlogAgeMs), ' num'),
      cell('clock', h('span', { class: d.clock_synced === false ? 'warn' : '' }, clock)),
      cell('rate', d.rate === null ? '…' : count(d.rate), ' num'),
      cell('drops', count(d.dropped_readings), ' num'),
      cell('rejected', h('span', { class: (d.rejected_batches ?? 0) > 0 ? 'warn' : '' }, count(d.rejected_batches)), ' num'),
      cell('alerts', alertsAvailable ? h('span', { class: d.alerts > 0 ? 'badge crit' : '' }, String(d.alerts)) : '—', ' num'),
    );
  };

  const refresh = async (signal: AbortSignal) => {
    const now = Date.now();
    const items = await listDevices(signal);
    if (!loaded) performance.mark('fleet-data');
    devices = items.map((d) => {
      const hist = history.get(d.id) ?? [];
      if (typeof d.readings === 'number') hist.push({ t: now, readings: d.readings });
      while (hist.length > 2 && now - hist[1]!.t >= RATE_WINDOW_MS) hist.shift();
      history.set(d.id, hist);
      const oldest = hist[0];
      const newest = hist[hist.length - 1];
      const rate = oldest && newest && newest.t > oldest.t ? ((newest.readings - oldest.readings) * 1000) / (newest.t - oldest.t) : null;
      const backlogAgeMs = d.oldest_buffered_time && (d.backlog_readings ?? 0) > 0 ? Math.max(0, now - Date.parse(d.oldest_buffered_time)) : null;
      return { ...d, rate, backlogAgeMs: Number.isFinite(backlogAgeMs) ? backlogAgeMs : null, alerts: alertsByDevice.get(d.id) ?? 0 };
    });
    const first = !loaded;
    loaded = true;
    apply();
    if (first) {
      root.querySelector('.fleet')?.setAttribute('data-ready', 'true');
      performance.mark('fleet-ready', { detail: { devices: devices.length } });
    }
  };

  const refreshAlerts = async (signal: AbortSignal) => {
    if (!alertsAvailable) return;
    const r = await listAlerts({ state: 'firing' }, signal);
    if (!r.available) {
      alertsAvailable = false;
      return;
    }
    const m = new Map<string, number>();
    for (const a of r.items) m.set(a.device, (m.get(a.device) ?? 0) + 1);
    alertsByDevice = m;
    for (const d of devices) d.alerts = m.get(d.id) ?? 0;
  };

  search.addEventListener('input', () => {
    query = search.value;
    updateParams({ q: query || null });
    apply();
  });
  statusSel.addEventListener('change', () => {
    status = statusSel.value;
    updateParams({ status: status === 'all' ? null : status });
    apply();
  });
  let scheduled = false;
  viewport.addEventListener('scroll', () => {
    if (scheduled) return;
    scheduled = true;
    requestAnimationFrame(() => {
      scheduled = false;
      renderRows();
    });
  });

  renderHead();
  const abort = new AbortController();
  let timer: ReturnType<typeof setTimeout> | undefined;
  const loop = async () => {
    try {
      await Promise.all([refresh(abort.signal), refreshAlerts(abort.signal).catch(() => undefined)]);
      apply();
    } catch (err) {
      if (abort.signal.aborted) return;
      summary.textContent = `Cannot load devices: ${(err as Error).message}`;
    }
    if (!abort.signal.aborted) timer = setTimeout(() => void loop(), POLL_MS);
  };
  void loop();
  search.focus();

  return {
    close() {
      abort.abort();
      clearTimeout(timer);
    },
  };
}
