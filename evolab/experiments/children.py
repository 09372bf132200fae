"""A child's row in the database: built from the engine's plan, written, and handed to a worker
as a Claim. Shared by the claim paths (claims.py, portable.py, postgres.py)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.utils import timezone

from evolab.evolution.step import ChildPlan
from evolab.evolution.step import budget_spent as engine_budget_spent

from . import events
from .models import Experiment, Individual, State

MAX_ATTEMPTS = 3  # a child that kills its worker this often is marked failed (poison child)


@dataclass(frozen=True)
class Claim:
    """Everything a worker needs to train one child, fetched while the lock was held."""

    experiment_id: int
    individual_id: int
    number: int
    token: str
    dna: dict[str, Any]
    parent_weights: str  # storage name; "" = nothing to inherit
    reset_weights: bool
    config: dict[str, Any]
    lineage_steps: int  # steps trained by its ancestors
    attempt: int
    row: dict[str, Any] = field(default_factory=dict)  # what its BIRTH event repeats of its row


def budget_spent(exp: Experiment) -> str | None:
    """Which budget stops new children (evolab.evolution.step.budget_spent), or None."""
    return engine_budget_spent(
        exp.cfg, exp.individuals_created, exp.elapsed_seconds(), exp.total_flops,
        exp.best_val_accuracy, exp.individuals_failed,
    )  # fmt: skip


class Stale(Exception):
    """The drafted step no longer fits the population: someone else changed it first."""


@dataclass
class Draft:
    """A step planned from an unlocked read: the engine's plan for the run as it was read."""

    exp: Experiment
    plan: ChildPlan

    @property
    def victim(self) -> int:
        return self.plan.kill[0]

    @property
    def parent_id(self) -> int | None:
        return self.plan.parent

    @property
    def dna(self) -> dict[str, Any]:
        return self.plan.dna.to_json()


def leased(pk: int, token: Any) -> Any:
    """The child's row only while it is still training under this lease: the fence every
    write about a child in training goes through (commit, heartbeat, takeover, failure)."""
    return Individual.objects.filter(pk=pk, state=State.TRAINING, lease_token=token)


def lease(ind: Individual, worker: str) -> None:
    ind.lease_token = uuid.uuid4()
    ind.lease_expires = timezone.now() + timedelta(seconds=settings.EVOLAB_LEASE_SECONDS)
    ind.worker = worker
    ind.attempts += 1
    ind.progress_step = 0
    ind.progress_loss = None


def new_child(exp: Experiment, worker: str, plan: ChildPlan) -> Individual:
    """The unsaved row of a new child under a fresh lease to `worker`. Its number is the
    run's count now (a draft's plan may have been made for an earlier one, W > 1)."""
    ind = Individual(
        experiment=exp,
        number=exp.individuals_created,
        parent_id=plan.parent,
        dna=plan.dna.to_json(),
        mutation=plan.mutation,
        mutation_description=plan.description,
        mutation_records=[r.to_json() for r in plan.records],
        reset_weights=plan.reset_weights,
    )
    lease(ind, worker)
    return ind


def create_individual(
    exp: Experiment,
    worker: str,
    plan: ChildPlan,
    parent: Individual | None,
    out: events.Outbox,
    save_experiment: bool = True,
) -> Individual:
    """Insert the child's row and its STARTED event; the experiment counts it (unless the
    caller's statement did already)."""
    ind = new_child(exp, worker, plan)
    ind.parent = parent
    ind.save(force_insert=True)
    exp.individuals_created += 1
    exp.boost_remaining, exp.best_changed_at = plan.boost_remaining, plan.best_changed_at
    if save_experiment:
        exp.save(update_fields=["individuals_created", "boost_remaining", "best_changed_at"])
    out.add(events.STARTED, events.started(ind.pk, ind.number, **started_fields(ind)))
    return ind


def started_fields(ind: Individual) -> dict[str, Any]:
    """The STARTED event of a new child, less its id and number."""
    return {"worker": ind.worker, "parent": ind.parent_id, "mutation": ind.mutation or None}


def kill(pk: int, out: events.Outbox, strict: bool = True) -> bool:
    """The conditional update is the guard against a double kill: only an alive row dies.
    Under the locked path the victim must be alive (strict); a draft's may have died since."""
    now = timezone.now()
    if Individual.objects.filter(pk=pk, state=State.ALIVE).update(state=State.DEAD, died=now) != 1:
        if strict:
            raise RuntimeError(f"individual {pk} was not alive when its tournament killed it")
        return False
    out.add(events.DEATH, events.death(pk, now.timestamp()))
    return True


# What an apply reads of the parent under the lock (the draft read its DNA): what its
# Claim inherits, as it is now (a reset may have been asked for since the draft).
INHERITED = ("weights", "weights_reset", "steps")


def inherited(pk: int, values: tuple) -> Individual:
    return Individual(pk=pk, **dict(zip(INHERITED, values, strict=True)))


# The columns of a child's row that its commit does not set, for the BIRTH event's payload.
ROW_FIELDS = ("number", "parent_id", "mutation", "mutation_description", "born", "worker")


def claim_for(exp: Experiment, ind: Individual) -> Claim:
    parent = ind.parent
    inherit = (
        parent is not None
        and not ind.reset_weights
        and not parent.weights_reset
        and bool(parent.weights)
    )
    return Claim(
        experiment_id=exp.pk,
        individual_id=ind.pk,
        number=ind.number,
        token=str(ind.lease_token),
        dna=ind.dna,
        # An imported seed (no parent) starts from its own uploaded weights, if any.
        parent_weights=parent.weights if inherit else ("" if parent else ind.weights),
        reset_weights=ind.reset_weights,
        config=exp.config,
        lineage_steps=parent.steps if parent else 0,
        attempt=ind.attempts,
        row={f: getattr(ind, f) for f in ROW_FIELDS},
    )
