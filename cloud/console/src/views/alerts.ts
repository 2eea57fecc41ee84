// Alerts: firing, pending and resolved (the history, paged by cursor), with ack for a token with the
// operate scope. Refreshed every 3 s and on `event: alert` from the stream. A server without alerts (404 or
// 501) shows "alerts not configured" rather than an error.
import { ackAlert, ApiError, listAlerts, type Alert } from '../api.js';
import { ago, h, value } from '../format.js';
import { LiveStream } from '../live.js';
import { parseRoute, updateParams } from '../route.js';
import type { ViewHandle } from './view.js';

const STATES = ['firing', 'pending', 'resolved'] as const;
type State = (typeof STATES)[number];

export function alertsView(root: HTMLElement): ViewHandle {
  const route = parseRoute();
  let state: State = (STATES as readonly string[]).includes(route.params.get('state') ?? '') ? (route.params.get('state') as State) : 'firing';
  const device = route.params.get('device') ?? '';
  const abort = new AbortController();
  let items: Alert[] = [];
  let cursor: string | null = null;

  const tabs = h('div', { class: 'tabs', role: 'tablist', 'aria-label': 'Alert state' });
  const body = h('div', { class: 'alerts-body', id: 'alerts-body', role: 'tabpanel' });
  const message = h('p', { class: 'message', role: 'status', id: 'alerts-message' });
  const more = h('button', { type: 'button', id: 'alerts-more', hidden: true }, 'Load older');

  root.replaceChildren(
    h('section', { class: 'view alerts', 'aria-labelledby': 'alerts-title' }, h('div', { class: 'toolbar' }, h('h1', { id: 'alerts-title' }, 'Alerts'), tabs), message, body, more),
  );

  const renderTabs = () => {
    tabs.replaceChildren(
      ...STATES.map((s) => {
        const b = h('button', { type: 'button', role: 'tab', 'aria-selected': s === state, 'data-state': s, tabindex: s === state ? 0 : -1 }, s === 'resolved' ? 'resolved (history)' : s);
        b.addEventListener('click', () => {
          state = s;
          updateParams({ state });
          renderTabs();
          void load(true);
        });
        b.addEventListener('keydown', (e) => {
          const i = STATES.indexOf(s);
          const j = e.key === 'ArrowRight' ? (i + 1) % STATES.length : e.key === 'ArrowLeft' ? (i + STATES.length - 1) % STATES.length : -1;
          if (j >= 0) (tabs.children[j] as HTMLButtonElement).focus();
        });
        return b;
      }),
    );
  };

  const render = () => {
    if (items.length === 0) {
      body.replaceChildren(h('p', { class: 'empty' }, `No ${state} alerts.`));
      return;
    }
    const rows = items.map((a) => {
      const ack = h('button', { type: 'button', class: 'ack', 'data-alert': a.id, disabled: !!a.acked_by || a.state === 'resolved' }, a.acked_by ? `acked by ${a.acked_by}` : 'Ack');
      ack.addEventListener('click', () => void doAck(a, ack));
      return h(
        'tr',
        { 'data-alert': a.id, 'data-state': a.state, class: `sev-${a.severity}` },
        h('td', {}, h('span', { class: `badge ${a.severity === 'critical' ? 'crit' : a.severity === 'warning' ? 'warn' : ''}` }, a.severity)),
        h('td', {}, a.rule),
        h('td', {}, h('a', { href: `#/device/${encodeURIComponent(a.device)}${a.sensor ? `?sensor=${encodeURIComponent(a.sensor)}` : ''}` }, a.device)),
        h('td', {}, a.sensor ?? '—'),
        h('td', {}, value(a.value ?? null)),
        h('td', { title: a.since ?? '' }, a.since ? `${ago(a.since)} ago` : '—'),
        h('td', { title: a.event_time ?? '' }, a.event_time ? new Date(a.event_time).toLocaleString() : '—'),
        h('td', {}, a.message ?? '', a.late ? h('span', { class: 'badge warn', title: 'decided on a late reading' }, ' late') : ''),
        h('td', {}, ack),
      );
    });
    body.replaceChildren(
      h(
        'table',
        { class: 'alerts-table' },
        h('thead', {}, h('tr', {}, ...['severity', 'rule', 'device', 'sensor', 'value', 'since', 'event time', 'message', ''].map((c) => h('th', { scope: 'col' }, c)))),
        h('tbody', {}, ...rows),
      ),
    );
  };

  const doAck = async (a: Alert, btn: HTMLButtonElement) => {
    btn.disabled = true;
    try {
      await ackAlert(a.id);
      message.textContent = `Alert ${a.rule} on ${a.device} acknowledged.`;
      await load(true);
    } catch (err) {
      btn.disabled = false;
      message.textContent =
        err instanceof ApiError && err.status === 403 ? 'Your token may read but not operate: ack needs a token with the operate scope.' : `Ack failed: ${(err as Error).message}`;
    }
  };

  const load = async (fresh: boolean) => {
    const q: Record<string, string> = { state };
    if (device) q.device = device;
    if (!fresh && cursor) q.cursor = cursor;
    try {
      const r = await listAlerts(q, abort.signal);
      if (!r.available) {
        root.querySelector('.alerts')?.setAttribute('data-configured', 'false');
        message.textContent = 'Alerts not configured on this server (no alerts API).';
        body.replaceChildren();
        more.hidden = true;
        return false;
      }
      root.querySelector('.alerts')?.setAttribute('data-configured', 'true');
      items = fresh ? r.items : [...items, ...r.items];
      cursor = r.next_cursor;
      more.hidden = !cursor;
      render();
      root.querySelector('.alerts')?.setAttribute('data-ready', 'true');
      return true;
    } catch (err) {
      if (!abort.signal.aborted) message.textContent = `Cannot load alerts: ${(err as Error).message}`;
      return true;
    }
  };

  more.addEventListener('click', () => void load(false));
  renderTabs();
  let timer: ReturnType<typeof setInterval> | undefined;
  let stream: LiveStream | undefined;
  void load(true).then((available) => {
    if (!available || abort.signal.aborted) return;
    timer = setInterval(() => void load(true), 3000);
    // Alert transitions arrive on the stream too; a narrow filter keeps bucket traffic away.
    stream = new LiveStream({
      query: { resolution: '1d', sensor: 'zz-console-alerts-only' },
      onEvents(events) {
        if (events.some((e) => e.event === 'alert')) void load(true);
      },
    });
  });

  return {
    close() {
      abort.abort();
      clearInterval(timer);
      stream?.close();
    },
  };
}
