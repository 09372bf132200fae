"""Commit: the database store's half of a step after training (the child joins the living).

A commit needs no selection lock: the lease token fences the child's row, and turning
training into alive leaves the population count (alive + training) as it was. Weights are
written first under a name unique to this lease, so a crash between the two leaves only an
unreferenced file (retention.sweep_orphan_weights), never a row without its weights.
"""

from __future__ import annotations

import logging

from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import connection
from django.utils import timezone

from evolab.evolution.step import TrainedChild, lineage_steps

from . import events, portable, postgres
from .children import Claim
from .models import Individual, State
from .storage import weights_name

log = logging.getLogger(__name__)


def commit(claim: Claim, child: TrainedChild) -> bool:
    """Store the weights, then make the child alive if we still hold its lease; a
    fenced-out worker's file is deleted at once."""
    name = default_storage.save(
        weights_name(claim.experiment_id, claim.number, claim.token),
        ContentFile(child.weights),
    )
    try:
        committed = _commit_row(claim, child, name)
    except Exception:
        default_storage.delete(name)
        raise
    if not committed:
        log.warning("child %s: lease lost, result discarded", claim.individual_id)
        default_storage.delete(name)
    return committed


def _commit_row(claim: Claim, child: TrainedChild, name: str) -> bool:
    done = {
        "state": State.ALIVE,
        "val_accuracy": child.val_accuracy,
        "flops": child.flops,
        "params": child.params,
        "steps": lineage_steps(claim.lineage_steps, child.steps),
        "trained": timezone.now(),
        "train_seconds": child.train_seconds,
        "weights": name,
        "weights_size": len(child.weights),
        "lease_token": None,
        "lease_expires": None,
        "progress_step": child.steps,
        "loss_curve": [list(point) for point in child.loss_curve],
    }
    payload = events.individual_payload(Individual(pk=claim.individual_id, **claim.row, **done))
    counters = portable.counter_args(claim, child.flops, len(child.weights), child.val_accuracy)
    path = postgres if connection.vendor == "postgresql" else portable
    return path.commit_row(claim, done, payload, counters)


def record_timings(individual_id: int, timings: dict[str, float]) -> None:
    """Store what each phase of the child's step cost (training and commit included)."""
    Individual.objects.filter(pk=individual_id).update(
        timings={k: round(v, 6) for k, v in timings.items()}
    )
