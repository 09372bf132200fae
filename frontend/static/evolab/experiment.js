// Experiment page: load a snapshot over HTTP, then apply live events by sequence number.
// The database is the truth; the websocket only carries what happened after `last_seq`, and a
// reconnect asks for everything after the last applied seq: no gap, no duplicate.
import { drawArchitecture } from "./architecture.js";
import { FitnessChart } from "./chart.js";
import { showDownloads } from "./downloads.js";
import { drawLossCurve } from "./losscurve.js";
import { fmtBytes, fmtDuration, fmtFlops, h, pct, renderAnalytics, renderGauge, renderInflight, renderLineage, signedPct } from "./panels.js";
import { CostScatter } from "./scatter.js";

const root = document.getElementById("experiment");
const experimentId = Number(root.dataset.id);
const $ = (id) => document.getElementById(id);
const state = {
  lastSeq: 0, exp: null, t0: 0, skew: 0, leaseSeconds: 60,
  rows: [], byId: new Map(), inflight: new Map(),
  selected: null, follow: true, socket: null, retry: 0, askedAfter: -1, mutations: [],
};
const now = () => Date.now() / 1000 + state.skew;

async function getJSON(url) {
  const response = await fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } });
  if (!response.ok) throw new Error(`${url}: HTTP ${response.status}`);
  return response.json();
}

async function loadSnapshot() {
  const snap = await getJSON(root.dataset.snapshot);
  const c = snap.individuals, states = snap.states;
  Object.assign(state, { lastSeq: snap.last_seq, exp: snap.experiment, mutations: snap.mutations, t0: snap.experiment.started || 0 });
  state.skew = snap.server_time - Date.now() / 1000;
  state.leaseSeconds = snap.lease_seconds;
  state.rows = c.id.map((id, i) => ({ id, number: c.number[i], parent: c.parent[i], state: states[c.state[i]],
    acc: c.acc[i], t: c.t[i], mutation: c.mut[i] >= 0 ? snap.mutations[c.mut[i]] : null }));
  state.byId = new Map(state.rows.map((r) => [r.id, r]));
  state.inflight = new Map(snap.inflight.map((x) => [x.id, { ...x, beat: x.lease_expires ? x.lease_expires - state.leaseSeconds : now() }]));
  chart.setRows(state.rows);
  refresh();
  loadAnalytics();
  loadCosts();
}

function insertRow(row) {
  let i = state.rows.length;
  while (i > 0 && state.rows[i - 1].t > row.t) i -= 1; // usually already last
  state.rows.splice(i, 0, row);
  state.byId.set(row.id, row);
}

const handlers = {
  birth(d) {
    const started = state.inflight.get(d.id);
    state.inflight.delete(d.id);
    if (state.byId.has(d.id)) return;
    insertRow({ id: d.id, number: d.number, parent: d.parent, state: d.state, acc: d.val_accuracy,
      t: d.trained - state.t0, mutation: d.mutation ?? started?.mutation ?? null, flops: d.flops, params: d.params });
    const exp = state.exp;
    exp.individuals_trained += 1;
    exp.total_flops += d.flops || 0;
    if (d.weights_bytes_total != null) exp.weights_bytes = d.weights_bytes_total;
    if (d.val_accuracy !== null && (exp.best.val_accuracy === null || d.val_accuracy >= exp.best.val_accuracy)) { // the younger wins a tie, as on the server
      exp.best = { id: d.id, val_accuracy: d.val_accuracy };
    }
    analyticsDue = true;
  },
  death(d) { const r = state.byId.get(d.id); if (r) r.state = "dead"; },
  started(d) {
    const old = state.inflight.get(d.id) || {};
    state.inflight.set(d.id, { ...old, ...d, number: d.number ?? old.number, step: 0, loss: null,
      steps: state.exp.config.steps_per_child, born: old.born ?? now(), beat: now(), mutation: d.mutation ?? old.mutation });
    state.exp.individuals_created = Math.max(state.exp.individuals_created, (d.number ?? -1) + 1);
  },
  progress(d) {
    const old = state.inflight.get(d.id);
    if (old) Object.assign(old, { step: d.step, steps: d.steps, loss: d.loss, beat: now() });
  },
  failed(d) { state.inflight.delete(d.id); const r = state.byId.get(d.id); if (r) r.state = "failed"; },
  status(d) {
    const { workers, ...rest } = d; // committed totals, in commit order: take them as they are
    const before = state.exp.status;
    Object.assign(state.exp, rest);
    state.exp.evaluation_error = d.evaluation_error ?? null; // said by the evaluation's end only
    if (workers) state.exp.config.workers = workers;
    if (d.status !== before && (d.status === "stopped" || d.status === "finished")) state.exp.ended = now();
    if (d.status === "running") state.exp.ended = null; // resumed after a stop
  },
  result(d) { // its "best" is an id: keep the page's {id, val_accuracy} object
    state.exp.test_accuracy = d.test_accuracy;
    state.exp.ensemble_test_accuracy = d.ensemble_test_accuracy;
  },
  edited(d) { // renamed, annotated, tagged, archived or its settings changed, here or elsewhere
    Object.assign(state.exp, { name: d.name, config: d.config });
    for (const el of document.querySelectorAll("#experiment [data-config]")) el.textContent = d.config[el.dataset.config] ?? "";
    // manage.js shows the rest (the heading, tags, notes, the archived badge)
    document.dispatchEvent(new CustomEvent("evolab:edited", { detail: { name: d.name, notes: d.notes, tags: d.tags, archived: d.archived } }));
  },
};

function apply(event) {
  if (event.seq === null) { // live-only progress of a child in training: no place in the log
    handlers[event.kind]?.(event.data);
    scheduleRefresh(event.kind);
    return;
  }
  if (event.seq <= state.lastSeq) return; // duplicate (replay overlap)
  if (event.seq > state.lastSeq + 1) { // gap: ask once for what we missed; the server replays
    if (state.askedAfter !== state.lastSeq) state.socket?.send(JSON.stringify({ after: state.lastSeq }));
    state.askedAfter = state.lastSeq;
    return;
  }
  state.lastSeq = event.seq;
  handlers[event.kind]?.(event.data);
  scheduleRefresh(event.kind);
}

let pending = null, chartDirty = false, analyticsDue = false;
function scheduleRefresh(kind) {
  if (kind !== "progress" && kind !== "started") chartDirty = true;
  if (pending) return;
  pending = requestAnimationFrame(() => {
    pending = null;
    if (chartDirty) { chart.setRows(state.rows); scatter.setRows(state.rows); }
    chartDirty = false;
    refresh();
  });
}

// A finished run is evaluated on the test split by itself (settling.settle); a stopped one when a
// member asks ("Evaluate the best now"). `evaluating`: the task is queued or running.
const TEST_PENDING = { finished: "not evaluated", stopped: "not evaluated (stopped)" };
function testText() {
  const exp = state.exp;
  if (exp.test_accuracy != null) return pct(exp.test_accuracy);
  if (exp.evaluating) return "evaluating…";
  if (exp.evaluation_error) return "evaluation failed";
  return TEST_PENDING[exp.status] ?? "at the end";
}
// What the empty chart says: only what is true of the run's status (models.Status).
const CHART_EMPTY = {
  queued: "No individuals yet: the run has not started.",
  running: "No individuals yet: the initial population is training.",
  pausing: "No individuals yet: the run is pausing.",
  paused: "No individuals yet: the run is paused.",
  stopping: "No individuals yet: the run is stopping.",
  stopped: "No individuals: the run was stopped before any was trained.",
  finished: "No individuals were trained.",
  failed: "No individuals: the run failed before any was trained.",
};
function refresh() {
  const exp = state.exp;
  $("status").textContent = exp.status;
  $("status").className = `status ${exp.status}`;
  $("chart-empty").hidden = state.rows.length > 0;
  $("chart-empty").textContent = CHART_EMPTY[exp.status] ?? "No individuals yet.";
  $("scatter-empty").hidden = state.rows.length > 0 && !costsFailed;
  $("scatter-empty").textContent = costsFailed || $("chart-empty").textContent;
  $("best-acc").textContent = pct(exp.best.val_accuracy);
  $("trained").textContent = exp.individuals_trained.toLocaleString();
  $("total-flops").textContent = fmtFlops(exp.total_flops);
  $("test-acc").textContent = testText();
  $("test-acc").title = exp.evaluation_error ?? "";
  $("ensemble-acc").textContent = exp.ensemble_test_accuracy != null ? `ensemble ${pct(exp.ensemble_test_accuracy)}` : "";
  document.title = `${exp.status === "running" ? "▶ " : ""}${exp.name} · ${pct(exp.best.val_accuracy)} · EvoLab`;
  if (state.follow && exp.best.id && exp.best.id !== state.selected?.id) select(exp.best.id, false);
  renderInflight($("inflight"), state.inflight, now(), state.leaseSeconds);
  showGauges();
  showControls();
  if (analyticsDue) loadAnalyticsSoon();
}

function showGauges() {
  const exp = state.exp, cfg = exp.config;
  const elapsed = exp.started ? (exp.ended || now()) - exp.started : 0;
  renderGauge($("g-individuals"), "Individuals", exp.individuals_created, cfg.max_individuals, (x) => x.toLocaleString());
  renderGauge($("g-time"), "Time", elapsed, cfg.max_seconds, fmtDuration);
  renderGauge($("g-flops"), "Compute", exp.total_flops, cfg.max_flops, fmtFlops);
  renderGauge($("g-disk"), "Stored weights", exp.weights_bytes, null, fmtBytes);
}

// A control is enabled only when the run's state lets it act: the server says which in every
// status event and the snapshot (`actions`, evolab/experiments/actions.py), and refuses the others.
function showControls() {
  const can = new Set(state.exp.actions ?? []);
  for (const control of document.querySelectorAll(".controls [data-action]")) {
    control.disabled = !can.has(control.dataset.needs ?? control.dataset.action);
  }
  const evaluate = document.querySelector("[data-action=evaluate]");
  if (evaluate) {
    evaluate.hidden = state.exp.status !== "stopped";
    const exp = state.exp;
    evaluate.textContent = exp.evaluating ? "Evaluating the best…" : exp.test_accuracy != null ? "Evaluated" : "Evaluate the best now";
  }
  const workers = $("workers-input");
  if (workers && document.activeElement !== workers) workers.value = state.exp.config.workers;
}

// --- the selected individual: diagram with parent diff, and its lineage -------------------
async function select(id, clicked) {
  const row = state.byId.get(id);
  if (!row) return;
  if (clicked) state.follow = row.id === state.exp.best.id && state.follow;
  state.selected = row;
  chart.select(id);
  scatter.select(id);
  $("follow-best").hidden = state.follow;
  $("sel-title").textContent = `Individual #${row.number}${row.id === state.exp.best.id ? " (best)" : ""}`;
  try {
    const [detail, lineage] = await Promise.all([
      getJSON(`/experiments/${experimentId}/individuals/${row.number}.json`),
      getJSON(`/experiments/${experimentId}/individuals/${row.number}/lineage.json`),
    ]);
    if (state.selected?.id !== id) return; // a later selection won
    showDetail(detail);
    renderLineage($("lineage"), lineage.lineage, id, pickNumber);
    const first = lineage.lineage.at(-1), from = first.seeded_from;
    const origin = from ? `, seeded from run #${from.experiment}, individual #${from.number}` : "";
    $("lineage-summary").textContent = `${lineage.lineage.length - 1} mutations back to initial individual #${first.number}${origin}`;
  } catch (err) {
    $("arch").replaceChildren(h("p", { class: "error" }, `Could not load #${row.number}: ${err.message}`));
  }
}

function pickNumber(number) {
  const row = state.rows.find((r) => r.number === number);
  if (row) { state.follow = false; select(row.id, true); }
}

function showDetail(d) {
  $("sel-acc").textContent = pct(d.val_accuracy);
  $("sel-params").textContent = d.params.toLocaleString();
  $("sel-flops").textContent = fmtFlops(d.flops);
  $("sel-mutation").textContent = d.mutation || "initial individual";
  $("sel-desc").textContent = d.mutation_description || "";
  drawLossCurve($("loss-curve"), d.loss_curve, d.state);
  $("sel-parent").replaceChildren(d.parent ? h("button", { type: "button", class: "link", onclick: () => pickNumber(d.parent.number) },
    `#${d.parent.number}`) : "none", d.parent ? ` (${pct(d.parent.val_accuracy)}, ${signedPct(d.val_accuracy - d.parent.val_accuracy)})` : "");
  const lr = d.parent && d.parent.dna.learning_rate !== d.dna.learning_rate ? ` · learning rate ${d.parent.dna.learning_rate.toPrecision(3)} → ${d.dna.learning_rate.toPrecision(3)}` : "";
  $("sel-lr").textContent = `${d.dna.learning_rate.toPrecision(3)}`;
  const diff = drawArchitecture($("arch"), d.dna, { parent: d.parent?.dna, records: d.mutation_records, shapes: d.shapes, parentShapes: d.parent?.shapes });
  const n = diff.counts;
  $("diff-summary").textContent = d.parent ? `vs parent #${d.parent.number}: ${n.inserted} inserted, ${n.removed} removed, ${n.changed} changed${lr}` : "initial individual: no parent to compare with";
  $("arch").dataset.number = String(d.number);
  showDownloads($("downloads"), experimentId, d);
}

// What each individual cost (the accuracy-vs-cost chart) comes apart from the snapshot, once
// the page is drawn; births carry their own.
let costsFailed = "";
async function loadCosts() {
  try {
    const c = await getJSON(root.dataset.costs);
    c.id.forEach((id, i) => { const r = state.byId.get(id); if (r) Object.assign(r, { flops: c.flops[i], params: c.params[i] }); });
    costsFailed = "";
  } catch (err) {
    costsFailed = `Could not load what the individuals cost (${err.message}); reload the page to retry.`;
  }
  scatter.setRows(state.rows);
  refresh();
}

// Analytics are a database aggregate: refreshed after births, at most every few seconds.
// A fetch that failed (the server was down) is retried when the socket is live again.
let analyticsTimer = null, analyticsFailed = false;
async function loadAnalytics() {
  analyticsDue = false;
  try {
    renderAnalytics($("analytics"), (await getJSON(root.dataset.analytics)).mutations);
    analyticsFailed = false;
  } catch (err) {
    analyticsFailed = true;
    const text = `Could not load the analytics (${err.message}); retrying when the connection is back.`;
    $("analytics").replaceChildren(h("tr", {}, h("td", { colspan: 4, class: "error" }, text)));
  }
}
function loadAnalyticsSoon() {
  if (analyticsTimer) return;
  analyticsTimer = setTimeout(() => { analyticsTimer = null; loadAnalytics(); }, 3000);
}

function connect() {
  const scheme = location.protocol === "https:" ? "wss" : "ws";
  const socket = new WebSocket(`${scheme}://${location.host}/ws/experiments/${experimentId}/?after=${state.lastSeq}`);
  state.socket = socket;
  socket.onopen = () => {
    state.retry = 0;
    setConn("live", "live");
    if (analyticsFailed) loadAnalytics();
  };
  socket.onmessage = (msg) => apply(JSON.parse(msg.data));
  socket.onclose = (ev) => {
    if (ev.code === 4404 || ev.code === 4403) { setConn("no access to this experiment", "down"); return; }
    const delay = Math.min(10000, 500 * 2 ** state.retry++) * (0.8 + 0.4 * Math.random());
    setConn(`reconnecting in ${Math.round(delay / 1000)} s…`, "down");
    setTimeout(connect, delay);
  };
}

function setConn(text, cls) { $("conn").textContent = text; $("conn").className = `conn ${cls}`; }

const tooltipIn = (tip) => (row, x, y) => {
  if (!row) { tip.hidden = true; return; }
  tip.hidden = false;
  tip.style.left = `${x + 14}px`;
  tip.style.top = `${y + 10}px`;
  tip.replaceChildren(h("strong", {}, `#${row.number}`), ` ${row.state}`, h("br"),
    row.mutation || "initial individual", h("br"), `accuracy ${pct(row.acc)}`, h("br"),
    `${fmtFlops(row.flops)} · ${row.params != null ? row.params.toLocaleString() : "–"} parameters`);
};

const onSelect = (id) => { state.follow = false; select(id, true); };
const chart = new FitnessChart($("chart"), { onSelect, tooltip: tooltipIn($("tooltip")) });
const scatter = new CostScatter($("scatter"), { onSelect, tooltip: tooltipIn($("scatter-tooltip")) });
for (const input of document.querySelectorAll("input[name=x-mode]")) input.addEventListener("change", (e) => chart.setXMode(e.target.value));
for (const input of document.querySelectorAll("input[name=cost-mode]")) input.addEventListener("change", (e) => scatter.setXMode(e.target.value));
// A rename (manage.js): the live status updates write the tab's title from this copy.
document.addEventListener("evolab:renamed", (e) => { if (state.exp) state.exp.name = e.detail.name; });
$("follow-best").addEventListener("click", () => { state.follow = true; select(state.exp.best.id, false); });
setInterval(() => { if (state.exp) { renderInflight($("inflight"), state.inflight, now(), state.leaseSeconds); showGauges(); } }, 1000); // clocks only: no server call

loadSnapshot().then(connect).catch((err) => setConn(`error: ${err.message}`, "down"));
window.evolab = { state, chart, scatter, select: (id) => select(id, true) }; // for debugging and browser tests
