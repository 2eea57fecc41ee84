// Device: its state, its sensors (a sparkline each, from the last hour of the finest resolution), and the
// chosen sensor's chart at the chosen resolution and range, kept live from /api/v1/stream (one stream per
// device: bucket events for every sensor feed the sparklines and the chart; watermark events turn
// provisional buckets final). A `reset` from the stream re-reads the aggregates.
import { fetchBuckets, listDevices, listSensors, resolutions, type Bucket, type Device, type SensorInfo } from '../api.js';
import { ago, count, h, RANGES, RESOLUTION_MS, value } from '../format.js';
import { LiveStream } from '../live.js';
import { navigate, parseRoute, updateParams } from '../route.js';
import { BucketChart, drawSparkline } from './bucket-chart.js';
import { themeColors } from './theme.js';
import type { ViewHandle } from './view.js';

const SPARK_RANGE_MS = 3_600_000;

export function deviceView(root: HTMLElement, deviceId: string): ViewHandle {
  const route = parseRoute();
  const abort = new AbortController();
  let sensor = route.params.get('sensor') ?? '';
  let res = route.params.get('res') ?? '';
  let range = route.params.get('range') ?? '1h';
  if (!(range in RANGES)) range = '1h';
  let chart: BucketChart | undefined;
  let stream: LiveStream | undefined;
  let latenessMs = 5 * 60_000;
  let sparkRes = '1m';
  const sparks = new Map<string, { canvas: HTMLCanvasElement; latest: HTMLElement; buckets: Map<number, number> }>();
  let loadSeq = 0;

  const status = h('dl', { class: 'device-status', id: 'device-status' });
  const sensorsEl = h('ul', { class: 'sensor-list', id: 'sensor-list', 'aria-label': 'Sensors' });
  const resSel = h('select', { id: 'chart-resolution', 'aria-label': 'Resolution' });
  const rangeSel = h('select', { id: 'chart-range', 'aria-label': 'Range' });
  for (const r of Object.keys(RANGES)) rangeSel.append(h('option', { value: r, selected: r === range }, `last ${r}`));
  const liveBadge = h('span', { class: 'badge', id: 'live-state', 'aria-live': 'polite' }, 'connecting');
  const trackLink = h('a', { href: `#/track/${encodeURIComponent(deviceId)}`, id: 'track-link', hidden: true }, 'GPS track');
  const chartHost = h('div', { class: 'chart-host', id: 'chart-host' });
  const message = h('p', { class: 'message', role: 'status' });

  root.replaceChildren(
    h(
      'section',
      { class: 'view device', 'aria-labelledby': 'device-title', 'data-device': deviceId },
      h('nav', { class: 'crumbs', 'aria-label': 'Breadcrumb' }, h('a', { href: '#/fleet' }, 'Fleet'), ' / ', deviceId),
      h('div', { class: 'toolbar' }, h('h1', { id: 'device-title' }, deviceId), trackLink, liveBadge),
      status,
      message,
      h('div', { class: 'device-body' },
        h('div', { class: 'sensors-pane' }, h('h2', {}, 'Sensors'), sensorsEl),
        h('div', { class: 'chart-pane' }, h('div', { class: 'toolbar' }, h('label', {}, 'Resolution ', resSel), h('label', {}, 'Range ', rangeSel)), chartHost),
      ),
    ),
  );

  const renderStatus = (d: Device | undefined) => {
    if (!d) {
      status.replaceChildren(h('dt', {}, 'State'), h('dd', {}, 'not known to the collector'));
      return;
    }
    const backlogAge = d.oldest_buffered_time && (d.backlog_readings ?? 0) > 0 ? ago(d.oldest_buffered_time) : '—';
    const item = (k: string, v: Node | string) => [h('dt', {}, k), h('dd', {}, v)];
    status.replaceChildren(
      ...item('State', h('span', { class: `badge ${d.online ? 'ok' : 'off'}`, 'data-status': d.online ? 'online' : 'offline' }, d.online ? 'online' : 'offline')),
      ...item('Last seen', d.last_seen ? `${ago(d.last_seen)} ago` : 'never'),
      ...item('Backlog', `${count(d.backlog_readings)} readings${backlogAge !== '—' ? `, oldest ${backlogAge} old` : ''}`),
      ...item('Clock', d.clock_synced === null ? '—' : d.clock_synced ? 'synced' : 'NOT synced'),
      ...item('Agent', d.agent_version ?? '—'),
      ...item('Readings', count(d.readings)),
    );
  };

  const renderSensors = (list: SensorInfo[]) => {
    sparks.clear();
    const color = themeColors().line;
    sensorsEl.replaceChildren(
      ...list.map((s) => {
        const canvas = h('canvas', { class: 'sparkline', width: 120, height: 28, 'aria-hidden': 'true' });
        const latest = h('span', { class: 'latest' }, '');
        sparks.set(s.name, { canvas, latest, buckets: new Map() });
        const btn = h('button', { type: 'button', class: 'sensor', 'data-sensor': s.name, 'aria-pressed': s.name === sensor }, h('span', { class: 'name' }, s.name), canvas, latest);
        btn.addEventListener('click', () => selectSensor(s.name));
        return h('li', {}, btn);
      }),
    );
    void loadSparks(list, color);
  };

  const loadSparks = async (list: SensorInfo[], color: string) => {
    const now = Date.now();
    await Promise.all(
      list.map(async (s) => {
        const bs = await fetchBuckets({ device: deviceId, sensor: s.name, resolution: sparkRes, from: now - SPARK_RANGE_MS, to: now + 86_400_000 }, abort.signal).catch(() => []);
        const sp = sparks.get(s.name);
        if (!sp) return;
        for (const b of bs) sp.buckets.set(Date.parse(b.start), b.avg);
        paintSpark(s.name, color);
      }),
    );
  };

  const paintSpark = (name: string, color = themeColors().line) => {
    const sp = sparks.get(name);
    if (!sp) return;
    const entries = [...sp.buckets.entries()].sort((a, b) => a[0] - b[0]).slice(-60);
    drawSparkline(sp.canvas, entries.map((e) => e[1]), color);
    const last = entries.at(-1);
    sp.latest.textContent = last ? value(last[1]) : '—';
  };

  const selectSensor = (name: string) => {
    sensor = name;
    updateParams({ sensor });
    for (const b of sensorsEl.querySelectorAll<HTMLButtonElement>('button.sensor')) b.setAttribute('aria-pressed', String(b.dataset.sensor === name));
    void loadChart();
  };

  const loadChart = async () => {
    const seq = ++loadSeq;
    chart?.destroy();
    chart = undefined;
    if (!sensor) {
      chartHost.replaceChildren(h('p', {}, 'Choose a sensor.'));
      return;
    }
    const c = new BucketChart(`${deviceId} · ${sensor} · ${res} · last ${range}`, () => {
      const t = Date.now();
      const r = RESOLUTION_MS(res);
      return [Math.floor((t - RANGES[range]!) / r) * r, Math.floor(t / r) * r + r];
    });
    chartHost.replaceChildren(c.el);
    c.el.setAttribute('data-loading', 'true');
    const now = Date.now();
    const resMs = RESOLUTION_MS(res);
    const from = Math.floor((now - RANGES[range]!) / resMs) * resMs;
    try {
      const bs = await fetchBuckets({ device: deviceId, sensor, resolution: res, from, to: now + 2 * resMs + 86_400_000 }, abort.signal);
      if (seq !== loadSeq) return;
      chart = c;
      c.setBuckets(bs);
      c.el.setAttribute('data-sensor', sensor);
      c.el.setAttribute('data-resolution', res);
      c.el.removeAttribute('data-loading');
      message.textContent = '';
    } catch (err) {
      if (!abort.signal.aborted) message.textContent = `Cannot load buckets: ${(err as Error).message}`;
    }
  };

  const onBucket = (b: Bucket) => {
    if (b.resolution === sparkRes) {
      const sp = sparks.get(b.sensor);
      if (sp) {
        sp.buckets.set(Date.parse(b.start), b.avg);
        paintSpark(b.sensor);
      } else if (!sparks.has(b.sensor)) {
        // A sensor that appeared after the page loaded.
        void listSensors(deviceId, abort.signal).then(renderSensors).catch(() => undefined);
        sparks.set(b.sensor, { canvas: document.createElement('canvas'), latest: document.createElement('span'), buckets: new Map() });
      }
    }
    if (chart && b.sensor === sensor && b.resolution === res) {
      chart.upsert(b);
      chart.trimBefore(Date.now() - RANGES[range]! - RESOLUTION_MS(res));
    }
  };

  const startStream = () => {
    stream?.close();
    stream = new LiveStream({
      query: { device: deviceId },
      onEvents(events) {
        for (const e of events) {
          if (e.event === 'bucket') onBucket(JSON.parse(e.data) as Bucket);
          else if (e.event === 'watermark') {
            const w = JSON.parse(e.data) as { watermark: string; allowed_lateness_ms?: number };
            if (typeof w.allowed_lateness_ms === 'number') latenessMs = w.allowed_lateness_ms;
            chart?.applyWatermark(Date.parse(w.watermark), RESOLUTION_MS(res), latenessMs);
          }
        }
      },
      onReset() {
        void loadChart();
      },
      onState(s) {
        liveBadge.textContent = s === 'open' ? 'live' : s === 'unavailable' ? 'not live (stream unavailable)' : s;
        liveBadge.className = `badge ${s === 'open' ? 'ok' : 'off'}`;
        liveBadge.setAttribute('data-state', s);
      },
    });
  };

  resSel.addEventListener('change', () => {
    res = resSel.value;
    updateParams({ res });
    void loadChart();
  });
  rangeSel.addEventListener('change', () => {
    range = rangeSel.value;
    updateParams({ range });
    void loadChart();
  });

  let statusTimer: ReturnType<typeof setInterval> | undefined;
  const init = async () => {
    try {
      const [all, devices, list] = await Promise.all([resolutions(), listDevices(abort.signal), listSensors(deviceId, abort.signal)]);
      sparkRes = all[0] ?? '1m';
      if (!all.includes(res)) res = all[0] ?? '1m';
      resSel.replaceChildren(...all.map((r) => h('option', { value: r, selected: r === res }, r)));
      renderStatus(devices.find((d) => d.id === deviceId));
      const names = list.map((s) => s.name);
      trackLink.hidden = !(names.includes('lat') && names.includes('lon'));
      if (!sensor || !names.includes(sensor)) sensor = names[0] ?? '';
      if (sensor) updateParams({ sensor, res, range });
      renderSensors(list);
      startStream();
      await loadChart();
      root.querySelector('.device')?.setAttribute('data-ready', 'true');
    } catch (err) {
      if (!abort.signal.aborted) message.textContent = `Cannot load ${deviceId}: ${(err as Error).message}`;
    }
    statusTimer = setInterval(() => {
      void listDevices(abort.signal)
        .then((ds) => renderStatus(ds.find((d) => d.id === deviceId)))
        .catch(() => undefined);
    }, 2000);
  };
  void init();

  return {
    close() {
      abort.abort();
      clearInterval(statusTimer);
      stream?.close();
      chart?.destroy();
    },
  };
}

export const openDevice = (id: string) => navigate({ view: 'device', device: id, params: new URLSearchParams() });
