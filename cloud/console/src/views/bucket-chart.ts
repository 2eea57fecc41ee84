// One sensor's buckets drawn with uPlot: the avg line inside a min–max band. Final buckets are a solid
// line; provisional ones (the watermark has not yet passed start + resolution + allowed lateness) a dashed
// line with points; a bucket a late reading revised carries a ring, and one revised while on screen flashes.
// The chart owns its bucket list (sorted by start) so live events upsert in O(log n).
import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';
import type { Bucket } from '../api.js';
import { h, localTime, value } from '../format.js';
import { themeColors } from './theme.js';

// Bucket start in ms, parsed once per bucket object (a 10,000-bucket redraw would otherwise parse 10,000 dates).
const startCache = new WeakMap<Bucket, number>();
function startMs(b: Bucket): number {
  let t = startCache.get(b);
  if (t === undefined) {
    t = Date.parse(b.start);
    startCache.set(b, t);
  }
  return t;
}

export class BucketChart {
  readonly el: HTMLElement;
  private plot: uPlot | undefined;
  private buckets: Bucket[] = [];
  /** Starts (ms) of buckets whose revision went up while shown. */
  private revisedLive = new Set<number>();
  private frame = 0;
  private readonly plotHost: HTMLElement;
  private readonly caption: HTMLElement;
  private readonly table: HTMLTableSectionElement;
  private resizeObserver: ResizeObserver | undefined;
  lastDrawMs = 0;
  private drawStarted = 0;

  /** `window`: the time range (ms) the x axis shows, asked at every draw so a live chart slides. */
  constructor(
    private readonly title: string,
    private readonly window?: () => [number, number],
  ) {
    this.plotHost = h('div', { class: 'chart-plot' });
    this.caption = h('figcaption', { class: 'chart-caption', 'aria-live': 'polite' });
    this.table = h('tbody');
    const details = h(
      'details',
      { class: 'chart-table' },
      h('summary', {}, 'Latest buckets as a table'),
      h('table', {}, h('thead', {}, h('tr', {}, ...['start', 'count', 'avg', 'min', 'max', 'state', 'revision'].map((c) => h('th', { scope: 'col' }, c)))), this.table),
    );
    const legend = h(
      'ul',
      { class: 'chart-legend' },
      h('li', { class: 'lg-final' }, 'final (avg)'),
      h('li', { class: 'lg-prov' }, 'provisional (avg, may still change)'),
      h('li', { class: 'lg-band' }, 'min–max'),
      h('li', { class: 'lg-rev' }, 'revised by a late reading'),
    );
    this.el = h('figure', { class: 'chart', 'data-points': 0, 'aria-label': title }, this.plotHost, legend, this.caption, details);
  }

  /** Replaces every bucket (after a query). */
  setBuckets(buckets: Bucket[]): void {
    this.buckets = [...buckets].sort((a, b) => startMs(a) - startMs(b));
    this.revisedLive.clear();
    this.schedule();
  }

  /** A live bucket event: insert or replace by start. Returns true if it changed an existing bucket's revision. */
  upsert(b: Bucket): boolean {
    const t = startMs(b);
    let lo = 0;
    let hi = this.buckets.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (startMs(this.buckets[mid]!) < t) lo = mid + 1;
      else hi = mid;
    }
    const cur = this.buckets[lo];
    let revised = false;
    if (cur && startMs(cur) === t) {
      if (b.revision < cur.revision || (b.revision === cur.revision && b.count < cur.count)) return false; // older state
      if (b.revision > cur.revision) {
        revised = true;
        this.revisedLive.add(t);
      }
      this.buckets[lo] = b;
    } else {
      this.buckets.splice(lo, 0, b);
    }
    this.schedule();
    return revised;
  }

  /** The device's watermark moved: buckets it passed are final now. */
  applyWatermark(watermarkMs: number, resolutionMs: number, latenessMs: number): void {
    let changed = false;
    for (let i = 0; i < this.buckets.length; i++) {
      const b = this.buckets[i]!;
      if (!b.final && watermarkMs >= startMs(b) + resolutionMs + latenessMs) {
        this.buckets[i] = { ...b, final: true };
        changed = true;
      }
    }
    if (changed) this.schedule();
  }

  /** Drops buckets that slid out of the range. */
  trimBefore(ms: number): void {
    const i = this.buckets.findIndex((b) => startMs(b) >= ms);
    if (i > 0) {
      this.buckets.splice(0, i);
      this.schedule();
    }
  }

  get size(): number {
    return this.buckets.length;
  }

  private schedule(): void {
    if (this.frame) return;
    this.frame = requestAnimationFrame(() => {
      this.frame = 0;
      this.draw();
    });
  }

  /** Draws now (the benchmark calls it directly to time one full draw). */
  draw(): void {
    const t0 = performance.now();
    this.drawStarted = t0;
    const n = this.buckets.length;
    const xs = new Float64Array(n);
    const min = new Float64Array(n);
    const max = new Float64Array(n);
    const fin: (number | null)[] = new Array(n);
    const prov: (number | null)[] = new Array(n);
    const rev: (number | null)[] = new Array(n);
    let provisional = 0;
    let revised = 0;
    let total = 0;
    for (let i = 0; i < n; i++) {
      const b = this.buckets[i]!;
      const t = startMs(b);
      xs[i] = t / 1000;
      min[i] = b.min;
      max[i] = b.max;
      fin[i] = b.final ? b.avg : null;
      // The dashed line starts at the last final point so the two read as one line.
      const next = this.buckets[i + 1];
      prov[i] = !b.final || (next !== undefined && !next.final) ? b.avg : null;
      if (!b.final) provisional++;
      total += b.count;
      const isRev = b.revision > 0 || this.revisedLive.has(t);
      rev[i] = isRev ? b.avg : null;
      if (isRev) revised++;
    }
    const data = [xs, min, max, fin, prov, rev] as uPlot.AlignedData;
    const tArrays = performance.now();
    if (!this.plot) this.create(data);
    else this.plot.setData(data);
    this.el.setAttribute('data-arrays-ms', (tArrays - t0).toFixed(1));
    this.el.setAttribute('data-plot-ms', (performance.now() - tArrays).toFixed(1));
    this.el.setAttribute('data-points', String(n));
    this.el.setAttribute('data-provisional', String(provisional));
    this.el.setAttribute('data-readings', String(total));
    this.el.setAttribute('data-revised', String(revised));
    this.el.setAttribute('data-revised-starts', this.buckets.filter((b) => b.revision > 0).map((b) => `${b.start}@${b.revision}`).join(' '));
    this.caption.textContent =
      n === 0
        ? 'No buckets in this range yet.'
        : `${n} buckets · ${n - provisional} final · ${provisional} provisional · ${revised} revised by late readings` +
          (this.revisedLive.size ? ` · ${this.revisedLive.size} revised while you watched` : '');
    this.renderTable();
  }

  /**
   * uPlot's draw hook: the series are on the canvas. Records how long the draw took from the data change
   * and tells listeners (the benchmark) what is on screen now.
   */
  private drawn(): void {
    this.lastDrawMs = performance.now() - this.drawStarted;
    this.el.setAttribute('data-draw-ms', this.lastDrawMs.toFixed(1));
    const last = this.buckets[this.buckets.length - 1];
    this.el.dispatchEvent(new CustomEvent('chart-drawn', { bubbles: true, detail: { at: Date.now(), drawMs: this.lastDrawMs, points: this.buckets.length, last } }));
  }

  private renderTable(): void {
    const rows = this.buckets.slice(-20).reverse();
    this.table.replaceChildren(
      ...rows.map((b) =>
        h(
          'tr',
          { 'data-start': b.start, 'data-revision': b.revision, class: this.revisedLive.has(startMs(b)) ? 'flash' : '' },
          h('td', { title: b.start }, localTime(startMs(b))),
          h('td', {}, String(b.count)),
          h('td', {}, value(b.avg)),
          h('td', {}, value(b.min)),
          h('td', {}, value(b.max)),
          h('td', {}, b.final ? 'final' : 'provisional'),
          h('td', {}, String(b.revision)),
        ),
      ),
    );
  }

  private create(data: uPlot.AlignedData): void {
    const c = themeColors();
    const width = Math.max(300, this.plotHost.clientWidth || 800);
    const opts: uPlot.Options = {
      title: this.title,
      width,
      height: 320,
      scales: {
        x: {
          time: true,
          ...(this.window ? { range: (): uPlot.Range.MinMax => { const [a, b] = this.window!(); return [a / 1000, b / 1000]; } } : {}),
        },
      },
      series: [
        { label: 'time' },
        { label: 'min', stroke: 'transparent', points: { show: false }, value: (_u, v) => value(v) },
        { label: 'max', stroke: 'transparent', points: { show: false }, value: (_u, v) => value(v) },
        { label: 'avg (final)', stroke: c.line, width: 2, points: { show: false }, value: (_u, v) => value(v) },
        { label: 'avg (provisional)', stroke: c.provisional, width: 2, dash: [6, 4], points: { show: true, size: 5, stroke: c.provisional, fill: c.provisional }, value: (_u, v) => value(v) },
        { label: 'revised', stroke: c.revised, width: 0, paths: () => null, points: { show: true, size: 11, width: 2, stroke: c.revised, fill: 'transparent' }, value: (_u, v) => value(v) },
      ],
      bands: [{ series: [2, 1], fill: c.band }],
      axes: [
        { stroke: c.axis, grid: { stroke: c.grid }, ticks: { stroke: c.grid } },
        { stroke: c.axis, grid: { stroke: c.grid }, ticks: { stroke: c.grid } },
      ],
      legend: { show: true, live: true },
      hooks: { draw: [() => this.drawn()] },
      cursor: { drag: { x: true, y: false } },
    };
    this.plot = new uPlot(opts, data, this.plotHost);
    this.resizeObserver = new ResizeObserver(() => {
      const w = this.plotHost.clientWidth;
      if (this.plot && w > 0 && Math.abs(w - this.plot.width) > 4) this.plot.setSize({ width: w, height: 320 });
    });
    this.resizeObserver.observe(this.plotHost);
  }

  destroy(): void {
    cancelAnimationFrame(this.frame);
    this.resizeObserver?.disconnect();
    this.plot?.destroy();
    this.plot = undefined;
  }
}

/** A tiny line of the last buckets' averages on a canvas (no axes): one per sensor in the device view. */
export function drawSparkline(canvas: HTMLCanvasElement, values: number[], color: string): void {
  const ctx = canvas.getContext('2d');
  if (!ctx) return;
  const dpr = window.devicePixelRatio || 1;
  const w = canvas.clientWidth || 120;
  const hgt = canvas.clientHeight || 28;
  canvas.width = Math.round(w * dpr);
  canvas.height = Math.round(hgt * dpr);
  ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
  ctx.clearRect(0, 0, w, hgt);
  canvas.setAttribute('data-points', String(values.length));
  if (values.length === 0) return;
  if (values.length === 1) {
    ctx.fillStyle = color;
    ctx.beginPath();
    ctx.arc(w / 2, hgt / 2, 2.5, 0, Math.PI * 2);
    ctx.fill();
    return;
  }
  let lo = Infinity;
  let hi = -Infinity;
  for (const v of values) {
    lo = Math.min(lo, v);
    hi = Math.max(hi, v);
  }
  const span = hi - lo || 1;
  ctx.strokeStyle = color;
  ctx.lineWidth = 1.5;
  ctx.beginPath();
  values.forEach((v, i) => {
    const x = values.length === 1 ? w / 2 : (i / (values.length - 1)) * (w - 2) + 1;
    const y = hgt - 2 - ((v - lo) / span) * (hgt - 4);
    if (i === 0) ctx.moveTo(x, y);
    else ctx.lineTo(x, y);
  });
  ctx.stroke();
}
