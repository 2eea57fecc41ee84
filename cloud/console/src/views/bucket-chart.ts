// One sensor's buckets drawn with uPlot: the avg line inside a min–max band. Final buckets are a solid
// line; provisional ones (the watermark has not yet passed start + resolution + allowed lateness) a dashed
// line with points; a bucket a late reading revised carries a ring, and one revised while on screen flashes.
// The chart owns its bucket list (sorted by start, with each start parsed once beside it) so live events
// upsert in O(log n). The first bucket list is drawn at once; later changes coalesce into one draw per frame.
// `data-draw-ms` is the time from the data reaching the chart (setBuckets, upsert …) to uPlot's draw hook.
import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';
import type { Bucket } from '../api.js';
import { h, localTime, value } from '../format.js';
import { bandPath, runsPath, toColumns, type BucketColumns } from './bucket-series.js';
import { themeColors, type ChartTheme } from './theme.js';

// Series indices in the uPlot data.
const MIN = 1;
const AVG_FINAL = 3;
const AVG_PROVISIONAL = 4;
const REVISED = 5;
const HEIGHT = 320;

export class BucketChart {
  readonly el: HTMLElement;
  private plot: uPlot | undefined;
  private buckets: Bucket[] = [];
  /** `starts[i]` = Date.parse(buckets[i].start). */
  private starts: number[] = [];
  private cols: BucketColumns = toColumns([], [], new Set());
  /** Starts (ms) of buckets whose revision went up while shown. */
  private revisedLive = new Set<number>();
  private frame = 0;
  private readonly plotHost: HTMLElement;
  private readonly caption: HTMLElement;
  private readonly table: HTMLTableSectionElement;
  private readonly colors: ChartTheme;
  private readonly resizeObserver: ResizeObserver;
  /** The plot area's width as last laid out (0 = not yet): read from the observer, never forced. */
  private hostWidth = 0;
  lastDrawMs = 0;
  /** When the oldest change not yet on screen reached the chart (0 = none pending). */
  private changedAt = 0;
  /** A draw whose counts, caption and table are not yet published. */
  private unpublished = false;

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
    // Colours and size are known before the data arrives, so the first draw reads no style or layout.
    this.colors = themeColors();
    this.resizeObserver = new ResizeObserver((entries) => {
      const w = Math.round(entries[entries.length - 1]!.contentRect.width);
      if (w <= 0) return;
      this.hostWidth = w;
      if (this.plot && Math.abs(w - this.plot.width) > 4) this.plot.setSize({ width: w, height: HEIGHT });
    });
    this.resizeObserver.observe(this.plotHost);
  }

  /** Replaces every bucket (after a query). The first list is drawn now, not at the next frame. */
  setBuckets(buckets: Bucket[]): void {
    this.changed();
    // One pass: parse each start once, and see whether the list came sorted (the API sends it oldest first).
    const starts = new Array<number>(buckets.length);
    let sorted = true;
    for (let i = 0; i < buckets.length; i++) {
      const t = Date.parse(buckets[i]!.start);
      starts[i] = t;
      if (i > 0 && t < starts[i - 1]!) sorted = false;
    }
    if (sorted) {
      this.buckets = buckets.slice();
      this.starts = starts;
    } else {
      const order = starts.map((_, i) => i).sort((a, b) => starts[a]! - starts[b]!);
      this.buckets = order.map((i) => buckets[i]!);
      this.starts = order.map((i) => starts[i]!);
    }
    this.revisedLive.clear();
    if (this.plot) this.schedule();
    else this.draw();
  }

  /** A live bucket event: insert or replace by start. Returns true if it changed an existing bucket's revision. */
  upsert(b: Bucket): boolean {
    const t = Date.parse(b.start);
    let lo = 0;
    let hi = this.starts.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (this.starts[mid]! < t) lo = mid + 1;
      else hi = mid;
    }
    const cur = this.buckets[lo];
    let revised = false;
    if (cur && this.starts[lo] === t) {
      if (b.revision < cur.revision || (b.revision === cur.revision && b.count < cur.count)) return false; // older state
      if (b.revision > cur.revision) {
        revised = true;
        this.revisedLive.add(t);
      }
      this.buckets[lo] = b;
    } else {
      this.buckets.splice(lo, 0, b);
      this.starts.splice(lo, 0, t);
    }
    this.changed();
    this.schedule();
    return revised;
  }

  /** The device's watermark moved: buckets it passed are final now. */
  applyWatermark(watermarkMs: number, resolutionMs: number, latenessMs: number): void {
    let changed = false;
    for (let i = 0; i < this.buckets.length; i++) {
      const b = this.buckets[i]!;
      if (!b.final && watermarkMs >= this.starts[i]! + resolutionMs + latenessMs) {
        this.buckets[i] = { ...b, final: true };
        changed = true;
      }
    }
    if (changed) {
      this.changed();
      this.schedule();
    }
  }

  /** Drops buckets that slid out of the range. */
  trimBefore(ms: number): void {
    let i = 0;
    while (i < this.starts.length && this.starts[i]! < ms) i++;
    if (i > 0) {
      this.buckets.splice(0, i);
      this.starts.splice(0, i);
      this.changed();
      this.schedule();
    }
  }

  get size(): number {
    return this.buckets.length;
  }

  private changed(): void {
    if (!this.changedAt) this.changedAt = performance.now();
  }

  private schedule(): void {
    if (this.frame) return;
    this.frame = requestAnimationFrame(() => {
      this.frame = 0;
      this.draw();
    });
  }

  /** Hands the current buckets to uPlot; its draw hook (drawn) follows in a microtask. */
  draw(): void {
    cancelAnimationFrame(this.frame);
    this.frame = 0;
    const t0 = performance.now();
    this.changed();
    this.cols = toColumns(this.buckets, this.starts, this.revisedLive);
    const c = this.cols;
    const data: uPlot.AlignedData = [c.xs, c.min, c.max, c.avg, c.avg, c.avg];
    const tArrays = performance.now();
    this.unpublished = true;
    if (!this.plot) this.create(data);
    else this.plot.setData(data);
    this.el.setAttribute('data-arrays-ms', (tArrays - t0).toFixed(1));
    this.el.setAttribute('data-plot-ms', (performance.now() - tArrays).toFixed(1));
  }

  /**
   * uPlot's draw hook: the series are on the canvas. Records how long it took from the data change, then
   * publishes what is on screen (counts, caption, the table) and tells listeners (the benchmark).
   */
  private drawn(): void {
    if (!this.unpublished) return; // a redraw without new data (resize, zoom)
    this.unpublished = false;
    this.lastDrawMs = performance.now() - this.changedAt;
    this.changedAt = 0;
    const c = this.cols;
    const revised = c.revisedIdx.length;
    this.el.setAttribute('data-draw-ms', this.lastDrawMs.toFixed(1));
    this.el.setAttribute('data-points', String(c.n));
    this.el.setAttribute('data-provisional', String(c.provisionalCount));
    this.el.setAttribute('data-readings', String(c.readings));
    this.el.setAttribute('data-revised', String(revised));
    this.el.setAttribute('data-revised-starts', this.buckets.filter((b) => b.revision > 0).map((b) => `${b.start}@${b.revision}`).join(' '));
    this.caption.textContent =
      c.n === 0
        ? 'No buckets in this range yet.'
        : `${c.n} buckets · ${c.n - c.provisionalCount} final · ${c.provisionalCount} provisional · ${revised} revised by late readings` +
          (this.revisedLive.size ? ` · ${this.revisedLive.size} revised while you watched` : '');
    this.renderTable();
    const last = this.buckets[this.buckets.length - 1];
    this.el.dispatchEvent(new CustomEvent('chart-drawn', { bubbles: true, detail: { at: Date.now(), drawMs: this.lastDrawMs, points: c.n, last } }));
  }

  private renderTable(): void {
    const from = Math.max(0, this.buckets.length - 20);
    const rows: HTMLElement[] = [];
    for (let i = this.buckets.length - 1; i >= from; i--) {
      const b = this.buckets[i]!;
      rows.push(
        h(
          'tr',
          { 'data-start': b.start, 'data-revision': b.revision, class: this.revisedLive.has(this.starts[i]!) ? 'flash' : '' },
          h('td', { title: b.start }, localTime(this.starts[i]!)),
          h('td', {}, String(b.count)),
          h('td', {}, value(b.avg)),
          h('td', {}, value(b.min)),
          h('td', {}, value(b.max)),
          h('td', {}, b.final ? 'final' : 'provisional'),
          h('td', {}, String(b.revision)),
        ),
      );
    }
    this.table.replaceChildren(...rows);
  }

  private create(data: uPlot.AlignedData): void {
    const c = this.colors;
    // Only a chart created before its host was ever laid out reads the width (a forced layout).
    const width = Math.max(300, this.hostWidth || this.plotHost.clientWidth || 800);
    const cols = () => this.cols;
    // The avg line is one column drawn by three series; each shows a value (legend, cursor) only where it applies.
    const flagged = (flags: () => Uint8Array) => (_u: uPlot, v: number, _si: number, idx: number | null) =>
      idx === null ? '—' : flags()[idx] ? value(v) : '—';
    const opts: uPlot.Options = {
      title: this.title,
      width,
      height: HEIGHT,
      ms: 1,
      scales: {
        x: {
          time: true,
          ...(this.window ? { range: (): uPlot.Range.MinMax => this.window!() } : {}),
        },
      },
      series: [
        { label: 'time' },
        { label: 'min', stroke: 'transparent', width: 0, paths: () => null, points: { show: false }, value: (_u, v) => value(v) },
        { label: 'max', stroke: 'transparent', width: 0, fill: c.band, paths: bandPath(MIN), points: { show: false }, value: (_u, v) => value(v) },
        { label: 'avg (final)', stroke: c.line, width: 2, auto: false, paths: runsPath(() => cols().finalRuns), points: { show: false }, value: flagged(() => cols().final) },
        {
          label: 'avg (provisional)',
          stroke: c.provisional,
          width: 2,
          dash: [6, 4],
          auto: false,
          paths: runsPath(() => cols().provisionalRuns),
          points: { show: true, size: 5, stroke: c.provisional, fill: c.provisional, filter: () => cols().provisionalIdx },
          value: flagged(() => cols().provisional),
        },
        {
          label: 'revised',
          stroke: c.revised,
          width: 0,
          auto: false,
          paths: () => null,
          points: { show: true, size: 11, width: 2, stroke: c.revised, fill: 'transparent', filter: () => cols().revisedIdx },
          value: flagged(() => cols().revised),
        },
      ],
      axes: [
        { stroke: c.axis, grid: { stroke: c.grid }, ticks: { stroke: c.grid } },
        { stroke: c.axis, grid: { stroke: c.grid }, ticks: { stroke: c.grid } },
      ],
      legend: { show: true, live: true },
      hooks: { draw: [() => this.drawn()] },
      cursor: {
        drag: { x: true, y: false },
        // No hover dot for a series at a bucket it does not draw (e.g. the provisional line over final buckets).
        dataIdx: (_u, si, idx) => {
          const k = this.cols;
          if (si === AVG_FINAL) return k.final[idx] ? idx : null;
          if (si === AVG_PROVISIONAL) return k.provisional[idx] ? idx : null;
          if (si === REVISED) return k.revised[idx] ? idx : null;
          return idx;
        },
      },
    };
    this.plot = new uPlot(opts, data, this.plotHost);
  }

  destroy(): void {
    cancelAnimationFrame(this.frame);
    this.resizeObserver.disconnect();
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
