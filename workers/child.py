"""Train one claimed child and evaluate finished runs: the worker-side glue to the engine.

The dataset is loaded once per worker process and stays on the device across children
(`workers.datasets` caches it); the model is rebuilt from its DNA for every child.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import torch
from safetensors.torch import load as safetensors_load

from evolab.evolution.checkpoint import dump_checkpoint, load_checkpoint
from evolab.evolution.dna import DNA
from evolab.evolution.flops import count_params, forward_flops, individual_flops
from evolab.evolution.network import build_network, inherit_weights

from .datasets import Dataset, load_dataset
from .training import evaluate, majority_vote, pick_device, predict, train_child

_DEVICE: torch.device | None = None


def device(settings) -> torch.device:
    global _DEVICE
    if _DEVICE is None:
        _DEVICE = pick_device(settings.EVOLAB_DEVICE)
    return _DEVICE


_ON_DEVICE: dict[tuple[str, int], Dataset] = {}


def dataset_for(config: dict[str, Any], settings) -> Dataset:
    """The run's dataset on this worker's device, loaded and moved once per process."""
    key = (config["dataset"], config["seed"])
    if key not in _ON_DEVICE:
        data = load_dataset(config["dataset"], settings.EVOLAB_DATA_DIR, config["seed"])
        _ON_DEVICE[key] = data.to(device(settings))
    return _ON_DEVICE[key]


class Stopwatch:
    """Wall time per phase of a step, so overhead outside training can be measured."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}
        self._last = time.perf_counter()

    def lap(self, phase: str) -> None:
        now = time.perf_counter()
        self.seconds[phase] = self.seconds.get(phase, 0.0) + now - self._last
        self._last = now


def train_claimed_child(claim, storage, settings, progress: Callable[[int, float | None], None]):
    """Build, inherit (PAPER.md §4), train (§5) and validate the claimed child."""
    from evolab.experiments.steps import TrainedChild

    clock = Stopwatch()
    cfg = claim.config
    data = dataset_for(cfg, settings).without_test()  # fitness never sees the test split
    dna = DNA.from_json(claim.dna)
    num_classes = len(data.classes)
    clock.lap("data")
    model = build_network(dna, data.in_shape, num_classes)
    clock.lap("build")
    if claim.parent_weights:
        with storage.open(claim.parent_weights, "rb") as fh:
            # Tensors only (an imported seed's file has no EvoLab metadata); never a pickle.
            inherit_weights(model, safetensors_load(fh.read()))
    clock.lap("inherit")
    stats = train_child(
        model,
        data,
        dna.learning_rate,
        cfg["steps_per_child"],
        batch_size=cfg["batch_size"],
        seed=cfg["seed"] * 100003 + claim.number,
        device=device(settings),
        progress=progress,
        flops_per_image=forward_flops(dna, data.in_shape, num_classes),
    )
    clock.lap("train")
    accuracy = 0.0 if stats.diverged else evaluate(model, data.val_x, data.val_y, data)
    clock.lap("evaluate")
    flops = individual_flops(
        dna, data.in_shape, num_classes, stats.steps, cfg["batch_size"], len(data.val_y)
    )
    params = count_params(dna, data.in_shape, num_classes)
    metrics = {
        "val_accuracy": accuracy,
        "flops": flops,
        "params": params,
        "steps": stats.steps,
        "dataset": cfg["dataset"],
        "classes": data.classes,
        "mean": list(data.mean),
        "std": list(data.std),
        "in_shape": list(data.in_shape),
    }
    weights = dump_checkpoint(
        {k: v.detach().cpu() for k, v in model.state_dict().items()}, dna, metrics
    )
    clock.lap("serialise")
    return TrainedChild(
        val_accuracy=accuracy,
        flops=float(flops),
        params=int(params),
        steps=stats.steps,
        train_seconds=clock.seconds["train"] + clock.seconds["evaluate"],
        weights=weights,
        timings=clock.seconds,
    )


def load_model(individual, storage, data: Dataset) -> torch.nn.Module:
    with storage.open(individual.weights, "rb") as fh:
        state, dna, _ = load_checkpoint(fh.read())
    model = build_network(dna, data.in_shape, len(data.classes))
    model.load_state_dict(state)
    return model.to(data.train_x.device).eval()


def evaluate_on_test(experiment_id: int, storage, settings) -> None:
    """The test split is touched only here, once, at the end (PAPER.md §5-6)."""
    from evolab.experiments import events
    from evolab.experiments.models import Experiment

    exp = Experiment.objects.get(pk=experiment_id)
    ranked = list(
        exp.individuals.exclude(weights="")
        .exclude(val_accuracy=None)
        .order_by("-val_accuracy", "number")[: max(exp.cfg.ensemble_k, 1)]
    )
    if not ranked:
        return
    data = dataset_for(exp.config, settings)
    logits = [predict(load_model(ind, storage, data), data.test_x, data) for ind in ranked]
    best_acc = (logits[0].argmax(1) == data.test_y).float().mean().item()
    ranked[0].test_accuracy = best_acc
    ranked[0].save(update_fields=["test_accuracy"])
    ensemble_acc = (majority_vote(logits) == data.test_y).float().mean().item()
    Experiment.objects.filter(pk=experiment_id).update(
        test_accuracy=best_acc, ensemble_test_accuracy=ensemble_acc
    )
    events.emit(
        experiment_id,
        events.RESULT,
        {
            "best": ranked[0].pk,
            "test_accuracy": best_acc,
            "ensemble_test_accuracy": ensemble_acc,
            "ensemble": [i.pk for i in ranked],
        },
    )
