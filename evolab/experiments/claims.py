"""Claim: the database store's half of a step before training (select, kill, conceive).

The engine (evolab.evolution.step.plan_child) decides; this module reads what it needs and
applies its plan so that no pair is killed twice and the population stays at its set-point
however many workers run. The experiment row's lock is the serial section of a whole run, so
a steady-state step is planned (drafted) without it and only re-checked and applied under it:
by portable.py (SQLite) or postgres.py (one server-side call). Filling the population, taking
over an orphaned child, or a draft that went stale three times runs wholly under the lock.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Hashable

from django.conf import settings
from django.db import connection, transaction

from evolab.evolution.dna import DNA, DNAError
from evolab.evolution.memory_store import DONE, WAIT
from evolab.evolution.step import (
    PopulationView,
    child_limits,
    initial_plan,
    plan_child,
    step_rng,
)

from . import events, portable, postgres, reads
from .children import Claim, Draft, Stale, budget_spent, claim_for, create_individual, kill
from .leases import fail_individual, take_over_expired
from .models import Experiment, Individual, Status

DRAFT_TRIES = 3
__all__ = ["Claim", "DONE", "WAIT", "budget_spent", "claim"]


def claim(experiment_id: int, worker: str) -> Claim | str:
    """Select, kill and reserve; return the child to train, WAIT or DONE."""
    for attempt in range(DRAFT_TRIES):
        try:
            draft = draft_step(experiment_id, worker, attempt)
            if draft is None:
                break
            return apply_draft(draft, worker)
        except Stale:
            continue
    return claim_locked(experiment_id, worker)


def apply_draft(draft: Draft, worker: str) -> Claim:
    """Apply a draft if it still holds (the run may grow, the victim and the parent are still
    alive), else raise Stale having changed nothing."""
    path = postgres if connection.vendor == "postgresql" else portable
    return path.apply_draft(draft, worker)


def _salt(exp: Experiment, worker: str, attempt: int) -> str:
    """With one worker a step's randomness is the seed's and the child's number only, so the
    run replays (docs/ALGORITHM.md §7). With W > 1, concurrent drafts from one snapshot must
    not all pick the same pair: the worker (Celery's processes on one host share its name)
    and the attempt are mixed in."""
    if exp.cfg.workers <= 1:
        return ""
    return f"{worker}:{os.getpid()}:{threading.get_ident()}:{attempt}"


class CorruptParent(Exception):
    def __init__(self, parent: Individual, error: DNAError) -> None:
        super().__init__(str(error))
        self.parent, self.error = parent, error


def _plan(exp: Experiment, view: PopulationView, salt: str) -> tuple[Draft | None, dict]:
    """The engine's plan for this view, and the parent rows it read (by id)."""
    cfg = exp.cfg
    limits = child_limits(cfg, settings.EVOLAB_MAX_CHILD_MEMORY_MB)
    read: dict[Hashable, Individual] = {}

    def dna_of(pk: Hashable) -> DNA:
        parent = reads.PARENT.get(pk)
        if parent is None:  # only a draft reads unlocked: the row went while it was planned
            raise Stale
        read[pk] = parent
        try:
            return DNA.from_json(parent.dna, limits=limits, in_shape=cfg.in_shape)
        except DNAError as exc:
            raise CorruptParent(parent, exc) from exc

    plan = plan_child(view, step_rng(cfg.seed, view.created, salt), cfg, dna_of, limits)
    return (Draft(exp, plan) if plan else None), read


def draft_step(experiment_id: int, worker: str, attempt: int) -> Draft | None:
    """Plan a steady-state step without a lock, or None where only the locked path may act:
    a run not running or out of budget, an orphan to take over, a population to (re)fill,
    a step that kills no one (it would grow the population) or a corrupted parent."""
    exp = reads.EXPERIMENT.get(experiment_id)
    if exp is None:
        raise Experiment.DoesNotExist(experiment_id)
    if (
        exp.status != Status.RUNNING
        or budget_spent(exp)
        or exp.individuals_created < exp.cfg.population
    ):
        return None
    # The run's row first, then the population: a failure committed between the two reads
    # shows in the view, one after both changes individuals_failed and the apply goes stale.
    # The other way round, a draft could kill after a failure it never saw.
    view, orphaned = reads.population_view(exp)
    if orphaned:
        return None
    try:
        draft, _ = _plan(exp, view, _salt(exp, worker, attempt))
    except CorruptParent:
        return None
    if draft is None or len(draft.plan.kill) != 1:
        return None
    return draft


def claim_locked(experiment_id: int, worker: str) -> Claim | str:
    """Select, kill and reserve in one transaction holding the experiment's row lock."""
    with transaction.atomic():
        exp = Experiment.objects.select_for_update().get(pk=experiment_id)
        if exp.status != Status.RUNNING:
            return DONE
        out = events.Outbox(exp)
        # An orphaned child is retrained even when the budget is spent: it was promised.
        ind = take_over_expired(exp, worker, out)
        if ind is None and not budget_spent(exp):
            if exp.individuals_created < exp.cfg.population:
                plan = initial_plan(
                    exp.individuals_created, exp.boost_remaining, exp.best_changed_at
                )
                ind = create_individual(exp, worker, plan, None, out)
            else:
                ind = _evolve_locked(exp, worker, out)
        out.flush()
        if ind is None:
            return DONE if budget_spent(exp) else WAIT
        return claim_for(exp, ind)


def _evolve_locked(exp: Experiment, worker: str, out: events.Outbox) -> Individual | None:
    view, _ = reads.population_view(exp)
    try:
        draft, read = _plan(exp, view, _salt(exp, worker, 0))
    except CorruptParent as exc:  # a corrupted row never reaches a worker: it leaves the run
        fail_individual(exc.parent, f"invalid DNA: {exc.error}", out)
        return None
    if draft is None:
        return None
    for victim in draft.plan.kill:  # after planning: under aging the oldest may be the parent
        kill(victim, out)
    parent = read.get(draft.plan.parent)
    return create_individual(exp, worker, draft.plan, parent, out)
