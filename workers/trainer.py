"""The one child trainer: a child's DNA and its parent's weights in, a trained child out.

The Celery step task (`workers.tasks`) and the headless runner's worker processes
(`workers.evolve.pool`) both call `train_one`, so a child trains the same wherever its
population lives: built from its DNA, initialised from its seed, given its parent's
weights by gene id (docs/ALGORITHM.md §4), trained by SGD (§5) and measured on validation.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import torch

from evolab.datasets import Dataset
from evolab.environment import TrainingOptions
from evolab.evolution.checkpoint import dump_checkpoint
from evolab.evolution.dna import DNA
from evolab.evolution.flops import count_params, forward_flops, individual_flops
from evolab.evolution.network import build_network, inherit_weights
from evolab.evolution.step import TrainedChild

from .training import Progress, evaluate, train_child

__all__ = ["ChildTask", "Progress", "Stopwatch", "train_one"]


@dataclass(frozen=True)
class ChildTask:
    """What the trainer needs to know of one child."""

    dna: dict
    steps: int
    batch_size: int
    seed: int  # evolab.evolution.step.child_seed: its fresh weights and its batches


class Stopwatch:
    """Wall time per phase of a step, so overhead outside training can be measured."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}
        self._last = time.perf_counter()

    def lap(self, phase: str) -> None:
        now = time.perf_counter()
        self.seconds[phase] = self.seconds.get(phase, 0.0) + now - self._last
        self._last = now


def train_one(
    task: ChildTask,
    parent_state: dict[str, torch.Tensor] | None,
    data: Dataset,
    device: torch.device,
    progress: Progress | None = None,
    options: TrainingOptions = TrainingOptions(),
) -> TrainedChild | None:
    """Train one child on `data` (already on `device`, without its test split). None when
    `progress` said stop. A diverged child (non-finite loss) gets fitness 0."""
    clock = Stopwatch()
    dna = DNA.from_json(task.dna)
    torch.manual_seed(task.seed)  # the fresh initialisation is reproducible per child
    model = build_network(dna, data.in_shape, data.num_classes)
    clock.lap("build")
    if parent_state is not None:
        inherit_weights(model, parent_state)
    clock.lap("inherit")
    per_image = forward_flops(dna, data.in_shape, data.num_classes)
    stats = train_child(
        model, data, dna.learning_rate, task.steps, task.batch_size, task.seed, device,
        progress=progress, flops_per_image=per_image, options=options,
    )  # fmt: skip
    clock.lap("train")
    if stats.stopped:
        return None
    accuracy = 0.0 if stats.diverged else evaluate(model, data.val_x, data.val_y, data)
    clock.lap("evaluate")
    flops = individual_flops(
        dna, data.in_shape, data.num_classes, stats.steps, task.batch_size, len(data.val_y)
    )
    params = count_params(dna, data.in_shape, data.num_classes)
    metrics = {
        "val_accuracy": accuracy,
        "flops": flops,
        "params": params,
        "steps": stats.steps,
        "dataset": data.name,
        "classes": data.classes,
        "mean": list(data.mean),
        "std": list(data.std),
        "in_shape": list(data.in_shape),
    }
    # Contiguous: a bf16 child's convs are channels_last, which safetensors refuses to save.
    state = {
        k: v.detach().to("cpu", copy=True, memory_format=torch.contiguous_format)
        for k, v in model.state_dict().items()
    }
    weights = dump_checkpoint(state, dna, metrics)
    clock.lap("serialise")
    return TrainedChild(
        val_accuracy=accuracy,
        flops=float(flops),
        params=int(params),
        steps=stats.steps,
        train_seconds=clock.seconds["train"] + clock.seconds["evaluate"],
        weights=weights,
        timings=clock.seconds,
        diverged=stats.diverged,
        loss_curve=stats.loss_curve,
    )
