"""Train one child and measure its fitness (docs/ALGORITHM.md §5).

The data lives on the device as uint8 for the whole run; a batch is an index gather
with a seeded generator, normalised (and, for 32x32 sets, augmented) on the device in
one go for a chunk of steps. No DataLoader, no PIL, no per-sample Python: the children
of early generations are tiny, so per-step overhead, not arithmetic, is the cost.

SGD with momentum 0.9, weight decay 1e-4 on conv and linear weights only, batch 50,
cross-entropy, a constant learning rate taken from the DNA, a fixed number of steps
(not epochs: docs/ALGORITHM.md §8).
"""

from __future__ import annotations

import contextlib
import functools
import logging
import math
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Protocol

import torch
import torch.nn.functional as F
from torch import nn

from evolab.datasets import Dataset
from evolab.environment import TrainingOptions

from .loss_curve import LossCurve

MOMENTUM = 0.9
WEIGHT_DECAY = 1e-4
BATCH_SIZE = 50
EVAL_CHUNK = 1000
AUGMENT_PAD = 4
# Batches for this many images are gathered and normalised at once: one big tensor op
# instead of `chunk` small ones.
GATHER_IMAGES = 16_384
PROGRESS_INTERVAL_S = 0.5
# On CUDA, reading the loss forces a sync; look at it only every few steps there.
CUDA_NAN_CHECK_EVERY = 32

log = logging.getLogger(__name__)


class Progress(Protocol):
    """Told how a child's training goes, about twice a second; answers whether to go on
    (False: the run's lease on the child was lost, so its result would be refused)."""

    def progress(self, step: int, loss: float | None) -> bool: ...


@dataclass(frozen=True)
class TrainStats:
    steps: int
    final_loss: float
    seconds: float
    diverged: bool
    stopped: bool = False  # its Progress said stop (the lease on the child was lost)
    loss_curve: tuple[tuple[int, float], ...] = ()  # at most 100 (step, mean loss) pairs

    @property
    def steps_per_s(self) -> float:
        return self.steps / self.seconds if self.seconds > 0 else 0.0


def pick_device(preference: str = "auto") -> torch.device:
    """`auto` -> CUDA when present, else CPU; an explicit `cuda` without a GPU falls
    back to CPU rather than failing (a worker must run anywhere)."""
    if preference in ("auto", "cuda") or preference.startswith("cuda:"):
        if torch.cuda.is_available():
            return torch.device("cuda" if preference == "auto" else preference)
        return torch.device("cpu")
    return torch.device(preference)


def param_groups(model: nn.Module, weight_decay: float = WEIGHT_DECAY) -> list[dict]:
    """Weight decay on conv and linear weights only; BN scales/shifts and biases (the
    1-D parameters) get none (docs/ALGORITHM.md §5; the mistake list names decay confusions)."""
    decay, no_decay = [], []
    for param in model.parameters():
        if param.requires_grad:
            (decay if param.ndim >= 2 else no_decay).append(param)
    return [
        {"params": decay, "weight_decay": weight_decay},
        {"params": no_decay, "weight_decay": 0.0},
    ]


def _normaliser(data: Dataset, device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
    """(scale, shift) so that x_uint8 * scale - shift == (x / 255 - mean) / std."""
    mean = torch.tensor(data.mean, dtype=torch.float32, device=device).view(1, -1, 1, 1)
    std = torch.tensor(data.std, dtype=torch.float32, device=device).view(1, -1, 1, 1)
    return 1.0 / (255.0 * std), mean / std


def normalise(x: torch.Tensor, data: Dataset) -> torch.Tensor:
    """uint8 (N,C,H,W) -> float32, per-channel normalised with the train statistics."""
    scale, shift = _normaliser(data, x.device)
    return x.float().mul_(scale).sub_(shift)


def augment_batch(
    x: torch.Tensor, generator: torch.Generator, pad: int = AUGMENT_PAD
) -> torch.Tensor:
    """He et al. 2016 augmentation in one gather: zero-pad by `pad` (zero is the mean
    after normalisation), random HxW crop, random horizontal flip (docs/ALGORITHM.md §5)."""
    b, _, h, w = x.shape
    dev = x.device
    padded = F.pad(x, (pad, pad, pad, pad))
    oy = torch.randint(0, 2 * pad + 1, (b, 1), generator=generator, device=dev)
    ox = torch.randint(0, 2 * pad + 1, (b, 1), generator=generator, device=dev)
    flip = torch.rand((b, 1), generator=generator, device=dev) < 0.5
    rows = oy + torch.arange(h, device=dev)
    across = torch.arange(w, device=dev)
    cols = ox + torch.where(flip, w - 1 - across, across)
    batch = torch.arange(b, device=dev)[:, None, None]
    # Advanced indices around a slice put the indexed dims first: (B, H, W, C).
    out = padded[batch, :, rows[:, :, None], cols[:, None, :]]
    return out.permute(0, 3, 1, 2).contiguous()


def _batches(
    data: Dataset, steps: int, batch_size: int, generator: torch.Generator
) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
    """Yield (x, y) for `steps` steps, sampled with replacement by index gather."""
    device = data.train_x.device
    scale, shift = _normaliser(data, device)
    per_chunk = max(1, GATHER_IMAGES // batch_size)
    for start in range(0, steps, per_chunk):
        n = min(per_chunk, steps - start)
        idx = torch.randint(
            0, len(data.train_x), (n * batch_size,), generator=generator, device=device
        )
        xs = data.train_x[idx].float().mul_(scale).sub_(shift)
        if data.augment:
            xs = augment_batch(xs, generator)
        ys = data.train_y[idx]
        yield from zip(xs.split(batch_size), ys.split(batch_size), strict=True)


# CPU bf16: on a CPU with native bf16 (AVX512-BF16 or AMX), bf16 autocast + channels_last
# trains convolution-heavy children about 2x faster; tiny ones get slower (the casts cost more
# than the maths). Break-even measured on a 2-core AVX512-BF16 EPYC (bench/README.md): 0.82x
# for the linear initial model, 1.03x at 0.6 MFLOPs/image, 1.44x at 47 MFLOPs/image on digits,
# ~2x for 32x32x3 children of 10+ convs. EVOLAB_CPU_BF16=on|off overrides "auto".
CPU_BF16_MIN_FLOPS = 5_000_000  # forward FLOPs per image


@functools.cache
def cpu_has_native_bf16() -> bool:
    """AVX512-BF16 or AMX (private torch probes: absent ones count as no)."""
    checks = ("_is_avx512_bf16_supported", "_is_amx_tile_supported")
    return any(getattr(torch.cpu, name, lambda: False)() for name in checks)


def use_reduced_precision(
    device: torch.device, flops_per_image: int | None = None, forced: bool | None = None
) -> bool:
    """bf16 autocast + channels_last for this child? Always on CUDA; on CPU only where it
    measured faster (native bf16 and a child big enough), unless `forced` (EVOLAB_CPU_BF16,
    in TrainingOptions) says."""
    if device.type == "cuda":
        return True
    if device.type != "cpu":
        return False
    if forced is not None:
        return forced
    return bool(flops_per_image) and flops_per_image >= CPU_BF16_MIN_FLOPS and cpu_has_native_bf16()


def _autocast(device: torch.device, reduced: bool) -> contextlib.AbstractContextManager:
    # No weight-cast cache: each weight is used once per forward, and a CUDA graph
    # capture must not keep cached casts from outside it.
    if reduced:
        return torch.autocast(device.type, dtype=torch.bfloat16, cache_enabled=False)
    return contextlib.nullcontext()


def _prepare(model: nn.Module, device: torch.device, reduced: bool) -> nn.Module:
    model.to(device)
    if reduced:
        model.to(memory_format=torch.channels_last)
    return model


def _input_layout(x: torch.Tensor, reduced: bool) -> torch.Tensor:
    if reduced:
        return x.contiguous(memory_format=torch.channels_last)
    return x


# CUDA graphs: on a GPU a small child's step is a few hundred kernel launches of a few
# microseconds each, so the CPU that launches them, not the GPU, sets the pace. A child
# trained for many steps captures its whole SGD step (forward, backward, update) once, after
# a few eager warm-up steps, and replays it: one launch per step. Capturing costs a few
# steps' time, so short children stay eager. Measured on an H100 (bench/gpu.py,
# bench/RESULTS-gpu.md): steps 2-7.4x faster for a capture of 4-40 ms, break-even at 3-32
# steps over three runs; GRAPH_MIN_STEPS leaves room above that. EVOLAB_CUDA_GRAPHS=on|off
# overrides "auto".
GRAPH_WARMUP_STEPS = 3
GRAPH_MIN_STEPS = 50


def use_step_graph(device: torch.device, steps: int, forced: bool | None = None) -> bool:
    """Capture this child's step in a CUDA graph? Only on CUDA, and by default only when
    the planned steps pay for the capture (`forced`: EVOLAB_CUDA_GRAPHS, in TrainingOptions)."""
    if device.type != "cuda" or steps <= GRAPH_WARMUP_STEPS:
        return False
    return steps >= GRAPH_MIN_STEPS if forced is None else forced


class _EagerStep:
    """One SGD step on a batch; returns the loss tensor (not synchronised)."""

    def __init__(
        self, model: nn.Module, optimizer: torch.optim.Optimizer, device: torch.device,
        reduced: bool,
    ) -> None:  # fmt: skip
        self.model, self.optimizer = model, optimizer
        self.device, self.reduced = device, reduced

    def __call__(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        with _autocast(self.device, self.reduced):
            loss = F.cross_entropy(self.model(_input_layout(x, self.reduced)), y)
        # set_to_none: the backward writes fresh gradients rather than adding to old ones,
        # which is also what a captured backward does on every replay.
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        self.optimizer.step()
        # Detached: a loss kept by the caller must not keep this step's autograd nodes alive
        # into the next one (on CUDA they would then straddle the warm-up and capture streams).
        return loss.detach()


@functools.cache
def _side_stream(device: torch.device) -> torch.cuda.Stream:
    """One warm-up and capture stream per process and GPU. A new stream per child would
    cost memory for good: cuBLAS keeps a workspace for every stream it has run on (measured
    on an H100: ~2 GiB held after a few dozen children, bench/gpu.py)."""
    return torch.cuda.Stream(device=device)


def _cuda_graph(step: Callable[[], torch.Tensor], device: torch.device) -> Callable:
    """Capture `step` (which reads static tensors) once; return a replay."""
    graph = torch.cuda.CUDAGraph()
    with torch.cuda.graph(graph, stream=_side_stream(device)):
        out = step()

    def replay() -> torch.Tensor:
        graph.replay()
        return out

    return replay


class _GraphedStep:
    """The step of `_EagerStep`, captured after GRAPH_WARMUP_STEPS eager steps.

    The warm-up steps are real training steps (they count). They run on a side stream, as
    capture requires, and let cuDNN pick its algorithms and SGD create its momentum
    buffers. The next batch is copied into static tensors, the step is captured (capture
    runs nothing) and replayed for that batch; every later batch is copied in and replayed.
    `capture` is `_cuda_graph`; tests on a machine without a GPU put one in its place that
    re-runs the step, which exercises everything here but the graph itself.

    A step that cannot be captured (an op that synchronises, say) is logged and the child
    trains on eagerly: capture runs nothing, so the weights and the momentum are untouched.
    """

    def __init__(self, eager: _EagerStep, capture: Callable | None = None) -> None:
        self.eager = eager
        self.capture = capture if capture is not None else _cuda_graph
        self.warmed = 0
        self.replay: Callable[[], torch.Tensor] | None = None
        self.static: tuple[torch.Tensor, torch.Tensor] | None = None
        self.failed = False

    def __call__(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        if self.replay is not None:
            self.static[0].copy_(x)
            self.static[1].copy_(y)
            return self.replay()
        if self.failed:
            return self.eager(x, y)
        if self.warmed < GRAPH_WARMUP_STEPS:
            self.warmed += 1
            return self._on_side_stream(x, y)
        self.static = (x.clone(), y.clone())
        try:
            self.replay = self.capture(lambda: self.eager(*self.static), self.eager.device)
        except RuntimeError as exc:
            log.warning("CUDA graph capture failed, training this child eagerly: %s", exc)
            self.failed, self.static = True, None
            return self.eager(x, y)
        return self.replay()

    def _on_side_stream(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        if self.eager.device.type != "cuda":
            return self.eager(x, y)
        side, main = _side_stream(self.eager.device), torch.cuda.current_stream()
        side.wait_stream(main)
        with torch.cuda.stream(side):
            loss = self.eager(x, y)
        main.wait_stream(side)
        return loss


def train_child(
    model: nn.Module,
    data: Dataset,
    learning_rate: float,
    steps: int,
    batch_size: int = BATCH_SIZE,
    seed: int = 0,
    device: torch.device | None = None,
    progress: Progress | None = None,
    flops_per_image: int | None = None,
    reduced: bool | None = None,
    graph: bool | None = None,
    options: TrainingOptions = TrainingOptions(),
) -> TrainStats:
    """Train `model` in place for `steps` SGD steps at a constant `learning_rate`.

    `flops_per_image` (forward) lets a CPU pick bf16 for large children
    (`use_reduced_precision`); without it a CPU trains in fp32. `reduced` (bf16 autocast
    and channels_last) and `graph` (capture the step in a CUDA graph) override the
    automatic choices (`use_reduced_precision`, `use_step_graph`); benches compare them.

    `progress.progress(step, loss)` is called about twice a second and once at the end; when
    it answers False training stops and returns `stopped=True`.

    A non-finite loss stops training and returns `diverged=True` (the caller gives
    the child fitness 0); it never raises. Thread settings are the caller's business.
    """
    device = device or data.device
    if data.device != device:
        data = data.to(device)
    if reduced is None:
        reduced = use_reduced_precision(device, flops_per_image, options.cpu_bf16)
    model = _prepare(model, device, reduced).train()
    optimizer = torch.optim.SGD(
        param_groups(model), lr=learning_rate, momentum=MOMENTUM, foreach=True
    )
    if graph is None:
        graph = use_step_graph(device, steps, options.cuda_graphs)
    sgd_step = _EagerStep(model, optimizer, device, reduced)
    if graph:
        sgd_step = _GraphedStep(sgd_step)
    generator = torch.Generator(device=device).manual_seed(seed)
    check_every = CUDA_NAN_CHECK_EVERY if device.type == "cuda" else 1
    started = last_report = time.monotonic()
    loss_value, done, diverged, stopped = float("nan"), 0, False, False
    curve = LossCurve(steps)
    for step, (x, y) in enumerate(_batches(data, steps, batch_size, generator), start=1):
        loss = sgd_step(x, y)
        done = step
        if step % check_every == 0 or step == steps:
            loss_value = loss.item()
            if not math.isfinite(loss_value):
                diverged = True
                break
            curve.add(step, loss_value)
        if progress is not None and time.monotonic() - last_report >= PROGRESS_INTERVAL_S:
            last_report = time.monotonic()
            if not progress.progress(step, loss.item()):
                stopped = True
                break
    if progress is not None and not stopped:
        stopped = not progress.progress(done, loss_value)
    seconds = time.monotonic() - started
    return TrainStats(done, loss_value, seconds, diverged, stopped, curve.finish())


def predict(
    model: nn.Module,
    x: torch.Tensor,
    data: Dataset,
    chunk: int = EVAL_CHUNK,
    reduced: bool | None = None,
) -> torch.Tensor:
    """Logits (float32, on the data's device) for uint8 images, eval mode, no grad.
    bf16 autocast on CUDA unless `reduced=False`; fitness on a CPU is measured in fp32."""
    was_training = model.training
    model.eval()
    device = x.device
    if reduced is None:
        reduced = device.type == "cuda"
    outputs = []
    try:
        with torch.inference_mode(), _autocast(device, reduced):
            for part in x.split(chunk):
                outputs.append(model(_input_layout(normalise(part, data), reduced)).float())
    finally:
        model.train(was_training)
    if not outputs:
        return torch.empty((0, data.num_classes), device=device)
    return torch.cat(outputs)


def evaluate(
    model: nn.Module,
    x: torch.Tensor,
    y: torch.Tensor,
    data: Dataset,
    chunk: int = EVAL_CHUNK,
    reduced: bool | None = None,
) -> float:
    """Accuracy in [0, 1] of one pass over (x, y); the fitness when x is validation."""
    if len(x) == 0:
        return 0.0
    logits = predict(model, x, data, chunk, reduced)
    return (logits.argmax(dim=1) == y).float().mean().item()


def majority_vote(logits: list[torch.Tensor]) -> torch.Tensor:
    """Class per image by majority vote of several models' logits.

    [choice] Ties (e.g. two models disagreeing, k=2) go to the class with the larger
    mean softmax probability: votes count first, probabilities only break ties.
    """
    stacked = torch.stack([lg.float() for lg in logits])
    num_classes = stacked.shape[-1]
    votes = F.one_hot(stacked.argmax(dim=-1), num_classes).sum(dim=0).float()
    mean_prob = stacked.softmax(dim=-1).mean(dim=0)
    return (votes + 0.5 * mean_prob).argmax(dim=-1)
