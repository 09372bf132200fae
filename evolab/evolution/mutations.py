"""The eleven mutations of docs/ALGORITHM.md §3, one per child, drawn uniformly.

A mutation that cannot apply (nothing to remove, a stride move that changes nothing, a
limit that would be broken for the dataset's input shape) is redrawn, as the paper says.
Every mutation works on a copy and records what changed, by gene id.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from typing import Any

from .dna import (
    ACTIVATIONS,
    DEFAULT_LIMITS,
    DNA,
    DNAError,
    Edge,
    Limits,
    Shape,
    Vertex,
    round_half_up,
    shapes,
)

MUTATIONS: tuple[str, ...] = (
    "ALTER-LEARNING-RATE",
    "IDENTITY",
    "RESET-WEIGHTS",
    "INSERT-CONVOLUTION",
    "REMOVE-CONVOLUTION",
    "ALTER-STRIDE",
    "ALTER-NUMBER-OF-CHANNELS",
    "FILTER-SIZE",
    "INSERT-ONE-TO-ONE",
    "ADD-SKIP",
    "REMOVE-SKIP",
)

# IDENTITY always applies, so redrawing ends quickly; this cap only guards against a bug.
_MAX_DRAWS = 1000


class InapplicableMutation(ValueError):
    """The named mutation cannot apply to this DNA (the caller redraws, docs/ALGORITHM.md §3)."""


@dataclass
class MutationRecord:
    name: str
    description: str
    inserted: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    modified: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, obj: dict[str, Any]) -> MutationRecord:
        return cls(**obj)


@dataclass
class Mutated:
    dna: DNA
    records: list[MutationRecord]
    reset_weights: bool

    @property
    def names(self) -> list[str]:
        return [r.name for r in self.records]

    @property
    def description(self) -> str:
        return "; then ".join(r.description for r in self.records)


@dataclass(frozen=True)
class _Context:
    in_shape: Shape | None
    limits: Limits | None


def mutate(
    dna: DNA,
    rng: random.Random,
    count: int = 1,
    in_shape: Shape | None = None,
    limits: Limits | None = None,
) -> Mutated:
    """Apply `count` uniformly drawn mutations in sequence (count > 1: the escape knob)."""
    if isinstance(count, bool) or not isinstance(count, int) or count < 1:
        raise ValueError(f"count must be a positive integer, not {count!r}")
    dna.validate(limits, in_shape)
    ctx = _Context(in_shape, limits)
    current, records = dna, []
    for _ in range(count):
        current, record = _mutate_once(current, rng, ctx)
        records.append(record)
    reset = any(r.name == "RESET-WEIGHTS" for r in records)
    return Mutated(current, records, reset)


def apply_mutation(
    dna: DNA,
    name: str,
    rng: random.Random,
    in_shape: Shape | None = None,
    limits: Limits | None = None,
) -> Mutated:
    """Apply one named mutation; raises InapplicableMutation where it cannot apply."""
    if name not in _OPERATORS:
        raise ValueError(f"unknown mutation {name!r}; expected one of {', '.join(MUTATIONS)}")
    dna.validate(limits, in_shape)
    child, record = _apply(dna, name, rng, _Context(in_shape, limits))
    return Mutated(child, [record], name == "RESET-WEIGHTS")


def random_dna(
    rng: random.Random,
    chain_length: int,
    in_shape: Shape | None = None,
    limits: Limits | None = None,
) -> DNA:
    """The random-search control: a fresh chain of mutations from the initial DNA."""
    if chain_length <= 0:
        return DNA.initial()
    return mutate(DNA.initial(), rng, chain_length, in_shape, limits).dna


def _mutate_once(dna: DNA, rng: random.Random, ctx: _Context) -> tuple[DNA, MutationRecord]:
    for _ in range(_MAX_DRAWS):
        name = rng.choice(MUTATIONS)
        try:
            return _apply(dna, name, rng, ctx)
        except InapplicableMutation:
            continue  # docs/ALGORITHM.md §3: draw another
    return _apply(dna, "IDENTITY", rng, ctx)


def _apply(dna: DNA, name: str, rng: random.Random, ctx: _Context) -> tuple[DNA, MutationRecord]:
    child = dna.copy()
    record = _OPERATORS[name](child, rng, ctx)
    try:
        child.validate(ctx.limits, ctx.in_shape)
    except DNAError as exc:
        raise InapplicableMutation(f"{name} would break a limit: {exc}") from exc
    return child, record


# --- the operators: each mutates `dna` (a private copy) in place ------------------------


def _alter_learning_rate(dna: DNA, rng: random.Random, ctx: _Context) -> MutationRecord:
    old = dna.learning_rate
    dna.learning_rate = old * 2 ** rng.uniform(-1.0, 1.0)  # log-uniform in [0.5, 2] [paper]
    text = f"learning rate {old:.4g} -> {dna.learning_rate:.4g}"
    return MutationRecord("ALTER-LEARNING-RATE", text)


def _identity(dna: DNA, rng: random.Random, ctx: _Context) -> MutationRecord:
    return MutationRecord("IDENTITY", "no change: keep training with all weights inherited")


def _reset_weights(dna: DNA, rng: random.Random, ctx: _Context) -> MutationRecord:
    return MutationRecord("RESET-WEIGHTS", "same architecture; every weight re-initialised")


def _insert(dna: DNA, rng: random.Random, conv: bool) -> MutationRecord:
    """New vertex w on backbone edge u->v: a new edge u->w; the old edge, id kept, runs w->v.

    Keeping the old edge's id keeps its weights inheritable (docs/ALGORITHM.md §4).
    """
    old = rng.choice([e for e in dna.edges if e.backbone])
    u, v = old.src, old.dst
    vertex = Vertex(dna.new_id("v"), "hidden", rng.choice(ACTIVATIONS))
    new = Edge(dna.new_id("e"), u, vertex.id, "conv" if conv else "identity", True)
    if conv:  # 3x3, stride 1 or 2, as many channels as its input [paper]
        new.stride_log2 = float(rng.choice((0, 1)))
    old.src = vertex.id
    dna.vertices.insert(dna.vertices.index(dna.vertex(v)), vertex)
    dna.edges.insert(dna.edges.index(old), new)
    what = f"3x3 conv {new.id} (stride {new.stride})" if conv else f"identity {new.id}"
    return MutationRecord(
        "INSERT-CONVOLUTION" if conv else "INSERT-ONE-TO-ONE",
        f"inserted {what} after {u}; new vertex {vertex.id} ({vertex.activation}); "
        f"{old.id} now runs {vertex.id} -> {v}",
        inserted=[vertex.id, new.id],
        modified=[old.id],
    )


def _insert_convolution(dna: DNA, rng: random.Random, ctx: _Context) -> MutationRecord:
    return _insert(dna, rng, conv=True)


def _insert_one_to_one(dna: DNA, rng: random.Random, ctx: _Context) -> MutationRecord:
    return _insert(dna, rng, conv=False)


def _remove_convolution(dna: DNA, rng: random.Random, ctx: _Context) -> MutationRecord:
    """Remove backbone conv u->w and vertex w; w's backbone out-edge then starts at u."""
    hidden = {v.id for v in dna.vertices if v.role == "hidden"}
    options = [e for e in dna.edges if e.backbone and e.kind == "conv" and e.dst in hidden]
    if not options:
        raise InapplicableMutation("no backbone convolution into a hidden vertex")
    conv = rng.choice(options)
    u, w = conv.src, conv.dst
    out = dna.backbone_edge_out_of(w)
    out.src = u
    dropped = [e for e in dna.skip_edges() if w in (e.src, e.dst)]
    # A skip u->x parallel to an identity backbone u->x would now be a duplicate.
    dropped += [
        e
        for e in dna.skip_edges()
        if (e.src, e.dst, e.kind) == (u, out.dst, out.kind) and e not in dropped
    ]
    gone = {conv.id, *(e.id for e in dropped)}
    dna.edges = [e for e in dna.edges if e.id not in gone]
    dna.vertices = [v for v in dna.vertices if v.id != w]
    text = f"removed conv {conv.id} and vertex {w}; {out.id} now runs {u} -> {out.dst}"
    if dropped:
        text += f"; dropped skips {', '.join(e.id for e in dropped)}"
    removed = [conv.id, w, *(e.id for e in dropped)]
    return MutationRecord("REMOVE-CONVOLUTION", text, removed=removed, modified=[out.id])


def _alter_stride(dna: DNA, rng: random.Random, ctx: _Context) -> MutationRecord:
    """+-1 on the log2 scale, never below stride 1 (docs/ALGORITHM.md §3 [choice])."""
    sizes = shapes(dna, ctx.in_shape) if ctx.in_shape is not None else None
    top = (ctx.limits or DEFAULT_LIMITS).max_stride_log2
    options = []
    for edge in dna.conv_edges():
        for step in (-1, 1):
            moved = replace(edge, stride_log2=edge.stride_log2 + step)
            if moved.stride_log2 < 0 or round_half_up(moved.stride_log2) > top:
                continue
            # A move that leaves every tensor's size as it was changes nothing: skip it.
            if sizes and moved.out_shape(sizes[edge.src]) == edge.out_shape(sizes[edge.src]):
                continue
            options.append((edge, step))
    if not options:
        raise InapplicableMutation("no convolution whose stride can change anything")
    edge, step = rng.choice(options)
    old = edge.stride
    edge.stride_log2 += step
    text = f"stride of conv {edge.id}: {old} -> {edge.stride}"
    return MutationRecord("ALTER-STRIDE", text, modified=[edge.id])


def _random_conv(dna: DNA, rng: random.Random) -> Edge:
    convs = dna.conv_edges()
    if not convs:
        raise InapplicableMutation("no convolution to alter")
    return rng.choice(convs)


def _alter_number_of_channels(dna: DNA, rng: random.Random, ctx: _Context) -> MutationRecord:
    """Half to twice [paper]. Channel genes are factors relative to the conv's input
    (docs/ALGORITHM.md §2), so every later width scales with this one and the layers whose shapes
    change are re-initialised (§4). That compounding is how networks get wide: an earlier
    version kept later widths fixed to save their weights, and its models stayed at a few
    hundred parameters (digits: 97% validation instead of 99.8% after 5 min; bench/README.md).
    """
    edge = _random_conv(dna, rng)
    old = edge.channel_factor
    edge.channel_factor = old * rng.uniform(0.5, 2.0)
    text = f"channel factor of conv {edge.id}: {old:.3g} -> {edge.channel_factor:.3g}"
    if ctx.in_shape is not None:
        src_shape = shapes(dna, ctx.in_shape)[edge.src]
        was = replace(edge, channel_factor=old).out_shape(src_shape)[0]
        text += f" ({was} -> {edge.out_shape(src_shape)[0]} channels)"
    return MutationRecord("ALTER-NUMBER-OF-CHANNELS", text, modified=[edge.id])


def _filter_size(dna: DNA, rng: random.Random, ctx: _Context) -> MutationRecord:
    edge = _random_conv(dna, rng)
    gene = rng.choice(("filter_h", "filter_w"))
    old = edge.kernel
    setattr(edge, gene, getattr(edge, gene) * rng.uniform(0.5, 2.0))  # odd at build time
    new = edge.kernel
    text = f"filter of conv {edge.id}: {old[0]}x{old[1]} -> {new[0]}x{new[1]} ({gene} gene)"
    return MutationRecord("FILTER-SIZE", text, modified=[edge.id])


def _add_skip(dna: DNA, rng: random.Random, ctx: _Context) -> MutationRecord:
    """Identity edge forward along the backbone: no cycles, no duplicates [paper]."""
    order = dna.backbone_order()
    taken = {(e.src, e.dst) for e in dna.edges if e.kind == "identity"}
    pairs = [(a, b) for i, a in enumerate(order) for b in order[i + 1 :] if (a, b) not in taken]
    if not pairs:
        raise InapplicableMutation("every forward identity connection already exists")
    src, dst = rng.choice(pairs)
    edge = Edge(dna.new_id("e"), src, dst, "identity", backbone=False)
    dna.edges.append(edge)
    return MutationRecord("ADD-SKIP", f"added skip {edge.id}: {src} -> {dst}", inserted=[edge.id])


def _remove_skip(dna: DNA, rng: random.Random, ctx: _Context) -> MutationRecord:
    skips = dna.skip_edges()
    if not skips:
        raise InapplicableMutation("no skip connection to remove")
    edge = rng.choice(skips)
    dna.edges.remove(edge)
    text = f"removed skip {edge.id}: {edge.src} -> {edge.dst}"
    return MutationRecord("REMOVE-SKIP", text, removed=[edge.id])


_OPERATORS: dict[str, Callable[[DNA, random.Random, _Context], MutationRecord]] = {
    "ALTER-LEARNING-RATE": _alter_learning_rate,
    "IDENTITY": _identity,
    "RESET-WEIGHTS": _reset_weights,
    "INSERT-CONVOLUTION": _insert_convolution,
    "REMOVE-CONVOLUTION": _remove_convolution,
    "ALTER-STRIDE": _alter_stride,
    "ALTER-NUMBER-OF-CHANNELS": _alter_number_of_channels,
    "FILTER-SIZE": _filter_size,
    "INSERT-ONE-TO-ONE": _insert_one_to_one,
    "ADD-SKIP": _add_skip,
    "REMOVE-SKIP": _remove_skip,
}
assert tuple(_OPERATORS) == MUTATIONS
