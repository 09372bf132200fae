"""The final test evaluation's life cycle around the one task that measures it
(`evolab.evaluate_final`, workers/child.py `evaluate_on_test`): queued when a run finishes
(settling) or when a stopped run's member asks for it (services.evaluate), marked on the run
while it is queued or running, and cleared by the task when it ends, with a STATUS event
each time so the page shows it live."""

from __future__ import annotations

from django.db import transaction
from django.utils import timezone

from evolab.redaction import redact_paths
from evolab.taskqueue import send_final_evaluation

from . import events
from .models import Experiment


def queue(exp: Experiment) -> None:
    """Mark `exp` (its row locked by the caller) as evaluating and queue the task after commit."""
    exp.evaluating_since = timezone.now()
    exp.save(update_fields=["evaluating_since"])
    experiment_id = exp.pk
    transaction.on_commit(lambda: send_final_evaluation(experiment_id))


def finished(experiment_id: int, error: str | None = None) -> None:
    """The task is done (or failed with `error`): clear the mark and say so."""
    with transaction.atomic():
        exp = Experiment.objects.select_for_update().filter(pk=experiment_id).first()
        if exp is None:
            return
        exp.evaluating_since = None
        exp.save(update_fields=["evaluating_since"])
        data = events.status(exp)
        if error:
            data["evaluation_error"] = redact_paths(error)[:500]
        events.emit(exp.pk, events.STATUS, data)
