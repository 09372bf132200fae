// The paper's figure, live: one dot per trained individual (x: wall-clock time or individuals
// trained; y: validation accuracy), alive and dead in two colours, and the best-so-far line.
// uPlot draws 50,000 points on a canvas; hover and click use our own nearest-dot search.
import uPlot from "../vendor/uplot-1.6.32/uPlot.esm.js";

export const COLOURS = { alive: "#1f5fbf", dead: "#9aa3b2", best: "#c2410c", selected: "#111827" };
const HIT_PX = 12;
// Ticks at whole numbers only, for axes that count things (uPlot's own steps include 0.5 and
// 2.5: "individuals trained 2.5" is no tick anyone wants).
export const WHOLE_INCRS = Array.from({ length: 13 }, (_, e) => [1, 2, 5].map((m) => m * 10 ** e)).flat();

function fmtTime(s, step = 1) {
  if (s < 120) return `${s.toFixed(step < 1 ? Math.min(2, Math.ceil(-Math.log10(step))) : 0)} s`;
  if (s < 7200) return `${(s / 60).toFixed(s < 600 ? 1 : 0)} min`;
  return `${(s / 3600).toFixed(1)} h`;
}

export class FitnessChart {
  constructor(container, { onSelect, tooltip }) {
    this.container = container;
    this.onSelect = onSelect;
    this.tooltip = tooltip;
    this.xMode = "time"; // or "count"
    this.height = 340;
    this.source = []; // the rows as given; `rows` is them as drawn (arrange)
    this.rows = [];
    this.selectedId = null;
    this.plot = null;
  }

  data() {
    const n = this.rows.length;
    const xs = new Float64Array(n), alive = new Array(n), dead = new Array(n), best = new Array(n);
    let top = null;
    this.rows.forEach((r, i) => {
      xs[i] = this.xOf(r, i);
      const live = r.state === "alive";
      alive[i] = live ? r.acc : null;
      dead[i] = live ? null : r.acc;
      if (r.acc !== null && (top === null || r.acc > top)) top = r.acc;
      best[i] = top;
    });
    return [xs, alive, dead, best];
  }

  xOf(r, i) { return this.xMode === "time" ? r.t : i + 1; }

  xLabel() { return this.xMode === "time" ? "wall-clock time since start" : "individuals trained"; }

  xScale() { return { time: false }; }

  xAxis(label) {
    const values = (u, vals, ax, space, incr) => vals.map((v) => (this.xMode === "time" ? fmtTime(v, incr) : v.toLocaleString()));
    return { label, values, ...(this.xMode === "count" ? { incrs: WHOLE_INCRS } : {}) };
  }

  /** The rows in the order they are drawn (x ascending): here, as given. */
  arrange(rows) { return rows; }

  options() {
    const dots = (label, colour, size) => ({ label, stroke: colour, fill: colour, paths: () => null,
      points: { show: true, size, width: 0, stroke: colour, fill: colour } });
    const xLabel = this.xLabel();
    return {
      width: this.container.clientWidth || 720,
      height: this.height,
      scales: { x: this.xScale(), y: { range: (u, lo, hi) => [Math.max(0, Math.floor((lo ?? 0) * 10) / 10), Math.min(1, Math.ceil((hi ?? 1) * 10) / 10 || 1)] } },
      axes: [
        this.xAxis(xLabel),
        { label: "validation accuracy (%)", values: (u, vals) => vals.map((v) => `${Math.round(v * 100)}%`), size: 56 },
      ],
      series: [{ label: xLabel }, dots("dead", COLOURS.dead, 5), dots("alive", COLOURS.alive, 6),
        { label: "best so far", stroke: COLOURS.best, width: 2, points: { show: false }, paths: uPlot.paths.stepped({ align: 1 }) }],
      legend: { show: false },
      cursor: { points: { show: false }, drag: { x: true, y: false } },
      hooks: { draw: [(u) => this.drawSelection(u)] },
    };
  }

  // Dead before alive in the series order, so the living are drawn on top.
  reorder([xs, alive, dead, best]) { return [xs, dead, alive, best]; }

  setRows(rows) {
    this.source = rows;
    this.rows = this.arrange(rows);
    const data = this.reorder(this.data());
    if (!this.plot) {
      this.plot = new uPlot(this.options(), data, this.container);
      this.bindPointer();
      new ResizeObserver(() => this.plot.setSize({ width: this.container.clientWidth, height: this.height })).observe(this.container);
    } else {
      this.plot.setData(data, this.plot.scales.x.min === null || !this.zoomed);
    }
    this.container.dataset.points = String(this.rows.length);
  }

  setXMode(mode) {
    this.xMode = mode;
    this.plot?.destroy();
    this.plot = null;
    this.zoomed = false;
    this.setRows(this.source);
  }

  select(id) { this.selectedId = id; this.plot?.redraw(false, false); }

  drawSelection(u) {
    const i = this.rows.findIndex((r) => r.id === this.selectedId);
    if (i < 0 || this.rows[i].acc === null) return;
    const x = u.valToPos(u.data[0][i], "x", true), y = u.valToPos(this.rows[i].acc, "y", true);
    const ctx = u.ctx, r = 7 * devicePixelRatio;
    ctx.save();
    ctx.strokeStyle = COLOURS.selected;
    ctx.lineWidth = 2 * devicePixelRatio;
    ctx.beginPath();
    ctx.arc(x, y, r, 0, 2 * Math.PI);
    ctx.stroke();
    ctx.restore();
  }

  /** Index of the dot nearest the cursor within HIT_PX, or -1 (binary search on sorted x). */
  nearest(left, top) {
    const u = this.plot, xs = u.data[0];
    if (!xs.length) return -1;
    let lo = 0, hi = xs.length - 1;
    const xv = u.posToVal(left, "x");
    while (lo < hi) { const mid = (lo + hi) >> 1; if (xs[mid] < xv) lo = mid + 1; else hi = mid; }
    let best = -1, bestD = HIT_PX * HIT_PX;
    for (const dir of [-1, 1]) {
      for (let i = dir < 0 ? lo - 1 : lo; i >= 0 && i < xs.length; i += dir) {
        const dx = u.valToPos(xs[i], "x") - left;
        if (dx * dx > bestD) break;
        const acc = this.rows[i].acc;
        if (acc === null) continue;
        const dy = u.valToPos(acc, "y") - top, d = dx * dx + dy * dy;
        if (d < bestD) { bestD = d; best = i; }
      }
    }
    return best;
  }

  bindPointer() {
    const over = this.plot.over;
    over.addEventListener("mousemove", (ev) => {
      const i = this.nearest(ev.offsetX, ev.offsetY);
      over.style.cursor = i >= 0 ? "pointer" : "crosshair";
      this.tooltip(i >= 0 ? this.rows[i] : null, ev.offsetX, ev.offsetY);
    });
    over.addEventListener("mouseleave", () => this.tooltip(null));
    over.addEventListener("mousedown", (ev) => { this.downAt = [ev.offsetX, ev.offsetY]; });
    over.addEventListener("click", (ev) => {
      const [x0, y0] = this.downAt || [ev.offsetX, ev.offsetY];
      if (Math.abs(ev.offsetX - x0) > 3 || Math.abs(ev.offsetY - y0) > 3) { this.zoomed = true; return; } // a drag zooms
      const i = this.nearest(ev.offsetX, ev.offsetY);
      if (i >= 0) this.onSelect(this.rows[i].id, true);
    });
    over.addEventListener("dblclick", () => { this.zoomed = false; });
  }

  /** Canvas position of a row, for tests and keyboard users ("click the dot of #n"). */
  positionOf(id) {
    const i = this.rows.findIndex((r) => r.id === id);
    if (i < 0) return null;
    const u = this.plot;
    return { left: u.valToPos(u.data[0][i], "x"), top: u.valToPos(this.rows[i].acc, "y") };
  }
}
