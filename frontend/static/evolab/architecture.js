// Architecture diagram of a DNA, laid out by dagre and drawn as SVG (every vertex and edge a
// DOM node carrying its diff state, so it reads in a screen reader and in tests).
// With a parent DNA the union of both graphs is drawn: inserted (green), changed (amber),
// removed (red, dashed). Ids are stable across mutations (docs/ALGORITHM.md §2), so diffing is by id.
import dagre from "../vendor/dagre-3.1.3/dagre.esm.js";

const SVG = "http://www.w3.org/2000/svg";
const CONV_GENES = ["channel_factor", "filter_h", "filter_w", "stride_log2"];

function el(name, attrs, text) {
  const node = document.createElementNS(SVG, name);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, v);
  if (text !== undefined) node.textContent = text;
  return node;
}

const odd = (x) => Math.max(1, 2 * Math.floor((x - 1) / 2 + 0.5) + 1);
const stride = (e) => 2 ** Math.max(0, Math.floor(e.stride_log2 + 0.5));

export function edgeLabel(edge, shape) {
  if (edge.kind !== "conv") return edge.backbone ? "identity" : "skip";
  const ch = shape ? `${shape[0]} ch` : `×${edge.channel_factor.toFixed(2)} ch`;
  return `conv ${odd(edge.filter_h)}×${odd(edge.filter_w)} /${stride(edge)} · ${ch}`;
}

function vertexLabel(v, shape) {
  const dims = shape ? ` ${shape[0]}×${shape[1]}×${shape[2]}` : "";
  if (v.role !== "hidden") return `${v.role}${dims}`;
  return `${v.id} · ${v.activation === "bn_relu" ? "BN+ReLU" : "linear"}${dims}`;
}

function differs(a, b) {
  if (a.activation !== b.activation || a.kind !== b.kind || a.src !== b.src || a.dst !== b.dst) return true;
  return a.kind === "conv" && CONV_GENES.some((g) => a[g] !== b[g]);
}

/** Per-id diff of child against parent: "inserted" | "removed" | "changed" | "same". */
export function diffDNA(parent, child, records = []) {
  const modified = new Set(records.flatMap((r) => r.modified || []));
  const result = { vertices: new Map(), edges: new Map(), counts: { inserted: 0, removed: 0, changed: 0 } };
  for (const kind of ["vertices", "edges"]) {
    const before = new Map((parent?.[kind] || []).map((x) => [x.id, x]));
    const after = new Map(child[kind].map((x) => [x.id, x]));
    for (const [id, x] of after) {
      let status = "same";
      if (parent && !before.has(id)) status = "inserted";
      else if (parent && (modified.has(id) || differs(before.get(id), x))) status = "changed";
      result[kind].set(id, status);
    }
    for (const id of before.keys()) if (!after.has(id)) result[kind].set(id, "removed");
  }
  for (const map of [result.vertices, result.edges]) {
    for (const s of map.values()) if (s !== "same") result.counts[s] += 1;
  }
  return result;
}

function layout(vertices, edges) {
  const g = new dagre.graphlib.Graph({ multigraph: true });
  g.setGraph({ rankdir: "TB", nodesep: 30, ranksep: 26, edgesep: 14, marginx: 12, marginy: 12 });
  g.setDefaultEdgeLabel(() => ({}));
  for (const v of vertices) g.setNode(v.id, { width: 170, height: 30 });
  for (const e of edges) {
    g.setEdge(e.src, e.dst, { width: e.kind === "conv" ? 130 : 40, height: 14, labelpos: "c" }, e.id);
  }
  dagre.layout(g);
  return g;
}

function drawEdge(svg, g, e, status, shape) {
  const pts = g.edge(e.src, e.dst, e.id);
  const d = pts.points.map((p, i) => `${i ? "L" : "M"} ${p.x.toFixed(1)} ${p.y.toFixed(1)}`).join(" ");
  const cls = `edge ${e.kind} ${e.backbone ? "backbone" : "skip"} ${status}`;
  const group = el("g", { class: cls, "data-id": e.id, "data-status": status });
  group.append(el("title", {}, `${e.id}: ${edgeLabel(e, shape)} (${status})`));
  group.append(el("path", { d, "marker-end": "url(#arrow)" }));
  group.append(el("text", { x: pts.x, y: pts.y + 4, class: "edge-label", "text-anchor": "middle" }, edgeLabel(e, shape)));
  svg.append(group);
}

function drawVertex(svg, node, v, status, shape) {
  const group = el("g", { class: `vertex ${v.role} ${v.activation} ${status}`, "data-id": v.id, "data-status": status });
  group.append(el("title", {}, `${v.id} (${status})`));
  group.append(el("rect", { x: node.x - node.width / 2, y: node.y - node.height / 2, width: node.width, height: node.height, rx: 6 }));
  group.append(el("text", { x: node.x, y: node.y + 4, "text-anchor": "middle", class: "vertex-label" }, vertexLabel(v, shape)));
  svg.append(group);
}

/** Draw `dna` (and, with `parent`, the diff against it) into `container`; returns the diff. */
export function drawArchitecture(container, dna, { parent = null, records = [], shapes = {}, parentShapes = {} } = {}) {
  const diff = diffDNA(parent, dna, records);
  const removedV = (parent?.vertices || []).filter((v) => diff.vertices.get(v.id) === "removed");
  const removedE = (parent?.edges || []).filter((e) => diff.edges.get(e.id) === "removed");
  const vertices = [...dna.vertices, ...removedV];
  const edges = [...dna.edges, ...removedE];
  const g = layout(vertices, edges);
  const { width, height } = g.graph();
  const convs = dna.edges.filter((e) => e.kind === "conv").length;
  const svg = el("svg", { viewBox: `0 0 ${width} ${height}`, width: Math.min(width, 560), role: "img",
    "aria-label": `architecture: ${dna.vertices.length} vertices, ${convs} convolutions, ${dna.edges.length - dna.vertices.length + 1} skips` });
  const defs = el("defs", {});
  const marker = el("marker", { id: "arrow", viewBox: "0 0 8 8", refX: 7, refY: 4, markerWidth: 7, markerHeight: 7, orient: "auto" });
  marker.append(el("path", { d: "M0,0 L8,4 L0,8 z", class: "arrowhead" }));
  defs.append(marker);
  svg.append(defs);
  const shapeOf = (id) => shapes[id] || parentShapes[id];
  for (const e of edges) drawEdge(svg, g, e, diff.edges.get(e.id), shapeOf(e.id));
  for (const v of vertices) drawVertex(svg, g.node(v.id), v, diff.vertices.get(v.id), shapeOf(v.id));
  container.replaceChildren(svg);
  return diff;
}
