"""Settling: a pausing, stopping or spent run comes to rest once nothing it waits for is in
training; a finished run then has its test accuracy measured (evaluation.py: by task name,
evolab never imports workers)."""

from __future__ import annotations

from django.db import transaction
from django.utils import timezone

from . import evaluation, events
from .claims import budget_spent
from .models import Experiment, Status
from .retention import sweep_orphan_weights


def needs_workers(exp: Experiment) -> bool:
    """Does a running experiment still have work: budget left, or an orphaned child?"""
    return budget_spent(exp) is None or exp.individuals.lease_expired().exists()


def settle(experiment_id: int) -> str:
    """Move pausing/stopping/spent runs to their resting status once nothing is in training."""
    with transaction.atomic():
        exp = Experiment.objects.select_for_update().get(pk=experiment_id)
        training = exp.individuals.training()
        reason = ""
        if exp.status == Status.RUNNING:
            # Finishing waits for every child, orphaned ones included (they get retrained).
            reason = budget_spent(exp) or ""
            target = Status.FINISHED if reason and not training.exists() else None
        else:
            # Pausing and stopping wait only for children whose worker is alive; an
            # orphaned child is retrained after a resume (the claim takes it over first).
            busy = training.filter(lease_expires__gte=timezone.now()).exists()
            target = (
                None
                if busy
                else {Status.PAUSING: Status.PAUSED, Status.STOPPING: Status.STOPPED}.get(
                    exp.status
                )
            )
        if target is None:
            return exp.status
        exp.status = target
        if target in (Status.STOPPED, Status.FINISHED):
            exp.ended = timezone.now()
        exp.save(update_fields=["status", "ended"])
        if target == Status.FINISHED:
            evaluation.queue(exp)  # the test accuracy, measured after commit
        events.emit(exp.pk, events.STATUS, events.status(exp, reason))
        if target in (Status.FINISHED, Status.STOPPED):
            transaction.on_commit(lambda: sweep_orphan_weights(experiment_id))
        return target
