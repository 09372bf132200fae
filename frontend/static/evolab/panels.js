// Small renderers for the experiment page's panels: in-flight children, lineage, mutation
// analytics and gauges. Each takes data and a container and owns nothing else.
export const pct = (x) => (x === null || x === undefined ? "–" : `${(100 * x).toFixed(2)}%`);
export const signedPct = (x) => (x === null || x === undefined ? "–" : `${x >= 0 ? "+" : "−"}${Math.abs(100 * x).toFixed(2)} pp`);

export function h(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === "class") node.className = v;
    // Through the CSSOM: a style="" attribute is inline style, which the page's CSP refuses.
    else if (k === "style") Object.assign(node.style, v);
    else if (k.startsWith("on")) node.addEventListener(k.slice(2), v);
    else node.setAttribute(k, v);
  }
  node.append(...children.filter((c) => c !== null && c !== undefined));
  return node;
}

export function fmtFlops(x) {
  if (!x) return "0";
  const units = [["E", 1e18], ["P", 1e15], ["T", 1e12], ["G", 1e9], ["M", 1e6], ["k", 1e3]];
  for (const [u, v] of units) if (x >= v) return `${(x / v).toFixed(1)} ${u}FLOPs`;
  return `${Math.round(x)} FLOPs`;
}

export function fmtBytes(x) {
  const units = [["GB", 1e9], ["MB", 1e6], ["kB", 1e3]];
  for (const [u, v] of units) if (x >= v) return `${(x / v).toFixed(1)} ${u}`;
  return `${x || 0} B`;
}

export function fmtDuration(s) {
  s = Math.max(0, Math.round(s));
  if (s < 60) return `${s} s`;
  if (s < 3600) return `${Math.floor(s / 60)} min ${s % 60} s`;
  return `${Math.floor(s / 3600)} h ${Math.floor((s % 3600) / 60)} min`;
}

/** One row per child in training. A child whose lease ran out has lost its worker. */
export function renderInflight(tbody, inflight, now, leaseSeconds) {
  if (inflight.size === 0) {
    tbody.replaceChildren(h("tr", { class: "empty" }, h("td", { colspan: 5 }, "Nothing in training.")));
    return;
  }
  const rows = [...inflight.values()].sort((a, b) => a.number - b.number).map((c) => {
    const offline = now - c.beat > leaseSeconds;
    const bar = h("progress", { max: c.steps || 1, value: c.step || 0, "aria-label": `steps of #${c.number}` });
    const label = `${c.step || 0} / ${c.steps ?? "?"}`;
    return h("tr", { "data-id": c.id, class: offline ? "offline" : "" },
      h("td", {}, `#${c.number ?? c.id}`, c.mutation ? h("small", {}, ` ${c.mutation}`) : null),
      h("td", {}, offline ? h("span", { class: "warn" }, "worker offline") : (c.worker || "–")),
      h("td", { class: "bar" }, bar, h("small", {}, label)),
      h("td", { class: "num" }, c.loss != null ? c.loss.toFixed(3) : "–"),
      h("td", { class: "num" }, c.born ? fmtDuration(now - c.born) : "–"));
  });
  tbody.replaceChildren(...rows);
}

export function renderLineage(list, chain, selectedId, onPick) {
  if (!chain.length) { list.replaceChildren(h("li", { class: "empty" }, "No ancestry.")); return; }
  const items = chain.map((link) => {
    const delta = link.delta === null ? null : h("span", { class: link.delta >= 0 ? "up" : "down" }, signedPct(link.delta));
    const button = h("button", { type: "button", class: "link", onclick: () => onPick(link.number) }, `#${link.number}`);
    return h("li", { class: `${link.id === selectedId ? "current" : ""} ${link.initial ? "initial" : ""}`, "data-number": link.number },
      button, h("span", { class: "mut" }, link.initial ? initialLabel(link) : link.mutation || "–"),
      h("span", { class: "acc" }, pct(link.val_accuracy)), delta);
  });
  list.replaceChildren(...items);
}

/** An initial individual, or a warm start's seed with a link to the run it came from. */
export function initialLabel(link) {
  const from = link.seeded_from;
  if (!from) return "initial individual";
  return h("span", {}, "seeded from ", h("a", { href: `/experiments/${from.experiment}/` }, `run #${from.experiment}`),
    `, individual #${from.number}`);
}

export function renderAnalytics(tbody, rows) {
  const max = Math.max(1, ...rows.map((r) => r.applied));
  tbody.replaceChildren(...rows.map((r) => h("tr", { "data-mutation": r.mutation },
    h("th", { scope: "row" }, r.mutation),
    h("td", { class: "num" }, r.applied.toLocaleString(),
      h("span", { class: "minibar", style: { width: `${(60 * r.applied) / max}px` }, "aria-hidden": "true" })),
    h("td", { class: "num" }, r.survival_rate === null ? "–" : `${Math.round(100 * r.survival_rate)}%`,
      r.decided ? h("small", {}, ` of ${r.decided}`) : null),
    h("td", { class: `num ${r.mean_delta === null ? "" : r.mean_delta >= 0 ? "up" : "down"}` }, signedPct(r.mean_delta)))));
}

/** A labelled meter; `max` null shows the value alone ("no limit"). */
export function renderGauge(node, label, value, max, fmt) {
  const meter = max ? h("meter", { min: 0, max, value: Math.min(value, max), "aria-label": label }) : null;
  const text = max ? `${fmt(value)} of ${fmt(max)}` : `${fmt(value)} (no limit)`;
  const parts = [h("span", { class: "gauge-label" }, label), meter, h("span", { class: "gauge-value" }, text)];
  node.replaceChildren(...parts.filter(Boolean));
}
