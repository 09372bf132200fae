"""From run events to queued notices: the one hook into the run's life.

evolab.experiments.events sends `committed` after every transaction that logged events
(status changes, births, ...). Here, at most two small reads decide whether any subscription
of the run's team could want what happened; if so, a Celery task fans it out and delivers
it (delivery.py). Nothing is sent from here: this runs in web requests and right after a
worker's commit.
"""

from __future__ import annotations

import logging

from evolab.experiments import events
from evolab.experiments.models import Experiment
from evolab.taskqueue import send_notify

from .models import PROGRESS_EVENTS, STATUS_EVENTS, Delivery, Event, Subscription

log = logging.getLogger(__name__)


def connect() -> None:
    events.committed.connect(on_events, dispatch_uid="evolab.notifications")


def on_events(sender, experiment_id: int, messages, **_kwargs) -> None:
    kinds = {m["kind"] for m in messages}
    if not kinds & {events.STATUS, events.BIRTH}:
        return
    subs = list(
        Subscription.objects.filter(team__experiments=experiment_id, active=True)
        .order_by()
        .values_list("pk", "events", "no_improvement_individuals")
    )
    wanted = {event for _, listed, _ in subs for event in listed}
    if not wanted:
        return
    for m in messages:
        status = m["data"].get("status") if m["kind"] == events.STATUS else None
        if status in STATUS_EVENTS and status in wanted:
            detail = {"reason": m["data"].get("reason", ""),
                      "failure_reason": m["data"].get("failure_reason", "")}  # fmt: skip
            send_notify(experiment_id, status, "", detail)
    if events.BIRTH in kinds and wanted & set(PROGRESS_EVENTS):
        _after_birth(experiment_id, wanted, subs)


def _after_birth(experiment_id: int, wanted: set, subs: list) -> None:
    """Target reached, or no strict rise of the best for N individuals: queued once each
    (per plateau), unless every subscription that wants it has had it."""
    exp = Experiment.objects.filter(pk=experiment_id).first()
    if exp is None or exp.best_val_accuracy is None:
        return
    target = exp.config.get("target_accuracy")
    if Event.TARGET_REACHED in wanted and target and exp.best_val_accuracy >= target:
        _queue_new(exp, Event.TARGET_REACHED, "", {"target_accuracy": target},
                   [pk for pk, listed, _ in subs if Event.TARGET_REACHED in listed])  # fmt: skip
    stall = exp.individuals_trained - exp.best_changed_at
    due = [pk for pk, listed, n in subs if Event.NO_IMPROVEMENT in listed and stall >= n]
    if due:
        detail = {"individuals": stall, "since": exp.best_changed_at,
                  "trained": exp.individuals_trained}  # fmt: skip
        _queue_new(exp, Event.NO_IMPROVEMENT, str(exp.best_changed_at), detail, due)


def _queue_new(exp: Experiment, event: str, key: str, detail: dict, sub_ids: list) -> None:
    done = Delivery.objects.filter(experiment=exp, event=event, key=key).values_list(
        "subscription_id", flat=True
    )
    if set(sub_ids) - set(done):
        send_notify(exp.pk, event, key, detail)
