"""DNA -> torch.nn.Module (ALGORITHM.md §2) and weight inheritance by gene id (ALGORITHM.md §4).

Everything that depends on the graph (order, shapes, how each input is reshaped) is
resolved once at build time into a list of steps; forward() only walks that list.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .dna import DNA, Edge, Limits, Shape, shapes

BN_MOMENTUM = 0.1  # PyTorch's name for the paper's decay 0.9 (docs/ALGORITHM.md §2)


@dataclass(frozen=True)
class Reshape:
    """How one non-primary input is made to match its vertex (docs/ALGORITHM.md §2).

    Zeroth-order interpolation for size (strided subsampling, or nearest neighbour when
    that cannot hit the size exactly, e.g. upsampling) and truncation or zero padding
    for channels.
    """

    channels: tuple[int, int]  # (have, want)
    step: tuple[int, int] | None  # slicing step per spatial dim, when slicing is exact
    size: tuple[int, int] | None  # target (H, W) for nearest-neighbour interpolation

    @classmethod
    def between(cls, have: Shape, want: Shape) -> Reshape | None:
        if have == want:
            return None
        steps = [_exact_step(h, w) for h, w in zip(have[1:], want[1:], strict=True)]
        if all(s is not None for s in steps):
            step = None if steps == [1, 1] else (steps[0], steps[1])
            return cls((have[0], want[0]), step, None)
        return cls((have[0], want[0]), None, (want[1], want[2]))

    def __call__(self, x: Tensor) -> Tensor:
        have, want = self.channels
        if have > want:
            x = x[:, :want]
        if self.step is not None:
            x = x[:, :, :: self.step[0], :: self.step[1]]
        elif self.size is not None:
            x = F.interpolate(x, size=self.size, mode="nearest")
        if have < want:
            x = F.pad(x, (0, 0, 0, 0, 0, want - have))
        return x


def _exact_step(have: int, want: int) -> int | None:
    """The smallest slicing step that takes `have` samples to exactly `want`, if any.

    Powers of two come first so that a skip over strided convs samples the same pixels
    those convs centre on.
    """
    if want > have:
        return None
    for step in [2**k for k in range(have.bit_length() + 1)] + list(range(1, have + 1)):
        if -(-have // step) == want:
            return step
    return None


def match_shape(x: Tensor, shape: Shape) -> Tensor:
    """Reshape a (B, C, H, W) tensor to (B, *shape) the way vertices reshape inputs."""
    plan = Reshape.between(tuple(x.shape[1:]), tuple(shape))  # type: ignore[arg-type]
    return x if plan is None else plan(x)


@dataclass(frozen=True)
class _Input:
    src: int  # index of the source vertex in the step list (0 = network input)
    conv: str | None  # key in Network.convs
    reshape: Reshape | None


@dataclass(frozen=True)
class _Step:
    vertex: str
    inputs: tuple[_Input, ...]  # primary (backbone) input first
    bn: str | None  # key in Network.bns, for bn_relu vertices
    release: tuple[int, ...] = field(default=())  # outputs no later step reads


class Network(nn.Module):
    """A classifier built from DNA; state-dict keys name the genes (docs/ALGORITHM.md §4)."""

    def __init__(
        self, dna: DNA, in_shape: Shape, num_classes: int, limits: Limits | None = None
    ) -> None:
        super().__init__()
        if num_classes < 1:
            raise ValueError(f"num_classes must be >= 1, not {num_classes}")
        dna.validate(limits, in_shape)
        self.dna = dna.copy()
        self.in_shape = tuple(in_shape)
        self.num_classes = num_classes
        self.vertex_shapes = shapes(dna, in_shape)
        self.convs = nn.ModuleDict()
        self.bns = nn.ModuleDict()
        self._steps = self._plan(dna)
        out_channels = self.vertex_shapes[dna.role_id("output")][0]
        self.head = nn.Linear(out_channels, num_classes)
        self._init_weights(dna)

    def _plan(self, dna: DNA) -> tuple[_Step, ...]:
        order = dna.backbone_order()
        index = {vid: i for i, vid in enumerate(order)}
        steps = []
        for vid in order[1:]:
            inputs = tuple(self._input(edge, index) for edge in dna.in_edges(vid))
            bn = None
            if dna.vertex(vid).activation == "bn_relu":
                self.bns[vid] = nn.BatchNorm2d(self.vertex_shapes[vid][0], momentum=BN_MOMENTUM)
                bn = vid
            steps.append(_Step(vid, inputs, bn))
        return _with_releases(steps)

    def _input(self, edge: Edge, index: dict[str, int]) -> _Input:
        src_shape = self.vertex_shapes[edge.src]
        arriving = edge.out_shape(src_shape)
        conv = None
        if edge.kind == "conv":
            kh, kw = edge.kernel
            self.convs[edge.id] = nn.Conv2d(
                src_shape[0], arriving[0], (kh, kw), stride=edge.stride,
                padding=((kh - 1) // 2, (kw - 1) // 2), bias=False,
            )  # fmt: skip
            conv = edge.id
        reshape = None if edge.backbone else Reshape.between(arriving, self.vertex_shapes[edge.dst])
        return _Input(index[edge.src], conv, reshape)

    def _init_weights(self, dna: DNA) -> None:
        """He normal, scaled by 1/sqrt(#inputs of the destination) (ALGORITHM.md §2 [choice])."""
        fan_in = {v.id: len(dna.in_edges(v.id)) for v in dna.vertices}
        for edge_id, conv in self.convs.items():
            nn.init.kaiming_normal_(conv.weight, mode="fan_in", nonlinearity="relu")
            with torch.no_grad():
                conv.weight.mul_(1.0 / math.sqrt(fan_in[dna.edge(edge_id).dst]))

    def forward(self, x: Tensor) -> Tensor:
        output = self._run(x, keep=False)[-1]
        return self.head(output.mean(dim=(2, 3)))  # global average pool, then linear

    def vertex_outputs(self, x: Tensor) -> dict[str, Tensor]:
        """Every vertex's activation (input included), for inspection and tests."""
        outputs = self._run(x, keep=True)
        names = [self.dna.role_id("input")] + [s.vertex for s in self._steps]
        return dict(zip(names, outputs, strict=True))

    def _run(self, x: Tensor, keep: bool) -> list[Tensor | None]:
        outputs: list[Tensor | None] = [x]
        for step in self._steps:
            total = None
            for inp in step.inputs:
                y = outputs[inp.src]
                if inp.conv is not None:
                    y = self.convs[inp.conv](y)
                if inp.reshape is not None:
                    y = inp.reshape(y)
                total = (
                    y if total is None else total + y
                )  # docs/ALGORITHM.md §2: sum, then activate
            if step.bn is not None:
                total = F.relu(self.bns[step.bn](total))
            outputs.append(total)
            if not keep:
                for i in step.release:
                    outputs[i] = None  # free activations early on deep genomes
        return outputs


def _with_releases(steps: list[_Step]) -> tuple[_Step, ...]:
    """Attach to each step the outputs it reads for the last time."""
    last_use: dict[int, int] = {}
    for position, step in enumerate(steps):
        for inp in step.inputs:
            last_use[inp.src] = position
    releases: dict[int, list[int]] = {}
    for src, position in last_use.items():
        releases.setdefault(position, []).append(src)
    return tuple(
        _Step(s.vertex, s.inputs, s.bn, tuple(sorted(releases.get(i, []))))
        for i, s in enumerate(steps)
    )


def build_network(
    dna: DNA, in_shape: Shape, num_classes: int, limits: Limits | None = None
) -> Network:
    """Validate `dna` for `in_shape` (DNAError otherwise) and build its network."""
    return Network(dna, in_shape, num_classes, limits)


@dataclass
class InheritReport:
    inherited: list[str]
    initialised: list[str]


def inherit_weights(child: nn.Module, parent_state: dict[str, Tensor]) -> InheritReport:
    """Copy every parent tensor whose key (gene id) and shape match (docs/ALGORITHM.md §4).

    Includes BN running statistics. A BN's scalar num_batches_tracked always matches in
    shape, so it follows its running_mean: a layer whose statistics are reset starts
    counting again.
    """
    inherited, initialised = [], []
    child_state = child.state_dict()
    with torch.no_grad():
        for key, tensor in child_state.items():
            if _fits(key, child_state, parent_state):
                tensor.copy_(parent_state[key])
                inherited.append(key)
            else:
                initialised.append(key)
    return InheritReport(inherited, initialised)


def _fits(key: str, child_state: dict[str, Tensor], parent_state: dict[str, Tensor]) -> bool:
    if key.endswith(".num_batches_tracked"):
        sibling = key.removesuffix("num_batches_tracked") + "running_mean"
        if sibling in child_state and not _fits(sibling, child_state, parent_state):
            return False
    source = parent_state.get(key)
    return source is not None and tuple(source.shape) == tuple(child_state[key].shape)
