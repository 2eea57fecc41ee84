// Track: a GPS-equipped gateway's path drawn on a canvas from its `lat` and `lon` sensors (the bucket
// averages at the finest resolution the server keeps), with the last position, a time slider, a scale bar
// and coordinates. No map tiles: the console must work with no network beyond the collector.
// Projection: local equirectangular around the track's centre (x scaled by cos(latitude)), good for the
// tens of kilometres a vehicle covers; the scale bar is computed from the same projection.
import { fetchBuckets, resolutions, type Bucket } from '../api.js';
import { h, localTime, RANGES, RESOLUTION_MS } from '../format.js';
import { LiveStream } from '../live.js';
import { parseRoute, updateParams } from '../route.js';
import { themeColors } from './theme.js';
import type { ViewHandle } from './view.js';

export interface TrackPoint {
  t: number;
  lat: number;
  lon: number;
}

const EARTH_M = 6_371_008.8;

/** Pairs lat and lon buckets that share a start. */
export function joinTrack(lat: Bucket[], lon: Bucket[]): TrackPoint[] {
  const lons = new Map(lon.map((b) => [b.start, b.avg]));
  const out: TrackPoint[] = [];
  for (const b of lat) {
    const lo = lons.get(b.start);
    if (lo !== undefined && Number.isFinite(lo) && Number.isFinite(b.avg)) out.push({ t: Date.parse(b.start), lat: b.avg, lon: lo });
  }
  return out.sort((a, b) => a.t - b.t);
}

function niceDistance(m: number): number {
  const p = 10 ** Math.floor(Math.log10(m));
  for (const k of [5, 2, 1]) if (k * p <= m) return k * p;
  return p;
}

export function formatCoord(lat: number, lon: number): string {
  return `${Math.abs(lat).toFixed(5)}° ${lat >= 0 ? 'N' : 'S'}, ${Math.abs(lon).toFixed(5)}° ${lon >= 0 ? 'E' : 'W'}`;
}

export function drawTrack(canvas: HTMLCanvasElement, pts: TrackPoint[], upto: number): void {
  const ctx = canvas.getContext('2d');
  if (!ctx) return;
  const c = themeColors();
  const dpr = window.devicePixelRatio || 1;
  const w = canvas.clientWidth || 640;
  const hgt = canvas.clientHeight || 420;
  canvas.width = Math.round(w * dpr);
  canvas.height = Math.round(hgt * dpr);
  ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
  ctx.clearRect(0, 0, w, hgt);
  canvas.setAttribute('data-points', String(pts.length));
  if (pts.length === 0) return;
  let minLat = Infinity, maxLat = -Infinity, minLon = Infinity, maxLon = -Infinity;
  for (const p of pts) {
    minLat = Math.min(minLat, p.lat);
    maxLat = Math.max(maxLat, p.lat);
    minLon = Math.min(minLon, p.lon);
    maxLon = Math.max(maxLon, p.lon);
  }
  const lat0 = (minLat + maxLat) / 2;
  const lon0 = (minLon + maxLon) / 2;
  const kx = Math.cos((lat0 * Math.PI) / 180);
  // metres from the centre
  const mx = (p: TrackPoint) => ((p.lon - lon0) * Math.PI / 180) * EARTH_M * kx;
  const my = (p: TrackPoint) => ((p.lat - lat0) * Math.PI / 180) * EARTH_M;
  const spanX = Math.max(((maxLon - minLon) * Math.PI / 180) * EARTH_M * kx, 1);
  const spanY = Math.max(((maxLat - minLat) * Math.PI / 180) * EARTH_M, 1);
  const pad = 40;
  const scale = Math.min((w - 2 * pad) / spanX, (hgt - 2 * pad) / spanY); // px per metre
  const px = (p: TrackPoint) => w / 2 + mx(p) * scale;
  const py = (p: TrackPoint) => hgt / 2 - my(p) * scale;

  // grid
  ctx.strokeStyle = c.grid;
  ctx.lineWidth = 1;
  for (let x = pad; x <= w - pad; x += (w - 2 * pad) / 4) {
    ctx.beginPath(); ctx.moveTo(x, pad / 2); ctx.lineTo(x, hgt - pad / 2); ctx.stroke();
  }
  for (let y = pad; y <= hgt - pad; y += (hgt - 2 * pad) / 4) {
    ctx.beginPath(); ctx.moveTo(pad / 2, y); ctx.lineTo(w - pad / 2, y); ctx.stroke();
  }
  // the whole track faint, the part up to the slider strong
  ctx.lineJoin = 'round';
  ctx.strokeStyle = c.band;
  ctx.lineWidth = 3;
  ctx.beginPath();
  pts.forEach((p, i) => (i === 0 ? ctx.moveTo(px(p), py(p)) : ctx.lineTo(px(p), py(p))));
  ctx.stroke();
  ctx.strokeStyle = c.line;
  ctx.lineWidth = 2.5;
  ctx.beginPath();
  pts.slice(0, upto + 1).forEach((p, i) => (i === 0 ? ctx.moveTo(px(p), py(p)) : ctx.lineTo(px(p), py(p))));
  ctx.stroke();
  // start, and the position at the slider
  const start = pts[0]!;
  ctx.fillStyle = c.axis;
  ctx.beginPath(); ctx.arc(px(start), py(start), 4, 0, Math.PI * 2); ctx.fill();
  const cur = pts[Math.min(upto, pts.length - 1)]!;
  ctx.fillStyle = c.revised;
  ctx.beginPath(); ctx.arc(px(cur), py(cur), 7, 0, Math.PI * 2); ctx.fill();
  ctx.strokeStyle = '#fff';
  ctx.lineWidth = 2;
  ctx.stroke();

  // scale bar: a round distance about a quarter of the width
  const metres = niceDistance((w / 4) / scale);
  const barPx = metres * scale;
  ctx.strokeStyle = c.axis;
  ctx.fillStyle = c.axis;
  ctx.lineWidth = 2;
  const bx = 16, by = hgt - 16;
  ctx.beginPath(); ctx.moveTo(bx, by - 6); ctx.lineTo(bx, by); ctx.lineTo(bx + barPx, by); ctx.lineTo(bx + barPx, by - 6); ctx.stroke();
  ctx.font = '12px system-ui, sans-serif';
  ctx.fillText(metres >= 1000 ? `${metres / 1000} km` : `${metres} m`, bx + 4, by - 8);
  canvas.setAttribute('data-scale-m', String(metres));
  // north arrow
  ctx.fillText('N ↑', w - 36, 20);
}

export function trackView(root: HTMLElement, deviceId: string): ViewHandle {
  const route = parseRoute();
  let range = route.params.get('range') ?? '1h';
  if (!(range in RANGES)) range = '1h';
  const abort = new AbortController();
  let pts: TrackPoint[] = [];
  let follow = true;
  let res = '1m';
  let stream: LiveStream | undefined;
  const live = { lat: new Map<string, Bucket>(), lon: new Map<string, Bucket>() };

  const canvas = h('canvas', { class: 'track-canvas', id: 'track-canvas', role: 'img', 'aria-label': `GPS track of ${deviceId}` });
  const slider = h('input', { type: 'range', id: 'track-slider', min: 0, max: 0, value: 0, 'aria-label': 'Time along the track' });
  const readout = h('p', { class: 'track-readout', id: 'track-readout', 'aria-live': 'polite' }, 'Loading track…');
  const rangeSel = h('select', { id: 'track-range', 'aria-label': 'Range' });
  for (const r of Object.keys(RANGES)) rangeSel.append(h('option', { value: r, selected: r === range }, `last ${r}`));

  root.replaceChildren(
    h(
      'section',
      { class: 'view track', 'aria-labelledby': 'track-title', 'data-device': deviceId },
      h('nav', { class: 'crumbs', 'aria-label': 'Breadcrumb' }, h('a', { href: '#/fleet' }, 'Fleet'), ' / ', h('a', { href: `#/device/${encodeURIComponent(deviceId)}` }, deviceId), ' / track'),
      h('div', { class: 'toolbar' }, h('h1', { id: 'track-title' }, `${deviceId} · GPS track`), h('label', {}, 'Range ', rangeSel)),
      h('div', { class: 'track-frame' }, canvas),
      h('label', { class: 'track-slider' }, 'Time ', slider),
      readout,
    ),
  );

  const paint = () => {
    const i = Number(slider.value);
    drawTrack(canvas, pts, i);
    const p = pts[i];
    readout.textContent = p
      ? `${formatCoord(p.lat, p.lon)} at ${localTime(p.t)} (${i + 1} of ${pts.length} positions, ${res} averages)${i === pts.length - 1 ? ' · last position' : ''}`
      : 'No positions in this range: this device has no lat/lon buckets yet.';
    readout.setAttribute('data-lat', p ? String(p.lat) : '');
    readout.setAttribute('data-lon', p ? String(p.lon) : '');
  };

  const setPoints = (next: TrackPoint[]) => {
    pts = next;
    slider.max = String(Math.max(0, pts.length - 1));
    if (follow) slider.value = slider.max;
    paint();
  };

  const load = async () => {
    const all = await resolutions();
    res = all[0] ?? '1m';
    const now = Date.now();
    const resMs = RESOLUTION_MS(res);
    const from = Math.floor((now - RANGES[range]!) / resMs) * resMs;
    const q = { device: deviceId, resolution: res, from, to: now + 86_400_000 };
    const [lat, lon] = await Promise.all([fetchBuckets({ ...q, sensor: 'lat' }, abort.signal), fetchBuckets({ ...q, sensor: 'lon' }, abort.signal)]);
    live.lat = new Map(lat.map((b) => [b.start, b]));
    live.lon = new Map(lon.map((b) => [b.start, b]));
    setPoints(joinTrack(lat, lon));
    root.querySelector('.track')?.setAttribute('data-ready', 'true');
  };

  slider.addEventListener('input', () => {
    follow = slider.value === slider.max;
    paint();
  });
  rangeSel.addEventListener('change', () => {
    range = rangeSel.value;
    updateParams({ range });
    void load();
  });
  const resize = new ResizeObserver(() => paint());
  resize.observe(canvas);

  void load()
    .then(() => {
      stream = new LiveStream({
        query: { device: deviceId, resolution: res },
        onEvents(events) {
          let changed = false;
          for (const e of events) {
            if (e.event !== 'bucket') continue;
            const b = JSON.parse(e.data) as Bucket;
            if (b.sensor !== 'lat' && b.sensor !== 'lon') continue;
            live[b.sensor].set(b.start, b);
            changed = true;
          }
          if (changed) setPoints(joinTrack([...live.lat.values()], [...live.lon.values()]));
        },
        onReset: () => void load(),
      });
    })
    .catch((err: Error) => {
      if (!abort.signal.aborted) readout.textContent = `Cannot load the track: ${err.message}`;
    });

  return {
    close() {
      abort.abort();
      stream?.close();
      resize.disconnect();
    },
  };
}
