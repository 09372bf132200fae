// The selected individual's training loss, as its worker kept it when the child finished
// training (at most 100 [step, mean loss] points: workers/loss_curve.py).
import uPlot from "../vendor/uplot-1.6.32/uPlot.esm.js";
import { WHOLE_INCRS } from "./chart.js";
import { h } from "./panels.js";

let plot = null;

export function drawLossCurve(container, points, state) {
  plot?.destroy();
  plot = null;
  container.dataset.points = String(points?.length || 0);
  if (!points?.length) {
    const why = state === "training" ? "still training: its curve is kept when it finishes" : "no curve recorded";
    container.replaceChildren(h("p", { class: "empty" }, `Training loss: ${why}.`));
    return;
  }
  container.replaceChildren();
  const data = [points.map((p) => p[0]), points.map((p) => p[1])];
  plot = new uPlot({
    width: container.clientWidth || 360, height: 150,
    scales: { x: { time: false } },
    axes: [{ label: "training step", incrs: WHOLE_INCRS, size: 36, labelSize: 18 },
      { label: "training loss", size: 48, labelSize: 18 }],
    series: [{ label: "step" }, { label: "loss", stroke: "#1f5fbf", width: 1.5, points: { show: points.length < 30, size: 4 } }],
    legend: { show: false },
    cursor: { drag: { x: false, y: false } },
  }, data, container);
}
