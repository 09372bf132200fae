"""Retention: which weight files a run still needs, and deleting the rest.

The paper's loop needs only the weights of the living and of the parents of children in
training (docs/ALGORITHM.md §4); the best `ensemble_k` are kept for the final test and the
downloads, and anything pinned by a user.
"""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.core.files.storage import default_storage
from django.db import connection, transaction
from django.db.models import F
from django.utils import timezone

from .models import Experiment, Individual, State
from .storage import derived_names

# Best first, on a tie the younger: evolab.evolution.step.rank_key as an ORM ordering
# (tests/unit/engine/test_one_step.py checks that they agree).
RANKING = ("-val_accuracy", "-number")


def collect_garbage(experiment_id: int, keep_best: int) -> int:
    """Delete weights no one can need (ALGORITHM.md §4 needs only parents of children in training).

    Kept: alive individuals, parents of children in training, the best `keep_best` by
    validation accuracy and anything pinned. Returns the number of files removed.

    It runs after every step, so it is three statements whatever the population. No lock is
    needed: only an alive individual can become a parent, and the release re-checks, in the
    same statement that releases, that no child in training has it for a parent (a child
    whose parent died since it was conceived: aging kills the oldest, which may breed).
    """
    if settings.EVOLAB_KEEP_ALL_WEIGHTS:
        return 0
    with connection.cursor() as cursor:
        cursor.execute(_REMOVABLE, [experiment_id, experiment_id, keep_best])
        candidates = {pk: (name, size) for pk, name, size in cursor.fetchall()}
    if not candidates:
        return 0
    marks = ", ".join(["%s"] * len(candidates))
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(_RELEASE.format(ids=marks), list(candidates))
        released = [pk for (pk,) in cursor.fetchall()]
        freed = sum(candidates[pk][1] for pk in released)
        if freed:
            Experiment.objects.filter(pk=experiment_id).update(
                weights_bytes=F("weights_bytes") - freed
            )
    for pk in released:
        name = candidates[pk][0]
        for path in (name, *derived_names(name)):  # with its cached exports (downloads)
            default_storage.delete(path)
    return len(released)


_T = Individual._meta.db_table
_NO_CHILD_IN_TRAINING = f"""NOT EXISTS (SELECT 1 FROM {_T} c
    WHERE c.parent_id = {_T}.id AND c.state = '{State.TRAINING}')"""
_REMOVABLE = f"""SELECT id, weights, weights_size FROM {_T}
WHERE experiment_id = %s AND state IN ('{State.DEAD}', '{State.FAILED}') AND NOT pinned
  AND weights <> '' AND {_NO_CHILD_IN_TRAINING}
  AND id NOT IN (SELECT b.id FROM {_T} b WHERE b.experiment_id = %s
                 AND b.val_accuracy IS NOT NULL
                 ORDER BY b.val_accuracy DESC, b.number DESC LIMIT %s)"""  # RANKING's order
_RELEASE = f"""UPDATE {_T} SET weights = '', weights_size = 0
WHERE id IN ({{ids}}) AND weights <> '' AND {_NO_CHILD_IN_TRAINING} RETURNING id"""


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
