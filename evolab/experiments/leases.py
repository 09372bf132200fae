"""A child in training is held under a lease with a fencing token (Optuna's heartbeat, here):
its worker extends it while it trains; once it expires another worker takes the child over
and retrains it, and the first worker's result is refused (docs/ALGORITHM.md §1.4)."""

from __future__ import annotations

import math
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from evolab.redaction import redact_paths

from . import events
from .children import MAX_ATTEMPTS, Claim, lease, leased
from .models import Experiment, Individual, State


def take_over_expired(exp: Experiment, worker: str, out: events.Outbox) -> Individual | None:
    """A child whose worker stopped heartbeating is retrained, not lost; one that killed its
    worker MAX_ATTEMPTS times is failed (a poison child)."""
    for ind in exp.individuals.lease_expired().select_related("parent").order_by("number"):
        if ind.attempts >= MAX_ATTEMPTS:
            reason = f"its worker was lost {ind.attempts} times while training it"
            fail_individual(ind, reason, out, training_only=True)
            continue
        old_token = ind.lease_token
        lease(ind, worker)
        # Conditional on the old lease: a commit (which takes no selection lock) may have
        # made the child alive a moment ago; then there is nothing to take over.
        fields = ("lease_token", "lease_expires", "worker", "attempts", "progress_step",
                  "progress_loss")  # fmt: skip
        if not leased(ind.pk, old_token).update(**{f: getattr(ind, f) for f in fields}):
            continue
        out.add(events.STARTED, events.takeover(ind.pk, worker, ind.attempts))
        return ind
    return None


def fail_individual(
    ind: Individual, reason: str, out: events.Outbox, training_only: bool = False
) -> None:
    """Mark it failed and count it, if it is still a member (alive or training); with
    training_only, only if it is still training under the same lease (a commit, which takes
    no selection lock, may just have made it alive).
    The reason is shown to the team: no server path in it (evolab/redaction.py)."""
    reason = redact_paths(reason)
    rows = (
        leased(ind.pk, ind.lease_token)
        if training_only
        else Individual.objects.filter(pk=ind.pk, state__in=(State.ALIVE, State.TRAINING))
    )
    now = timezone.now()
    if rows.update(state=State.FAILED, failure_reason=reason, lease_token=None, died=now):
        # Every caller holds the experiment's row lock (the Outbox's); the drafts' check that
        # the population is still full reads this counter, and so does the refilled budget.
        failed = F("individuals_failed") + 1
        Experiment.objects.filter(pk=out.exp.pk).update(individuals_failed=failed)
        out.exp.individuals_failed += 1
        out.add(events.FAILED, events.failed(ind.pk, reason))


def heartbeat(claim: Claim, step: int, loss: float | None) -> bool:
    """Extend the lease and record progress; False when the lease was lost (stop training)."""
    if loss is not None and not math.isfinite(loss):
        loss = None  # a diverged child: NaN is not JSON (a browser's JSON.parse throws on it)
    expires = timezone.now() + timedelta(seconds=settings.EVOLAB_LEASE_SECONDS)
    held = leased(claim.individual_id, claim.token).update(
        lease_expires=expires, progress_step=step, progress_loss=loss
    )
    if held:
        events.progress(
            claim.experiment_id,
            events.progress_data(claim.individual_id, step, loss, claim.config["steps_per_child"]),
        )
    return bool(held)


def fail(claim: Claim, reason: str) -> None:
    """Training raised: record it (the run goes on; the population refills next step)."""
    with transaction.atomic():
        exp = Experiment.objects.select_for_update().get(pk=claim.experiment_id)
        ind = Individual.objects.get(pk=claim.individual_id)
        if ind.state == State.TRAINING and str(ind.lease_token) == claim.token:
            out = events.Outbox(exp)
            fail_individual(ind, reason, out)
            out.flush()
