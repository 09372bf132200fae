"""The web app's worker side of a child: its data and parent weights from the shared stores,
the one trainer (`workers.trainer.train_one`), and the final test of a finished run.

The dataset is loaded once per worker process and stays on the device across children
(`evolab.datasets` caches it); the model is rebuilt from its DNA for every child.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import torch
from safetensors.torch import load as safetensors_load

from evolab.datasets import Dataset, load_dataset
from evolab.evolution.checkpoint import load_checkpoint
from evolab.evolution.network import build_network
from evolab.evolution.step import TrainedChild, child_seed
from evolab.experiments.children import Claim

from .trainer import ChildTask, Progress, Stopwatch, train_one
from .training import majority_vote, pick_device, predict

_DEVICE: torch.device | None = None


def device(settings) -> torch.device:
    global _DEVICE
    if _DEVICE is None:
        _DEVICE = pick_device(settings.EVOLAB_TRAINING.device)
    return _DEVICE


_ON_DEVICE: dict[tuple, Dataset] = {}


def dataset_for(config: dict[str, Any], settings) -> Dataset:
    """The run's dataset on this worker's device, loaded and moved once per process."""
    # A run stored before val_size existed has no such key: the default split.
    name, seed, val_size = config["dataset"], config["seed"], config.get("val_size")
    key = (name, seed, val_size, str(settings.EVOLAB_DATA_DIR))
    if key not in _ON_DEVICE:
        data = load_dataset(name, settings.EVOLAB_DATA_DIR, seed, val_size=val_size)
        _ON_DEVICE[key] = data.to(device(settings))
    return _ON_DEVICE[key]


def task_for(claim: Claim) -> ChildTask:
    cfg = claim.config
    return ChildTask(
        dna=claim.dna,
        steps=cfg["steps_per_child"],
        batch_size=cfg["batch_size"],
        seed=child_seed(cfg["seed"], claim.number),
    )


def train_claimed_child(claim: Claim, storage, settings, progress: Progress) -> TrainedChild | None:
    """Train the claimed child; None when its lease was lost on the way (`progress`)."""
    clock = Stopwatch()
    data = dataset_for(claim.config, settings).without_test()  # fitness never sees the test
    parent_state = None
    if claim.parent_weights:
        with storage.open(claim.parent_weights, "rb") as fh:
            # Tensors only (an imported seed's file has no EvoLab metadata); never a pickle.
            parent_state = safetensors_load(fh.read())
    clock.lap("data")
    child = train_one(
        task_for(claim), parent_state, data, device(settings), progress, settings.EVOLAB_TRAINING
    )
    if child is None:
        return None
    return replace(child, timings={**clock.seconds, **child.timings})


def load_model(individual, storage, data: Dataset) -> torch.nn.Module:
    with storage.open(individual.weights, "rb") as fh:
        state, dna, _ = load_checkpoint(fh.read())
    model = build_network(dna, data.in_shape, len(data.classes))
    model.load_state_dict(state)
    return model.to(data.train_x.device).eval()


def evaluate_on_test(experiment_id: int, storage, settings) -> None:
    """The test split is touched only here, once, at the end (docs/ALGORITHM.md §6)."""
    from evolab.experiments import events
    from evolab.experiments.models import Experiment
    from evolab.experiments.retention import RANKING

    exp = Experiment.objects.get(pk=experiment_id)
    ranked = list(
        exp.individuals.exclude(weights="")
        .exclude(val_accuracy=None)
        .order_by(*RANKING)[: max(exp.cfg.ensemble_k, 1)]
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
        events.result(ranked[0].pk, best_acc, ensemble_acc, [i.pk for i in ranked]),
    )
