// Accuracy against cost: one dot per trained individual (x: FLOPs to train or parameters, log
// scale; y: validation accuracy) and the Pareto front, the best accuracy reached at that cost
// or less. It is the population chart drawn in cost order, so its "best so far" line is the
// front, and hover, click-to-select and the selection ring are the chart's own.
import { FitnessChart } from "./chart.js";

const compact = new Intl.NumberFormat("en", { notation: "compact", maximumFractionDigits: 1 });
const REDRAW_MS = 1000; // a sort of the whole population per redraw: at most once a second

export class CostScatter extends FitnessChart {
  constructor(container, options) {
    super(container, options);
    this.xMode = "flops"; // or "params"
    this.height = 300;
    this.timer = null;
    this.next = 0;
    this.pending = null;
  }

  xOf(r) { return r[this.xMode]; }

  xLabel() { return this.xMode === "flops" ? "FLOPs to train (log scale)" : "parameters (log scale)"; }

  xScale() { return { time: false, distr: 3, log: 10 }; }

  xAxis(label) {
    return { label, values: (u, vals) => vals.map((v) => (v == null ? "" : compact.format(v))) };
  }

  /** Trained individuals with a cost (a log axis has no 0), cheapest first. */
  arrange(rows) {
    const key = this.xMode;
    return rows.filter((r) => r[key] > 0 && r.acc !== null).sort((a, b) => a[key] - b[key] || a.number - b.number);
  }

  setRows(rows) {
    this.pending = rows;
    if (this.timer !== null) return; // a redraw is already on its way and will take these
    const wait = this.next - Date.now();
    if (wait <= 0) this.draw();
    else this.timer = setTimeout(() => { this.timer = null; this.draw(); }, wait);
  }

  draw() {
    this.next = Date.now() + REDRAW_MS;
    super.setRows(this.pending);
  }

  setXMode(mode) { // at once, with the latest rows
    clearTimeout(this.timer);
    this.timer = null;
    this.next = 0;
    this.source = this.pending ?? this.source;
    super.setXMode(mode);
  }
}
