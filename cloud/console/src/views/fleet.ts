// Fleet: every device with its state, filterable, sortable and searchable, refreshed every 2 s. Only the
// rows in view are in the DOM (fleet-rows.ts), so 1,000 devices scroll and re-sort as cheaply as 20.
// Readings/s is derived here from the `readings` counter between refreshes. The first device list is asked
// for before the shell builds anything (prefetchFleet), and the table is drawn as soon as it arrives: the
// firing alerts, asked for at the same time, only redraw it if they change a count.
// Marks: `fleet-data` (list parsed), `fleet-ready` (table rendered, every device counted), `fleet-painted`
// (the visible rows on screen, from the Element Timing of their first paint).
import { listAlerts, listDevices, type Device } from '../api.js';
import { h } from '../format.js';
import { parseRoute, updateParams } from '../route.js';
import { FleetRows, type FleetRow as Row } from './fleet-rows.js';
import type { ViewHandle } from './view.js';

const POLL_MS = 2000;
const RATE_WINDOW_MS = 10_000;
const collator = new Intl.Collator();

let prefetched: { at: number; devices: Promise<Device[]> } | undefined;

/** Starts the fleet's first request before the console builds its first screen; fleetView takes it over. */
export function prefetchFleet(): void {
  const devices = listDevices();
  devices.catch(() => undefined); // fleetView reports it
  prefetched = { at: Date.now(), devices };
}

function takePrefetched(): Promise<Device[]> | undefined {
  const p = prefetched;
  prefetched = undefined;
  return p && Date.now() - p.at < POLL_MS ? p.devices : undefined;
}

/** When the rows tagged `fleet-row` were first painted: the `fleet-painted` mark (once per page). */
function markWhenPainted(): void {
  if (performance.getEntriesByName('fleet-painted').length > 0) return;
  const mark = (at: number) => {
    if (performance.getEntriesByName('fleet-painted').length === 0) performance.mark('fleet-painted', { startTime: at });
  };
  if (!PerformanceObserver.supportedEntryTypes.includes('element')) {
    // No Element Timing: the end of the next frame is the closest the page can tell.
    requestAnimationFrame(() => setTimeout(() => mark(performance.now())));
    return;
  }
  const observer = new PerformanceObserver((list) => {
    const rows = list.getEntries().filter((e) => (e as PerformanceEntry & { identifier?: string }).identifier === 'fleet-row');
    if (rows.length === 0) return;
    observer.disconnect();
    // Every tagged row in view is painted in the same frame; take the latest to be safe.
    const at = Math.max(...rows.map((e) => (e as PerformanceEntry & { renderTime: number }).renderTime || e.startTime));
    document.querySelector('.fleet')?.setAttribute('data-painted-rows', String(rows.length));
    mark(at);
  });
  observer.observe({ type: 'element', buffered: true });
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
  const rows = new FleetRows(viewport, spacer, rowsEl);

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
      case 'last_seen': return r.lastSeenMs;
      case 'backlog': return r.backlog_readings ?? -1;
      case 'backlog_age': return r.backlogAgeMs ?? -1;
      case 'clock': return r.clock_synced === null ? -1 : r.clock_synced ? 1 : 0;
      case 'rate': return r.rate ?? -1;
      case 'drops': return r.dropped_readings ?? -1;
      case 'rejected': return r.rejected_batches ?? -1;
      case 'alerts': return r.alerts;
    }
  };

  /** Filters and sorts every device, then shows the rows in view. `timed`: the first render (paint timing). */
  const apply = (timed = false) => {
    const q = query.trim().toLowerCase();
    shown = devices.filter((d) => {
      if (q && !d.id.toLowerCase().includes(q)) return false;
      if (status === 'online') return d.online;
      if (status === 'offline') return !d.online;
      if (status === 'alerting') return d.alerts > 0;
      if (status === 'backlog') return (d.backlog_readings ?? 0) > 0;
      return true;
    });
    // Each key once per device, then one comparison per pair (a collator, not localeCompare per call).
    const dir = sortDesc ? -1 : 1;
    const keys = new Map<Row, number | string>();
    for (const d of shown) keys.set(d, sortValue(d));
    shown.sort((a, b) => {
      const x = keys.get(a)!;
      const y = keys.get(b)!;
      const c = typeof x === 'string' || typeof y === 'string' ? collator.compare(String(x), String(y)) : x - y;
      return c !== 0 ? c * dir : collator.compare(a.id, b.id);
    });
    const online = devices.filter((d) => d.online).length;
    summary.textContent = loaded
      ? `${shown.length} of ${devices.length} devices · ${online} online · ${devices.length - online} offline${alertsAvailable ? '' : ' · alerts not configured'}`
      : 'Loading devices…';
    table.setAttribute('aria-rowcount', String(shown.length + 1));
    rows.set(shown, alertsAvailable, { timed });
  };

  const refresh = async (signal: AbortSignal) => {
    const now = Date.now();
    const items = await (takePrefetched() ?? listDevices(signal));
    if (signal.aborted) return;
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
      const lastSeenMs = d.last_seen ? Date.parse(d.last_seen) : -Infinity;
      return { ...d, rate, backlogAgeMs: Number.isFinite(backlogAgeMs) ? backlogAgeMs : null, alerts: alertsByDevice.get(d.id) ?? 0, lastSeenMs };
    });
    const first = !loaded;
    loaded = true;
    apply(first);
    if (first) {
      root.querySelector('.fleet')?.setAttribute('data-ready', 'true');
      performance.mark('fleet-ready', { detail: { devices: devices.length } });
      markWhenPainted();
    }
  };

  /** True when the table must be redrawn: a device's firing count changed, or alerts turned out absent. */
  const refreshAlerts = async (signal: AbortSignal): Promise<boolean> => {
    if (!alertsAvailable) return false;
    const r = await listAlerts({ state: 'firing' }, signal);
    if (!r.available) {
      alertsAvailable = false;
      return true;
    }
    const m = new Map<string, number>();
    for (const a of r.items) m.set(a.device, (m.get(a.device) ?? 0) + 1);
    let changed = m.size !== alertsByDevice.size || [...m].some(([id, n]) => alertsByDevice.get(id) !== n);
    alertsByDevice = m;
    for (const d of devices) {
      const n = m.get(d.id) ?? 0;
      if (d.alerts !== n) changed = true;
      d.alerts = n;
    }
    return changed;
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
  renderHead();
  const abort = new AbortController();
  let timer: ReturnType<typeof setTimeout> | undefined;
  const loop = async () => {
    try {
      // Both requests go out together; the devices are drawn as soon as they arrive.
      const alerts = refreshAlerts(abort.signal).catch(() => false);
      await refresh(abort.signal);
      if ((await alerts) && !abort.signal.aborted) apply();
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
      rows.close();
    },
  };
}
