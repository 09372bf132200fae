"""The genome (docs/ALGORITHM.md §2): a DAG of vertices and edges plus a learning rate.

Pure Python on purpose: the web side validates DNA JSON without importing torch.
Numeric genes are floats, rounded only when shapes or networks are computed, so that
repeated small mutations can accumulate (docs/ALGORITHM.md §2 [choice]).
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass, field, replace
from typing import Any

SCHEMA_VERSION = 1
ROLES = ("input", "output", "hidden")
ACTIVATIONS = ("linear", "bn_relu")
EDGE_KINDS = ("identity", "conv")
CONV_GENES = ("channel_factor", "filter_h", "filter_w", "stride_log2")

_TOP_KEYS = {"schema", "learning_rate", "next_id", "vertices", "edges"}
_VERTEX_KEYS = {"id", "role", "activation"}
_EDGE_KEYS = {"id", "src", "dst", "kind", "backbone"}
_ID = re.compile(r"^[ve](0|[1-9][0-9]{0,9})$")

Shape = tuple[int, int, int]  # (channels, height, width)


class DNAError(ValueError):
    """A DNA (or its JSON) is malformed, hostile, or breaks a `Limits` bound."""


@dataclass(frozen=True)
class Limits:
    """Bounds that keep a genome buildable; mutations that would break them are redrawn."""

    max_vertices: int = 128
    max_edges: int = 512
    max_channels: int = 2048
    max_filter: int = 15
    max_stride_log2: int = 6
    max_channel_factor: float = 64.0
    min_learning_rate: float = 1e-9
    max_learning_rate: float = 1e3
    max_next_id: int = 2**31
    max_json_bytes: int = 1_000_000
    # Training memory of a child (weights, gradients, momentum, saved activations) for a
    # batch of `memory_batch`: a child that could not fit is refused (mutations redraw)
    # instead of crashing a GPU worker. Checked when an in_shape is given.
    max_memory_bytes: float = 8 * 2**30
    memory_batch: int = 50


DEFAULT_LIMITS = Limits()


def round_half_up(x: float) -> int:
    """Python's round() is banker's rounding; genes need a rule that does not flip at .5."""
    return math.floor(x + 0.5)


def nearest_odd(x: float) -> int:
    """Filter genes round to the nearest odd size >= 1 (docs/ALGORITHM.md §2)."""
    return max(1, 2 * round_half_up((x - 1) / 2) + 1)


@dataclass
class Vertex:
    id: str
    role: str = "hidden"
    activation: str = "linear"

    def to_json(self) -> dict[str, Any]:
        return {"id": self.id, "role": self.role, "activation": self.activation}


@dataclass
class Edge:
    """An identity or conv edge. Identity edges ignore the conv genes (kept at defaults)."""

    id: str
    src: str
    dst: str
    kind: str = "identity"
    backbone: bool = True
    channel_factor: float = 1.0
    filter_h: float = 3.0
    filter_w: float = 3.0
    stride_log2: float = 0.0

    @property
    def kernel(self) -> tuple[int, int]:
        return nearest_odd(self.filter_h), nearest_odd(self.filter_w)

    @property
    def stride(self) -> int:
        return 2 ** max(0, round_half_up(self.stride_log2))

    def out_shape(self, shape: Shape) -> Shape:
        """Shape after this edge: convs use "same" padding, so size is ceil(H / stride)."""
        if self.kind == "identity":
            return shape
        c, h, w = shape
        s = self.stride
        return max(1, round_half_up(c * self.channel_factor)), -(-h // s), -(-w // s)

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "id": self.id,
            "src": self.src,
            "dst": self.dst,
            "kind": self.kind,
            "backbone": self.backbone,
        }
        if self.kind == "conv":
            out.update({g: getattr(self, g) for g in CONV_GENES})
        return out


@dataclass
class DNA:
    vertices: list[Vertex] = field(default_factory=list)
    edges: list[Edge] = field(default_factory=list)
    learning_rate: float = 0.1
    next_id: int = 0

    @classmethod
    def initial(cls, learning_rate: float = 0.1) -> DNA:
        """input -> identity -> output: the deliberately bad start (ALGORITHM.md §1 [choice])."""
        return cls(
            vertices=[Vertex("v0", "input"), Vertex("v1", "output")],
            edges=[Edge("e2", "v0", "v1", "identity", True)],
            learning_rate=learning_rate,
            next_id=3,
        )

    # --- serialisation -------------------------------------------------------------

    def to_json(self) -> dict[str, Any]:
        return {
            "schema": SCHEMA_VERSION,
            "learning_rate": self.learning_rate,
            "next_id": self.next_id,
            "vertices": [v.to_json() for v in self.vertices],
            "edges": [e.to_json() for e in self.edges],
        }

    def to_json_text(self) -> str:
        return json.dumps(self.to_json(), allow_nan=False, separators=(",", ":"))

    @classmethod
    def from_json(
        cls, obj: Any, limits: Limits | None = None, in_shape: Shape | None = None
    ) -> DNA:
        """Parse and validate; anything malformed raises DNAError, never another type."""
        limits = limits or DEFAULT_LIMITS
        try:
            dna = _parse(obj, limits)
            dna.validate(limits, in_shape)
        except DNAError:
            raise
        except (TypeError, ValueError, KeyError, AttributeError, OverflowError) as exc:
            raise DNAError(f"malformed DNA: {exc.__class__.__name__}") from exc
        return dna

    @classmethod
    def from_json_text(
        cls, text: str | bytes, limits: Limits | None = None, in_shape: Shape | None = None
    ) -> DNA:
        """Like from_json, from a JSON string; refuses huge texts before parsing them."""
        limits = limits or DEFAULT_LIMITS
        if not isinstance(text, str | bytes):
            raise DNAError(f"DNA text must be str or bytes, not {type(text).__name__}")
        if len(text) > limits.max_json_bytes:
            raise DNAError(f"DNA JSON is {len(text)} bytes; the limit is {limits.max_json_bytes}")
        try:
            obj = json.loads(text, parse_constant=_reject_constant)
        except (ValueError, RecursionError) as exc:
            raise DNAError(f"DNA is not valid JSON: {str(exc)[:120]}") from None
        return cls.from_json(obj, limits, in_shape)

    def copy(self) -> DNA:
        return DNA(
            vertices=[replace(v) for v in self.vertices],
            edges=[replace(e) for e in self.edges],
            learning_rate=self.learning_rate,
            next_id=self.next_id,
        )

    # --- graph queries ----------------------------------------------------------------

    def vertex(self, vertex_id: str) -> Vertex:
        for v in self.vertices:
            if v.id == vertex_id:
                return v
        raise DNAError(f"no vertex {vertex_id!r}")

    def edge(self, edge_id: str) -> Edge:
        for e in self.edges:
            if e.id == edge_id:
                return e
        raise DNAError(f"no edge {edge_id!r}")

    def role_id(self, role: str) -> str:
        found = [v.id for v in self.vertices if v.role == role]
        if len(found) != 1:
            raise DNAError(f"DNA needs exactly one {role} vertex, found {len(found)}")
        return found[0]

    def in_edges(self, vertex_id: str) -> list[Edge]:
        """In-edges with the backbone (primary) one first (ALGORITHM.md §2: it has precedence)."""
        ins = [e for e in self.edges if e.dst == vertex_id]
        return sorted(ins, key=lambda e: not e.backbone)

    def backbone_edge_into(self, vertex_id: str) -> Edge:
        return next(e for e in self.edges if e.backbone and e.dst == vertex_id)

    def backbone_edge_out_of(self, vertex_id: str) -> Edge:
        return next(e for e in self.edges if e.backbone and e.src == vertex_id)

    def backbone_order(self) -> list[str]:
        """Vertex ids along the backbone chain, input first; also a topological order."""
        successor: dict[str, str] = {}
        for e in self.edges:
            if e.backbone:
                if e.src in successor:
                    raise DNAError(f"vertex {e.src} has more than one backbone out-edge")
                successor[e.src] = e.dst
        order = [self.role_id("input")]
        seen = set(order)
        while order[-1] in successor and len(order) <= len(self.vertices):
            nxt = successor[order[-1]]
            if nxt in seen:
                raise DNAError(f"backbone chain has a cycle at {nxt}")
            order.append(nxt)
            seen.add(nxt)
        if order[-1] != self.role_id("output") or len(order) != len(self.vertices):
            raise DNAError("backbone must be one chain from input through every vertex to output")
        return order

    def conv_edges(self) -> list[Edge]:
        return [e for e in self.edges if e.kind == "conv"]

    def skip_edges(self) -> list[Edge]:
        return [e for e in self.edges if not e.backbone]

    def new_id(self, prefix: str) -> str:
        """A fresh id; next_id only grows, so ids are never reused (docs/ALGORITHM.md §2)."""
        new = f"{prefix}{self.next_id}"
        self.next_id += 1
        return new

    # --- validation -------------------------------------------------------------------

    def validate(self, limits: Limits | None = None, in_shape: Shape | None = None) -> None:
        """Raise DNAError unless the genome is well formed (and fits `in_shape` if given)."""
        limits = limits or DEFAULT_LIMITS
        _check_sizes(self, limits)
        _check_ids(self, limits)
        for e in self.edges:
            _check_edge(e, limits)
        _check_topology(self)
        if in_shape is not None:
            for vid, (c, h, w) in shapes(self, in_shape).items():
                if c > limits.max_channels:
                    raise DNAError(f"vertex {vid} has {c} channels; limit {limits.max_channels}")
                if h < 1 or w < 1:
                    raise DNAError(f"vertex {vid} would be {h}x{w}")
            need = training_memory_bytes(self, in_shape, limits.memory_batch)
            if need > limits.max_memory_bytes:
                raise DNAError(
                    f"training would need about {need / 2**20:.0f} MiB for a batch of "
                    f"{limits.memory_batch}; limit {limits.max_memory_bytes / 2**20:.0f} MiB"
                )


def shapes(dna: DNA, in_shape: Shape) -> dict[str, Shape]:
    """(C, H, W) of every vertex: fixed by its backbone input alone (docs/ALGORITHM.md §2)."""
    c, h, w = _check_in_shape(in_shape)
    order = dna.backbone_order()
    primary = {e.dst: e for e in dna.edges if e.backbone}
    out: dict[str, Shape] = {order[0]: (c, h, w)}
    for vid in order[1:]:
        edge = primary[vid]
        out[vid] = edge.out_shape(out[edge.src])
    return out


def training_memory_bytes(dna: DNA, in_shape: Shape, batch: int) -> float:
    """A conservative estimate of a child's training memory in float32 bytes.

    Per image: each vertex output kept for backward about three times (sum, BN, ReLU) and each
    conv output once; per parameter: weight, gradient, momentum and the inherited copy.
    """
    sizes = shapes(dna, in_shape)
    activations = sum(3 * c * h * w for c, h, w in sizes.values())
    params = 0
    for edge in dna.conv_edges():
        c_out, h_out, w_out = edge.out_shape(sizes[edge.src])
        activations += c_out * h_out * w_out
        params += sizes[edge.src][0] * c_out * edge.kernel[0] * edge.kernel[1]
    return 4.0 * (batch * activations + 4 * params)


# --- parsing helpers (hostile input: check types before touching values) -----------


def _reject_constant(name: str) -> None:
    raise DNAError(f"DNA JSON must not contain {name}")


def _describe(value: Any) -> str:
    if isinstance(value, str):
        return repr(value[:40])
    if isinstance(value, bool | int | float) or value is None:
        return repr(value)[:40]
    return type(value).__name__


def _keys(obj: Any, required: set[str], what: str) -> dict[str, Any]:
    if not isinstance(obj, dict):
        raise DNAError(f"{what} must be an object, not {_describe(obj)}")
    keys = set(obj)
    if keys - required:
        extra = sorted(_describe(k) for k in keys - required)
        raise DNAError(f"{what} has unknown keys: {', '.join(extra[:5])}")
    if required - keys:
        raise DNAError(f"{what} is missing keys: {', '.join(sorted(required - keys))}")
    return obj


def _number(value: Any, what: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise DNAError(f"{what} must be a number, not {_describe(value)}")
    if isinstance(value, int) and abs(value) > 2**53:
        raise DNAError(f"{what} is absurdly large")
    number = float(value)
    if not math.isfinite(number):
        raise DNAError(f"{what} must be finite, not {number}")
    return number


def _string(value: Any, choices: tuple[str, ...] | None, what: str) -> str:
    if not isinstance(value, str):
        raise DNAError(f"{what} must be a string, not {_describe(value)}")
    if choices is not None and value not in choices:
        raise DNAError(f"{what} is {_describe(value)}; expected one of {', '.join(choices)}")
    return value


def _parse(obj: Any, limits: Limits) -> DNA:
    top = _keys(obj, _TOP_KEYS, "DNA")
    schema = top["schema"]
    if isinstance(schema, bool) or schema != SCHEMA_VERSION:
        raise DNAError(f"unsupported DNA schema {_describe(schema)}; expected {SCHEMA_VERSION}")
    next_id = top["next_id"]
    if isinstance(next_id, bool) or not isinstance(next_id, int):
        raise DNAError(f"next_id must be an integer, not {_describe(next_id)}")
    for name, cap in (("vertices", limits.max_vertices), ("edges", limits.max_edges)):
        if not isinstance(top[name], list):
            raise DNAError(f"{name} must be a list, not {_describe(top[name])}")
        if len(top[name]) > cap:
            raise DNAError(f"DNA has {len(top[name])} {name}; the limit is {cap}")
    return DNA(
        vertices=[_parse_vertex(v) for v in top["vertices"]],
        edges=[_parse_edge(e) for e in top["edges"]],
        learning_rate=_number(top["learning_rate"], "learning_rate"),
        next_id=next_id,
    )


def _parse_vertex(obj: Any) -> Vertex:
    v = _keys(obj, _VERTEX_KEYS, "vertex")
    return Vertex(
        id=_string(v["id"], None, "vertex id"),
        role=_string(v["role"], ROLES, "vertex role"),
        activation=_string(v["activation"], ACTIVATIONS, "vertex activation"),
    )


def _parse_edge(obj: Any) -> Edge:
    kind = _string(obj.get("kind") if isinstance(obj, dict) else None, EDGE_KINDS, "edge kind")
    e = _keys(obj, _EDGE_KEYS | (set(CONV_GENES) if kind == "conv" else set()), f"{kind} edge")
    if not isinstance(e["backbone"], bool):
        raise DNAError(f"edge backbone must be true or false, not {_describe(e['backbone'])}")
    edge = Edge(
        id=_string(e["id"], None, "edge id"),
        src=_string(e["src"], None, "edge src"),
        dst=_string(e["dst"], None, "edge dst"),
        kind=kind,
        backbone=e["backbone"],
    )
    if kind == "conv":
        for gene in CONV_GENES:
            setattr(edge, gene, _number(e[gene], f"edge {edge.id} {gene}"))
    return edge


# --- validation helpers ---------------------------------------------------------------


def _check_in_shape(in_shape: Any) -> Shape:
    ok = isinstance(in_shape, tuple | list) and len(in_shape) == 3
    if not ok or not all(isinstance(d, int) and not isinstance(d, bool) for d in in_shape):
        raise DNAError(f"in_shape must be (C, H, W) integers, not {in_shape!r}"[:120])
    if min(in_shape) < 1:
        raise DNAError(f"in_shape dimensions must be >= 1, not {tuple(in_shape)}")
    return tuple(in_shape)  # type: ignore[return-value]


def _check_sizes(dna: DNA, limits: Limits) -> None:
    if len(dna.vertices) > limits.max_vertices:
        raise DNAError(f"DNA has {len(dna.vertices)} vertices; limit {limits.max_vertices}")
    if len(dna.edges) > limits.max_edges:
        raise DNAError(f"DNA has {len(dna.edges)} edges; limit {limits.max_edges}")
    lr = _number(dna.learning_rate, "learning_rate")
    if lr <= 0:
        raise DNAError(f"learning_rate must be positive, not {lr}")
    if not limits.min_learning_rate <= lr <= limits.max_learning_rate:
        raise DNAError(
            f"learning_rate {lr} is outside [{limits.min_learning_rate}, "
            f"{limits.max_learning_rate}]"
        )
    if not 0 <= dna.next_id <= limits.max_next_id:
        raise DNAError(f"next_id {dna.next_id} is outside [0, {limits.max_next_id}]")


def _check_ids(dna: DNA, limits: Limits) -> None:
    seen: set[str] = set()
    items = [("v", v.id) for v in dna.vertices] + [("e", e.id) for e in dna.edges]
    for prefix, ident in items:
        if not _ID.match(ident) or ident[0] != prefix:
            raise DNAError(f"bad id {_describe(ident)}: expected {prefix}<number>")
        if ident in seen:
            raise DNAError(f"duplicate id {ident}")
        if int(ident[1:]) >= dna.next_id:
            raise DNAError(f"id {ident} is not below next_id {dna.next_id}")
        seen.add(ident)


def _check_edge(e: Edge, limits: Limits) -> None:
    if e.kind not in EDGE_KINDS:
        raise DNAError(f"edge {e.id} has unknown kind {_describe(e.kind)}")
    if e.src == e.dst:
        raise DNAError(f"edge {e.id} is a self-loop on {e.src}")
    if e.kind != "conv":
        return
    if not e.backbone:
        raise DNAError(f"edge {e.id}: skip edges must be identity edges")
    genes = {g: _number(getattr(e, g), f"edge {e.id} {g}") for g in CONV_GENES}
    if not 0 < genes["channel_factor"] <= limits.max_channel_factor:
        raise DNAError(f"edge {e.id} channel_factor must be in (0, {limits.max_channel_factor}]")
    for gene in ("filter_h", "filter_w"):
        if genes[gene] <= 0 or nearest_odd(genes[gene]) > limits.max_filter:
            raise DNAError(f"edge {e.id} {gene} must round to an odd size <= {limits.max_filter}")
    if genes["stride_log2"] < 0 or round_half_up(genes["stride_log2"]) > limits.max_stride_log2:
        raise DNAError(f"edge {e.id} stride_log2 must be in [0, {limits.max_stride_log2}]")


def _check_topology(dna: DNA) -> None:
    for v in dna.vertices:
        if v.role not in ROLES or v.activation not in ACTIVATIONS:
            raise DNAError(f"vertex {v.id} has a bad role or activation")
    ids = {v.id for v in dna.vertices}
    for e in dna.edges:
        if e.src not in ids or e.dst not in ids:
            raise DNAError(f"edge {e.id} is dangling: {e.src} -> {e.dst}")
    if sum(e.backbone for e in dna.edges) != len(dna.vertices) - 1:
        raise DNAError("every vertex but the input needs exactly one backbone in-edge")
    position = {vid: i for i, vid in enumerate(dna.backbone_order())}
    triples: set[tuple[str, str, str]] = set()
    for e in dna.edges:
        if position[e.src] >= position[e.dst]:
            raise DNAError(f"edge {e.id} goes backwards along the backbone (a cycle)")
        if (e.src, e.dst, e.kind) in triples:
            raise DNAError(f"duplicate {e.kind} edge {e.src} -> {e.dst}")
        triples.add((e.src, e.dst, e.kind))
    if dna.vertex(dna.role_id("input")).activation != "linear":
        raise DNAError("the input vertex must be linear")
