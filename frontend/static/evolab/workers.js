// Workers page: the live worker processes (GET workers.json every few seconds), what each
// trains now, how busy it is and what it holds in memory. Another team's child is "busy".
import { fmtBytes, fmtDuration, h } from "./panels.js";

const table = document.getElementById("workers");
const body = table.querySelector("tbody");
const poll = 1000 * Number(table.dataset.poll || 3);
const $ = (id) => document.getElementById(id);

function memory(p) {
  const parts = [fmtBytes(p.rss_bytes)];
  if (p.gpu_bytes != null) parts.push(`GPU ${fmtBytes(p.gpu_bytes)}`);
  return parts.join(" · ");
}

function now(p) {
  if (p.state === "training") {
    const c = p.child;
    return h("td", {}, h("a", { href: `/experiments/${c.experiment}/` }, c.experiment_name),
      ` #${c.number}`, h("small", {}, ` ${c.team}${c.mutation ? ` · ${c.mutation}` : ""}`));
  }
  if (p.state === "busy") return h("td", {}, h("span", { class: "busy" }, "busy"), h("small", {}, " another team's run"));
  return h("td", {}, h("span", { class: "muted" }, "idle"));
}

function progress(p) {
  if (p.state !== "training") return h("td", {}, "–");
  const c = p.child;
  return h("td", { class: "bar" }, h("progress", { max: c.steps || 1, value: c.step || 0, "aria-label": `steps of #${c.number}` }),
    h("small", {}, `${c.step || 0} / ${c.steps ?? "?"}${c.loss != null ? ` · loss ${c.loss.toFixed(3)}` : ""}`));
}

function row(p) {
  const device = p.device_kind === "cpu" ? `${p.device}, ${p.threads} torch thread${p.threads === 1 ? "" : "s"}` : p.device;
  return h("tr", { "data-name": p.name, "data-state": p.state },
    h("td", {}, h("strong", {}, p.host), h("small", {}, ` pid ${p.pid}`), p.node ? h("br") : null, p.node ? h("small", {}, p.node) : null),
    h("td", {}, device || "–", p.queues?.length ? h("small", {}, ` · queue ${p.queues.join(", ")}`) : null), now(p), progress(p),
    h("td", { class: "num" }, (p.children_per_hour ?? 0).toLocaleString(undefined, { maximumFractionDigits: 0 })),
    h("td", { class: "num" }, (p.children_done ?? 0).toLocaleString()),
    h("td", { class: "num" }, memory(p)),
    h("td", { class: "num" }, fmtDuration(p.beat - p.started)));
}

function summary(s) {
  const n = s.processes;
  if (!n) return "No worker process is running: no child trains until one starts (make run starts one per core; see README, Adding GPU workers).";
  const parts = [`${n} worker process${n === 1 ? "" : "es"} live`, `${s.training} training`];
  if (s.busy) parts.push(`${s.busy} busy with other teams' runs`);
  parts.push(`${s.idle} idle`, `${Math.round(s.children_per_hour).toLocaleString()} children per hour in all`);
  return parts.join(" · ");
}

async function refresh() {
  try {
    const response = await fetch(table.dataset.url, { credentials: "same-origin", headers: { Accept: "application/json" } });
    if (!response.ok) throw new Error(`HTTP ${response.status}`);
    const data = await response.json();
    if (!data.reachable) throw new Error(`the process registry (Redis) is not reachable: ${data.error}`);
    body.replaceChildren(...(data.processes.length ? data.processes.map(row)
      : [h("tr", { class: "empty" }, h("td", { colspan: 8 }, "No live worker process."))]));
    $("workers-summary").textContent = summary(data.summary);
    $("workers-conn").textContent = `updated every ${poll / 1000} s`;
    $("workers-conn").className = "conn live";
  } catch (err) {
    $("workers-conn").textContent = `could not update: ${err.message}`;
    $("workers-conn").className = "conn down";
  }
}

refresh();
setInterval(refresh, poll);
