"""An architecture (a DNA) as SVG text, for the run report: no script, no layout library.

The backbone is one chain from input to output (docs/ALGORITHM.md §2), so the vertices
stand in a column in backbone order, each backbone edge (identity or convolution, with its
kernel, stride and output channels) between two of them, and each skip connection an arc on
the right, nested by span so arcs do not overlap. The live page draws the same DNA with
dagre in the browser (frontend/static/evolab/architecture.js); the report needs a drawing
that works without JavaScript.
"""

from __future__ import annotations

from html import escape

from evolab.evolution.dna import DNA, DNAError

from .report_svg import ALIVE, INK, MUTED

BOX_W, BOX_H, GAP, TOP = 230, 28, 46, 12
SKIP = "#7c3aed"


def edge_label(edge, shape=None) -> str:
    """As architecture.js's edgeLabel: "conv 3×3 /1 · 32 ch", "identity" or "skip"."""
    if edge.kind != "conv":
        return "identity" if edge.backbone else "skip"
    kh, kw = edge.kernel
    channels = f"{shape[0]} ch" if shape else f"×{edge.channel_factor:.2f} ch"
    return f"conv {kh}×{kw} /{edge.stride} · {channels}"


def vertex_label(vertex, shape=None) -> str:
    dims = f" {shape[0]}×{shape[1]}×{shape[2]}" if shape else ""
    if vertex.role != "hidden":
        return f"{vertex.role}{dims}"
    kind = "BN+ReLU" if vertex.activation == "bn_relu" else "linear"
    return f"{vertex.id} · {kind}{dims}"


def _box(x: float, y: float, vertex, shape) -> str:
    io = vertex.role != "hidden"
    fill, stroke = ("#fdf1dc", "#c4902f") if io else ("#eef3fb", "#6a87b8")
    return (
        f'<g class="vertex {vertex.role}" data-id="{escape(vertex.id)}">'
        f'<rect x="{x}" y="{y}" width="{BOX_W}" height="{BOX_H}" rx="6" fill="{fill}" '
        f'stroke="{stroke}"/><text x="{x + BOX_W / 2}" y="{y + 18}" text-anchor="middle" '
        f'font-size="12" fill="{INK}">{escape(vertex_label(vertex, shape))}</text></g>'
    )


def _backbone(cx: float, y0: float, y1: float, edge, shape) -> str:
    conv = edge.kind == "conv"
    colour, width = (ALIVE, 2.4) if conv else ("#7a8597", 1.5)
    return (
        f'<g class="edge {edge.kind} backbone" data-id="{escape(edge.id)}">'
        f'<line x1="{cx}" x2="{cx}" y1="{y0}" y2="{y1 - 4}" stroke="{colour}" '
        f'stroke-width="{width}" marker-end="url(#arch-arrow)"/>'
        f'<text x="{cx + 10}" y="{(y0 + y1) / 2 + 4}" font-size="11" '
        f'fill="{INK if conv else MUTED}">{escape(edge_label(edge, shape))}</text></g>'
    )


def _skip(x: float, y0: float, y1: float, depth: int, edge, shape) -> str:
    reach = x + 26 + 22 * depth
    label = edge_label(edge, shape)
    return (
        f'<g class="edge {edge.kind} skip" data-id="{escape(edge.id)}">'
        f'<path d="M {x} {y0} C {reach} {y0}, {reach} {y1}, {x + 4} {y1}" fill="none" '
        f'stroke="{SKIP}" stroke-width="1.6" stroke-dasharray="5 3" '
        f'marker-end="url(#arch-arrow)"/><title>{escape(edge.id)}: {escape(label)}</title></g>'
    )


def architecture_figure(dna_json: dict, shapes: dict | None = None) -> str:
    """The DNA's SVG; `shapes`: (C, H, W) by vertex and conv edge id (dashboard.dna_shapes)."""
    try:
        dna = DNA.from_json(dna_json)
        order = dna.backbone_order()
    except DNAError as exc:
        return f'<p class="muted">The architecture cannot be drawn: {escape(str(exc))}</p>'
    shapes = shapes or {}
    row = {vid: i for i, vid in enumerate(order)}
    skips = sorted(dna.skip_edges(), key=lambda e: row[e.dst] - row[e.src])
    depth: dict[str, int] = {}
    for e in skips:  # an arc goes outside every shorter arc it overlaps
        inner = [depth[s.id] for s in skips if s.id in depth and _overlap(row, s, e)]
        depth[e.id] = 1 + max(inner, default=-1)
    width = BOX_W + 40 + 22 * (max(depth.values(), default=-1) + 1) + 190
    height = TOP * 2 + len(order) * BOX_H + (len(order) - 1) * GAP
    x, cx = 8, 8 + BOX_W / 2
    y = {vid: TOP + i * (BOX_H + GAP) for i, vid in enumerate(order)}
    parts = [
        '<defs><marker id="arch-arrow" viewBox="0 0 8 8" refX="7" refY="4" markerWidth="8" '
        'markerHeight="8" markerUnits="userSpaceOnUse" orient="auto">'
        '<path d="M0,0 L8,4 L0,8 z" fill="#7a8597"/></marker></defs>'
    ]
    for e in dna.edges:
        if e.backbone:
            parts.append(_backbone(cx, y[e.src] + BOX_H, y[e.dst], e, shapes.get(e.id)))
    for e in skips:
        parts.append(_skip(x + BOX_W, y[e.src] + BOX_H / 2, y[e.dst] + BOX_H / 2 - 2,
                           depth[e.id], e, shapes.get(e.id)))  # fmt: skip
    for vid in order:
        parts.append(_box(x, y[vid], dna.vertex(vid), shapes.get(vid)))
    convs = len(dna.conv_edges())
    label = f"architecture: {len(order)} vertices, {convs} convolutions, {len(skips)} skips"
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" class="figure architecture" '
        f'viewBox="0 0 {width} {height}" width="{width}" height="{height}" role="img" '
        f'aria-label="{label}" font-family="system-ui, sans-serif" '
        f'data-vertices="{len(order)}" data-convs="{convs}" data-skips="{len(skips)}">'
        f"<title>{label}</title>{''.join(parts)}</svg>"
    )


def _overlap(row: dict, a, b) -> bool:
    return max(row[a.src], row[b.src]) < min(row[a.dst], row[b.dst])
