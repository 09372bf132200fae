"""Retention: which weight files a run still needs, and deleting the rest.

The paper's loop needs only the weights of the living and of the parents of children in
training (docs/ALGORITHM.md §4); the best `ensemble_k` are kept for the final test and the
downloads, and anything pinned by a user.
"""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.core.files.storage import default_storage
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from .models import Experiment, Individual, State
from .storage import derived_names

# Best first, on a tie the younger: evolab.evolution.step.rank_key as an ORM ordering
# (tests/unit/evolution/test_one_step.py checks that they agree).
RANKING = ("-val_accuracy", "-number")


def collect_garbage(experiment_id: int, keep_best: int) -> int:
    """Delete weights no one can need (PAPER.md §4 needs only parents of children in training).

    Kept: alive individuals, parents of children in training, the best `keep_best` by
    validation accuracy and anything pinned. Returns the number of files removed.
    """
    if settings.EVOLAB_KEEP_ALL_WEIGHTS:
        return 0
    exp_individuals = Individual.objects.filter(experiment_id=experiment_id)
    needed = set(exp_individuals.training().exclude(parent=None).values_list("parent", flat=True))
    best = set(
        exp_individuals.exclude(val_accuracy=None)
        .order_by(*RANKING)
        .values_list("pk", flat=True)[:keep_best]
    )
    removable = (
        exp_individuals.filter(state__in=[State.DEAD, State.FAILED], pinned=False)
        .exclude(weights="")
        .exclude(pk__in=needed | best)
    )
    removed = 0
    for pk, name in removable.values_list("pk", "weights"):
        with transaction.atomic():
            # Re-check under the lock: a claim may have made it a parent meanwhile.
            Experiment.objects.select_for_update().get(pk=experiment_id)
            if exp_individuals.training().filter(parent_id=pk).exists():
                continue
            size = Individual.objects.get(pk=pk).weights_size
            Individual.objects.filter(pk=pk).update(weights="", weights_size=0)
            Experiment.objects.filter(pk=experiment_id).update(
                weights_bytes=F("weights_bytes") - size
            )
        for path in (name, *derived_names(name)):  # with its cached exports (downloads)
            default_storage.delete(path)
        removed += 1
    return removed


def sweep_orphan_weights(experiment_id: int, grace_seconds: float = 0) -> int:
    """Delete stored weight files no row refers to (a worker died between writing its file
    and committing its row). Only files older than `grace_seconds` go, so a commit in flight
    keeps its file. Returns the number of files removed."""
    folder = f"experiments/{experiment_id}"
    try:
        _, files = default_storage.listdir(folder)
    except FileNotFoundError:
        return 0
    known = set(
        Individual.objects.filter(experiment_id=experiment_id)
        .exclude(weights="")
        .values_list("weights", flat=True)
    )
    cutoff = timezone.now() - timedelta(seconds=grace_seconds)
    removed = 0
    for filename in files:
        name = f"{folder}/{filename}"
        if (
            filename.endswith(".safetensors")
            and name not in known
            and default_storage.get_modified_time(name) <= cutoff
        ):
            default_storage.delete(name)
            removed += 1
    return removed
