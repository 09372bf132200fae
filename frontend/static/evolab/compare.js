// Compare page: best-so-far curves of several runs on one chart (the paper's repeatability
// figure) and their final numbers. Static data, rendered once: finished runs do not change.
import uPlot from "../vendor/uplot-1.6.32/uPlot.esm.js";
import { WHOLE_INCRS } from "./chart.js";
import { fmtDuration, fmtFlops, h, pct } from "./panels.js";

const PALETTE = ["#1f5fbf", "#c2410c", "#15803d", "#7c3aed", "#b45309", "#0e7490", "#be123c", "#4d7c0f", "#6b7280", "#a21caf", "#0f766e", "#92400e"];
const runs = JSON.parse(document.getElementById("compare-data").textContent);
let plot = null;

/** One x array for all runs (uPlot aligns series), each run's curve carried forward. */
function merged(mode) {
  const col = mode === "time" ? 1 : 0;
  const xs = [...new Set(runs.flatMap((r) => r.curve.map((p) => p[col])))].sort((a, b) => a - b);
  const ys = runs.map((r) => {
    let j = 0, best = null;
    const end = r.curve.length ? r.curve[r.curve.length - 1][col] : -1;
    return xs.map((x) => {
      while (j < r.curve.length && r.curve[j][col] <= x) best = r.curve[j++][2];
      return x > end ? null : best;
    });
  });
  return [xs, ...ys];
}

function draw(mode) {
  plot?.destroy();
  const container = document.getElementById("compare-chart");
  const opts = {
    width: container.clientWidth || 900, height: 380,
    scales: { x: { time: false } },
    axes: [mode === "time" ? { label: "wall-clock time (s)" } : { label: "individuals trained", incrs: WHOLE_INCRS },
      { label: "best validation accuracy (%)", size: 56, values: (u, v) => v.map((x) => `${Math.round(100 * x)}%`) }],
    series: [{ label: mode }, ...runs.map((r, i) => ({ label: r.name, stroke: PALETTE[i % PALETTE.length], width: 2,
      paths: uPlot.paths.stepped({ align: 1 }), value: (u, v) => pct(v) }))],
  };
  plot = new uPlot(opts, merged(mode), container);
}

function table() {
  const body = document.querySelector("#compare-table tbody");
  body.replaceChildren(...runs.map((r, i) => h("tr", {},
    h("td", {}, h("span", { class: "swatch-line", style: { background: PALETTE[i % PALETTE.length] } }), h("a", { href: `/experiments/${r.id}/` }, r.name)),
    h("td", {}, h("span", { class: `status ${r.status}` }, r.status)), h("td", {}, r.dataset || "–"),
    h("td", { class: "num" }, r.individuals_trained.toLocaleString()), h("td", { class: "num" }, pct(r.best_val_accuracy)),
    h("td", { class: "num" }, pct(r.test_accuracy)), h("td", { class: "num" }, fmtFlops(r.total_flops)),
    h("td", { class: "num" }, fmtDuration(r.elapsed_seconds)))));
}

for (const input of document.querySelectorAll("input[name=x-mode]")) input.addEventListener("change", (e) => draw(e.target.value));
draw("count");
table();
// Settings the runs share are hidden until asked for (the server marks the rows).
document.getElementById("show-same")?.addEventListener("change", (e) => document.getElementById("config-table").classList.toggle("show-same", e.target.checked));
