"""One evolutionary step, split around the training: claim (select + mutate) and commit.

PAPER.md §1: a worker samples two alive individuals, kills the worse, copies and mutates the
better, trains the child and puts it back. Here the kill and the birth of the child's row are
applied in one transaction holding the experiment row's lock (a row lock on PostgreSQL, the
database write lock on SQLite), so no pair is killed twice and the population stays at its
set-point however many workers run. That lock is the serial section of a whole run, so a
steady-state step is planned (drafted) before taking it and only re-checked and applied under
it: on PostgreSQL in one server-side call (migration 0003), the commit in one statement.
Training happens outside any transaction under a lease with a fencing token: only the current
holder may commit, so a child is never committed twice and a child whose worker died is
retrained by whoever takes the expired lease over.
"""

from __future__ import annotations

import contextlib
import json
import logging
import math
import os
import random
import threading
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import DatabaseError, connection, transaction
from django.db.models import F
from django.utils import timezone

from evolab.evolution.dna import DNA, DNAError, Limits
from evolab.evolution.mutations import mutate, random_dna
from evolab.evolution.selection import Candidate, plan_step

from . import events
from .config import ExperimentConfig
from .models import Event, Experiment, Individual, State, Status
from .storage import derived_names, weights_name

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 3  # a child that kills its worker this often is marked failed (poison child)
ESCAPE_MUTATIONS = 5  # PAPER.md §3 escape (a): 5 mutations per child for a while


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


WAIT = "wait"  # nothing to do right now (every candidate busy): try again shortly
DONE = "done"  # the run is not running or its budget is spent: this chain ends


def budget_spent(exp: Experiment) -> str | None:
    """Which budget stops new children (PAPER.md §1 [choice]), or None."""
    cfg = exp.cfg
    if exp.individuals_created >= cfg.max_individuals:
        return "individuals"
    if cfg.max_seconds and exp.elapsed_seconds() >= cfg.max_seconds:
        return "time"
    if cfg.max_flops and exp.total_flops >= cfg.max_flops:
        return "flops"
    if cfg.target_accuracy and (exp.best_val_accuracy or 0) >= cfg.target_accuracy:
        return "target accuracy"
    return None


def claim(experiment_id: int, worker: str) -> Claim | str:
    """Select, kill and reserve; return the child to train, WAIT or DONE.

    The common step (a full population, nothing orphaned) is drafted without any lock and
    applied in a short locked transaction that re-checks it (_draft, _apply); anything
    else, or a draft that went stale three times, takes the fully locked path.
    """
    for attempt in range(DRAFT_TRIES):
        try:
            draft = _draft(experiment_id, worker, attempt)
            if draft is None:
                break
            return _apply(draft, worker)
        except _Stale:
            continue
    return _claim_locked(experiment_id, worker)


def _claim_locked(experiment_id: int, worker: str) -> Claim | str:
    """Select, kill and reserve in one transaction holding the experiment's row lock."""
    with transaction.atomic():
        exp = Experiment.objects.select_for_update().get(pk=experiment_id)
        if exp.status != Status.RUNNING:
            return DONE
        out = events.Outbox(exp)
        # An orphaned child is retrained even when the budget is spent: it was promised.
        ind = _take_over_expired(exp, worker, out)
        if ind is None and not budget_spent(exp):
            if exp.individuals_created < exp.cfg.population:
                ind = _create_individual(exp, worker, DNA.initial().to_json(), None, out)
            else:
                ind = _tournament_and_child(exp, worker, out)
        out.flush()
        if ind is None:
            return DONE if budget_spent(exp) else WAIT
        return _claim_for(exp, ind)


DRAFT_TRIES = 3


class _Stale(Exception):
    """The drafted step no longer fits the population: someone else changed it first."""


@dataclass
class _Draft:
    """A step planned from an unlocked read: who dies, who breeds, and the child's DNA."""

    exp: Experiment
    victim: int
    parent_id: int | None
    dna: dict[str, Any]
    mutated: Any  # evolab.evolution.mutations.Mutated, or None for a fresh random child
    plateau: bool  # this step starts a mutation boost (PAPER.md §3 escape a)
    boosted: bool  # this child takes one of the boost's extra mutations


def _draft(experiment_id: int, worker: str, attempt: int) -> _Draft | None:
    """Plan a steady-state step without a lock, or None where only the locked path may act:
    a run not running or out of budget, an orphan to take over, a population to (re)fill,
    a step that kills no one (it would grow the population) or a corrupted parent."""
    exp = _EXPERIMENT.get(experiment_id)
    if exp is None:
        raise Experiment.DoesNotExist(experiment_id)
    cfg = exp.cfg
    if (
        exp.status != Status.RUNNING
        or budget_spent(exp)
        or exp.individuals_created < cfg.population
    ):
        return None
    alive, n_training, orphaned = _population(exp)
    if orphaned:
        return None
    # Seeded by the worker too (Celery's processes on one host share its name): concurrent
    # drafts from one snapshot must not all pick the same pair.
    who = f"{worker}:{os.getpid()}:{threading.get_ident()}"
    rng = random.Random(f"{cfg.seed}:{exp.individuals_created}:{who}:{attempt}")
    boost, changed = exp.boost_remaining, exp.best_changed_at
    try:
        planned = _plan_child(exp, rng, alive, n_training)
    except _CorruptParent:
        return None
    if planned is None or len(planned[0]) != 1:
        return None
    kill, parent, dna, mutated = planned
    return _Draft(
        exp=exp,
        victim=kill[0],
        parent_id=parent.pk if parent else None,
        dna=dna,
        mutated=mutated,
        plateau=exp.best_changed_at != changed,
        boosted=exp.boost_remaining != boost,
    )


def _apply(draft: _Draft, worker: str) -> Claim:
    """Apply a draft if it still holds (the run may grow, the victim and the parent are still
    alive), else raise _Stale having changed nothing. The experiment's row lock is the serial
    section of the whole run, so it is held for as little as possible: on PostgreSQL for one
    server-side call (migration 0003), on SQLite for a few in-process statements."""
    if connection.vendor == "postgresql":
        return _apply_on_server(draft, worker)
    return _apply_here(draft, worker)


def _budget_args(exp: Experiment) -> list[Any]:
    """budget_spent()'s limits as SQL arguments (None = no such budget)."""
    cfg = exp.cfg
    deadline = None
    if cfg.max_seconds and exp.started:
        deadline = exp.started + timedelta(seconds=cfg.max_seconds)
    return [cfg.max_individuals, cfg.max_flops or None, cfg.target_accuracy or None, deadline]


def _apply_on_server(draft: _Draft, worker: str) -> Claim:
    exp = draft.exp
    child = _new_child(exp, worker, draft.dna, draft.parent_id, draft.mutated)
    died = timezone.now()
    death = {"id": draft.victim, "died": died.timestamp()}
    started = _started_data(child)
    params = [
        exp.pk, Status.RUNNING, *_budget_args(exp),
        draft.plateau, exp.boost_remaining, draft.boosted, exp.best_changed_at,
        draft.victim, died, draft.parent_id,
        _row_json(child), json.dumps(death), json.dumps(started),
    ]  # fmt: skip
    # Not in a transaction: the call is its own, committed the moment it returns. Inside a
    # caller's atomic block a savepoint keeps a stale draft from aborting the caller's.
    scope = transaction.atomic() if connection.in_atomic_block else contextlib.nullcontext()
    try:
        with scope, connection.cursor() as cursor:
            cursor.execute(_BIRTH_CALL, params)
            cid, number, seq, p_weights, p_reset, p_steps = cursor.fetchone()
    except DatabaseError as exc:
        if getattr(exc.__cause__, "sqlstate", None) == STALE_SQLSTATE:
            raise _Stale from exc
        raise
    child.pk, child.number = cid, number
    if draft.parent_id is not None:
        child.parent = _inherited(draft.parent_id, (p_weights, p_reset, p_steps))
    messages = [
        {"seq": seq, "kind": events.DEATH, "data": death},
        {"seq": seq + 1, "kind": events.STARTED, "data": {"id": cid, "number": number, **started}},
    ]
    transaction.on_commit(lambda: events.broadcast(exp.pk, *messages))
    return _claim_for(exp, child)


STALE_SQLSTATE = "EV001"  # raised by evolab_birth when a draft no longer holds
_BIRTH_CALL = (
    "SELECT * FROM evolab_birth(%s, %s, %s, %s::double precision, %s::double precision, "
    "%s::timestamptz, %s, %s, %s, %s, %s, %s::timestamptz, %s::bigint, %s::jsonb, %s::jsonb, "
    "%s::jsonb)"
)


def _row_json(ind: Individual) -> str:
    """Every column of an unsaved row but its id, as JSON for jsonb_populate_record."""
    row = {
        f.column: f.value_from_object(ind)
        for f in Individual._meta.concrete_fields
        if not f.primary_key
    }
    return json.dumps(row, default=lambda v: v.isoformat() if hasattr(v, "isoformat") else str(v))


class _ById:
    """Reads one model row by primary key as the ORM would build it (its fields' converters
    and from_db), with the SQL and the column order fixed once per process: per claim, the
    ORM's query building, and RawQuerySet's column mapping, cost more than the query itself."""

    def __init__(self, model: type[Any], fields: list[str] | None = None) -> None:
        meta = model._meta
        self.fields = [f for f in meta.concrete_fields if fields is None or f.name in fields]
        self.model, self.names = model, [f.attname for f in self.fields]
        columns = ", ".join(connection.ops.quote_name(f.column) for f in self.fields)
        self.sql = f"SELECT {columns} FROM {meta.db_table} WHERE {meta.pk.column} = %s"
        self._converters: dict[str, list[tuple[int, list, Any]]] = {}

    def get(self, pk: Any) -> Any:
        converters = self._converters.get(connection.vendor)
        if converters is None:
            cols = [f.get_col(self.model._meta.db_table) for f in self.fields]
            converters = self._converters[connection.vendor] = [
                (i, convs, col)
                for i, col in enumerate(cols)
                if (
                    convs := connection.ops.get_db_converters(col)
                    + col.get_db_converters(connection)
                )
            ]
        with connection.cursor() as cursor:
            cursor.execute(self.sql, [pk])
            row = cursor.fetchone()
        if row is None:
            return None
        values = list(row)
        for i, convs, col in converters:
            for convert in convs:
                values[i] = convert(values[i], col, connection)
        return self.model.from_db(connection.alias, self.names, values)


_EXPERIMENT = _ById(Experiment)
_TAKE_NUMBER = f"""
UPDATE {Experiment._meta.db_table} SET
    individuals_created = individuals_created + 1,
    last_seq = last_seq + 2,
    boost_remaining = CASE WHEN %s THEN %s
                           WHEN %s AND boost_remaining > 0 THEN boost_remaining - 1
                           ELSE boost_remaining END,
    best_changed_at = CASE WHEN %s THEN %s ELSE best_changed_at END
WHERE id = %s AND status = %s
RETURNING individuals_created, last_seq, individuals_trained, total_flops, best_val_accuracy
"""


def _apply_here(draft: _Draft, worker: str) -> Claim:
    """evolab_birth's steps in Python, for SQLite (whose lock is the whole database)."""
    exp = draft.exp
    params = [
        draft.plateau, exp.boost_remaining, draft.boosted,
        draft.plateau, exp.best_changed_at, exp.pk, Status.RUNNING,
    ]  # fmt: skip
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute(_TAKE_NUMBER, params)
            row = cursor.fetchone()
        if row is None:
            raise _Stale
        created, exp.last_seq, exp.individuals_trained, exp.total_flops, exp.best_val_accuracy = row
        exp.individuals_created = created - 1  # as it was when this step began
        if budget_spent(exp):
            raise _Stale
        parent = None
        if draft.parent_id is not None:
            read = (
                Individual.objects.filter(pk=draft.parent_id, state=State.ALIVE)
                .values_list(*_INHERITED)
                .first()
            )
            if read is None:
                raise _Stale
            parent = _inherited(draft.parent_id, read)
        out = events.Outbox(exp, reserved=range(exp.last_seq - 1, exp.last_seq + 1))
        if not _kill(draft.victim, out, strict=False):
            raise _Stale
        ind = _create_individual(
            exp, worker, draft.dna, parent, out, draft.mutated, save_experiment=False
        )
        out.flush()
    return _claim_for(exp, ind)


# What an apply reads of the parent under the lock (the draft read its DNA): what its
# Claim inherits, as it is now (a reset may have been asked for since the draft).
_INHERITED = ("weights", "weights_reset", "steps")


def _inherited(pk: int, values: tuple) -> Individual:
    return Individual(pk=pk, **dict(zip(_INHERITED, values, strict=True)))


def _claim_for(exp: Experiment, ind: Individual) -> Claim:
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
        row={f: getattr(ind, f) for f in _ROW_FIELDS},
    )


# The columns of a child's row that its commit does not set, for the BIRTH event's payload.
_ROW_FIELDS = ("number", "parent_id", "mutation", "mutation_description", "born", "worker")


def _leased(pk: int, token: Any) -> Any:
    """The child's row only while it is still training under this lease: the fence every
    write about a child in training goes through (commit, heartbeat, takeover, failure)."""
    return Individual.objects.filter(pk=pk, state=State.TRAINING, lease_token=token)


def _lease(ind: Individual, worker: str) -> None:
    ind.lease_token = uuid.uuid4()
    ind.lease_expires = timezone.now() + timedelta(seconds=settings.EVOLAB_LEASE_SECONDS)
    ind.worker = worker
    ind.attempts += 1
    ind.progress_step = 0
    ind.progress_loss = None


def _take_over_expired(exp: Experiment, worker: str, out: events.Outbox) -> Individual | None:
    """A child whose worker stopped heartbeating is retrained, not lost (PAPER.md §1.4)."""
    for ind in exp.individuals.lease_expired().select_related("parent").order_by("number"):
        if ind.attempts >= MAX_ATTEMPTS:
            reason = f"its worker was lost {ind.attempts} times while training it"
            _fail(ind, reason, out, training_only=True)
            continue
        old_token = ind.lease_token
        _lease(ind, worker)
        # Conditional on the old lease: a commit (which takes no selection lock) may have
        # made the child alive a moment ago; then there is nothing to take over.
        fields = ("lease_token", "lease_expires", "worker", "attempts", "progress_step",
                  "progress_loss")  # fmt: skip
        if not _leased(ind.pk, old_token).update(**{f: getattr(ind, f) for f in fields}):
            continue
        out.add(
            events.STARTED,
            {"id": ind.pk, "worker": worker, "attempt": ind.attempts, "takeover": True},
        )
        return ind
    return None


def _create_individual(
    exp: Experiment,
    worker: str,
    dna: dict,
    parent: Individual | None,
    out: events.Outbox,
    mutated: Any = None,
    save_experiment: bool = True,
) -> Individual:
    ind = _new_child(exp, worker, dna, parent.pk if parent else None, mutated)
    ind.parent = parent
    ind.save(force_insert=True)
    exp.individuals_created += 1
    if save_experiment:  # (the drafted path counted it already)
        exp.save(update_fields=["individuals_created", "boost_remaining", "best_changed_at"])
    out.add(events.STARTED, {"id": ind.pk, "number": ind.number, **_started_data(ind)})
    return ind


def _new_child(
    exp: Experiment, worker: str, dna: dict, parent_id: int | None, mutated: Any
) -> Individual:
    """The unsaved row of a new child under a fresh lease to `worker`."""
    ind = Individual(experiment=exp, number=exp.individuals_created, parent_id=parent_id, dna=dna)
    if mutated is not None:
        ind.mutation = mutated.records[-1].name if mutated.records else ""
        ind.mutation_description = "; ".join(r.description for r in mutated.records)
        ind.mutation_records = [r.to_json() for r in mutated.records]
        ind.reset_weights = mutated.reset_weights
    _lease(ind, worker)
    return ind


def _started_data(ind: Individual) -> dict[str, Any]:
    """The STARTED event of a new child, less its id and number."""
    return {
        "worker": ind.worker,
        "parent": ind.parent_id,
        "mutation": ind.mutation or None,
        "attempt": 1,
        "takeover": False,
    }


class _Alive(Sequence):
    """The alive members of a population as Candidates, from one "id accuracy number,..."
    string, each parsed only when read: a tournament reads two of P. Fetching P rows cost
    more Python than the rest of a claim (scale bench); one string costs next to nothing."""

    def __init__(self, packed: str | None) -> None:
        self.members = packed.split(",") if packed else []

    def __len__(self) -> int:
        return len(self.members)

    def __getitem__(self, i: int) -> Candidate:  # type: ignore[override]
        pk, acc, born = self.members[i].split()
        return Candidate(int(pk), float(acc), int(born))


def _population(exp: Experiment) -> tuple[Sequence[Candidate], int, bool]:
    """The alive candidates, the number of children in training and whether one of those has
    an expired lease, in one query and one row (_Alive)."""
    now = connection.ops.adapt_datetimefield_value(timezone.now())
    with connection.cursor() as cursor:
        cursor.execute(_POPULATION[connection.vendor == "sqlite"], [now, exp.pk])
        packed, n_training, orphaned = cursor.fetchone()
    return _Alive(packed), n_training, bool(orphaned)


# An unset accuracy reads as 0.0. SQLite's own REAL to text keeps 15 digits, so it prints 17:
# a candidate's accuracy must be the stored float exactly (ties are broken on it).
_POPULATION = tuple(
    f"""SELECT {agg} FILTER (WHERE state = '{State.ALIVE}'),
    COUNT(*) FILTER (WHERE state = '{State.TRAINING}'),
    COALESCE(MAX(CASE WHEN state = '{State.TRAINING}' AND lease_expires < %s THEN 1 END), 0)
FROM {Individual._meta.db_table} WHERE experiment_id = %s
    AND state IN ('{State.ALIVE}', '{State.TRAINING}')"""
    for agg in (
        "STRING_AGG(id || ' ' || COALESCE(val_accuracy, 0) || ' ' || number, ',')",
        "GROUP_CONCAT("
        "id || ' ' || PRINTF('%%!.17g', COALESCE(val_accuracy, 0)) || ' ' || number, ',')",
    )
)  # (PostgreSQL, SQLite)


def _tournament_and_child(exp: Experiment, worker: str, out: events.Outbox) -> Individual | None:
    alive, n_training, _ = _population(exp)
    rng = random.Random(f"{exp.cfg.seed}:{exp.individuals_created}")
    try:
        planned = _plan_child(exp, rng, alive, n_training)
    except _CorruptParent as exc:  # a corrupted row never reaches a worker: it leaves the run
        _fail(exc.parent, f"invalid DNA: {exc.error}", out)
        return None
    if planned is None:
        return None
    kill, parent, dna, mutated = planned
    for victim in kill:
        _kill(victim, out)
    return _create_individual(exp, worker, dna, parent, out, mutated)


# What planning a child reads of its parent, and what its Claim needs (_claim_for).
_PARENT = _ById(Individual, ["id", "dna", "weights", "weights_reset", "steps"])


class _CorruptParent(Exception):
    def __init__(self, parent: Individual, error: DNAError) -> None:
        super().__init__(str(error))
        self.parent, self.error = parent, error


def _plan_child(
    exp: Experiment, rng: random.Random, alive: Sequence[Candidate], n_training: int
) -> tuple[list[int], Individual | None, dict[str, Any], Any] | None:
    """Who dies, who breeds and the child's DNA, from the population as read now; None when
    too few are alive. Changes nothing but the boost fields on `exp` (the caller saves them).
    A parent whose DNA does not parse raises _CorruptParent."""
    cfg = exp.cfg
    if len(alive) < (2 if cfg.selection == "tournament" else 1):
        return None
    # The population counts children in training: the kill and the birth are separate
    # events, and the set-point P holds for alive + training (PAPER.md §1).
    plan = plan_step(
        cfg.selection, alive, max(1, cfg.population - n_training), rng, sample_size=cfg.sample_size
    )
    limits = child_limits(cfg)
    if plan.fresh:  # random-search control: a fresh random chain, trained from scratch
        dna = random_dna(rng, chain_length=rng.randint(1, 20), in_shape=cfg.in_shape, limits=limits)
        return list(plan.kill), None, dna.to_json(), None
    parent = _PARENT.get(plan.parent)
    if parent is None:  # only a draft reads unlocked: the row went while it was planned
        raise _Stale
    try:
        parent_dna = DNA.from_json(parent.dna, limits=limits, in_shape=cfg.in_shape)
    except DNAError as exc:
        raise _CorruptParent(parent, exc) from exc
    mutated = mutate(
        parent_dna, rng, count=_mutation_count(exp), in_shape=cfg.in_shape, limits=limits
    )
    return list(plan.kill), parent, mutated.dna.to_json(), mutated


def child_limits(cfg: ExperimentConfig) -> Limits:
    """Genome limits for this run: the memory cap is for its batch size (hardening)."""
    return Limits(
        max_memory_bytes=settings.EVOLAB_MAX_CHILD_MEMORY_MB * 2**20, memory_batch=cfg.batch_size
    )


def _mutation_count(exp: Experiment) -> int:
    cfg = exp.cfg
    plateau = cfg.plateau_individuals
    if plateau and exp.individuals_trained - exp.best_changed_at >= plateau:
        exp.boost_remaining = cfg.population  # boost for one generation, then re-check
        exp.best_changed_at = exp.individuals_trained
    if exp.boost_remaining > 0:
        exp.boost_remaining -= 1
        return ESCAPE_MUTATIONS
    return cfg.mutations_per_child


def _kill(pk: int, out: events.Outbox, strict: bool = True) -> bool:
    """The conditional update is the guard against a double kill: only an alive row dies.
    Under the locked path the victim must be alive (strict); a draft's may have died since."""
    now = timezone.now()
    if Individual.objects.filter(pk=pk, state=State.ALIVE).update(state=State.DEAD, died=now) != 1:
        if strict:
            raise RuntimeError(f"individual {pk} was not alive when its tournament killed it")
        return False
    out.add(events.DEATH, {"id": pk, "died": now.timestamp()})
    return True


def _fail(ind: Individual, reason: str, out: events.Outbox, training_only: bool = False) -> None:
    """Mark it failed; with training_only, only if it is still training under the same lease
    (a commit, which takes no selection lock, may just have made it alive)."""
    rows = (
        _leased(ind.pk, ind.lease_token) if training_only else Individual.objects.filter(pk=ind.pk)
    )
    now = timezone.now()
    if rows.update(state=State.FAILED, failure_reason=reason, lease_token=None, died=now):
        out.add(events.FAILED, {"id": ind.pk, "reason": reason})


def heartbeat(claim_: Claim, step: int, loss: float | None) -> bool:
    """Extend the lease and record progress; False when the lease was lost (stop training)."""
    if loss is not None and not math.isfinite(loss):
        loss = None  # a diverged child: NaN is not JSON (a browser's JSON.parse throws on it)
    expires = timezone.now() + timedelta(seconds=settings.EVOLAB_LEASE_SECONDS)
    held = _leased(claim_.individual_id, claim_.token).update(
        lease_expires=expires, progress_step=step, progress_loss=loss
    )
    if held:
        events.progress(
            claim_.experiment_id,
            {
                "id": claim_.individual_id,
                "step": step,
                "loss": loss,
                "steps": claim_.config["steps_per_child"],
            },
        )
    return bool(held)


@dataclass(frozen=True)
class TrainedChild:
    val_accuracy: float
    flops: float
    params: int
    steps: int
    train_seconds: float  # training + validation: the part of a step that is the paper's work
    weights: bytes
    timings: dict[str, float] = field(default_factory=dict)  # seconds per phase of the step


def commit(claim_: Claim, child: TrainedChild) -> bool:
    """Store the weights, then make the child alive if we still hold its lease.

    Weights are written first under a name unique to this lease, so a crash between the two
    leaves only an unreferenced file (removed by `collect_garbage`), never a row without its
    weights; a fenced-out worker's file is deleted at once.
    """
    name = default_storage.save(
        weights_name(claim_.experiment_id, claim_.number, claim_.token),
        ContentFile(child.weights),
    )
    try:
        committed = _commit_row(claim_, child, name)
    except Exception:
        default_storage.delete(name)
        raise
    if not committed:
        default_storage.delete(name)
    return committed


def _commit_row(claim_: Claim, child: TrainedChild, name: str) -> bool:
    """The fenced update of the child, the experiment's counters and the BIRTH event.

    A commit needs no selection lock: the lease token fences the child's row, and turning
    training into alive leaves the population count (alive + training) as it was. The
    experiment row is written last, so its lock is held for as little as possible: on
    PostgreSQL all three are one statement; on SQLite, three in one transaction.
    """
    done = {
        "state": State.ALIVE,
        "val_accuracy": child.val_accuracy,
        "flops": child.flops,
        "params": child.params,
        "steps": claim_.lineage_steps + child.steps,
        "trained": timezone.now(),
        "train_seconds": child.train_seconds,
        "weights": name,
        "weights_size": len(child.weights),
        "lease_token": None,
        "lease_expires": None,
        "progress_step": child.steps,
    }
    payload = events.individual_payload(Individual(pk=claim_.individual_id, **claim_.row, **done))
    acc = child.val_accuracy
    counters = [child.flops, len(child.weights), acc, claim_.individual_id, acc, acc, acc]
    if connection.vendor == "postgresql":
        sets = ", ".join(f"{Individual._meta.get_field(f).column} = %s" for f in done)
        with connection.cursor() as cursor:
            cursor.execute(
                _COMMIT_ONE_STATEMENT.format(sets=sets),
                [*done.values(), claim_.individual_id, uuid.UUID(claim_.token), *counters,
                 claim_.experiment_id, claim_.experiment_id, json.dumps(payload)],
            )  # fmt: skip
            row = cursor.fetchone()
        if row is None:
            log.warning("child %s: lease lost, result discarded", claim_.individual_id)
            return False
        data = {**payload, "weights_bytes_total": row[1]}
        message = {"seq": row[0], "kind": events.BIRTH, "data": data}
        transaction.on_commit(lambda: events.broadcast(claim_.experiment_id, message))
        return True
    with transaction.atomic():
        if not _leased(claim_.individual_id, claim_.token).update(**done):
            log.warning("child %s: lease lost, result discarded", claim_.individual_id)
            return False
        with connection.cursor() as cursor:  # takes the experiment's row lock
            cursor.execute(f"UPDATE {_BIRTH_COUNTERS} WHERE id = %s {_RETURNING_SEQ}",
                           [*counters, claim_.experiment_id])  # fmt: skip
            seq, total = cursor.fetchone()
        events.append(
            claim_.experiment_id, seq, events.BIRTH, {**payload, "weights_bytes_total": total}
        )
    return True


# Counters, best-so-far and the next event seq (SET reads the old values on PostgreSQL and
# SQLite alike); parameters: flops, weight bytes, then accuracy, id, accuracy x3 for the best.
_BETTER = "(best_val_accuracy IS NULL OR best_val_accuracy < %s)"
_BIRTH_COUNTERS = f"""{Experiment._meta.db_table} SET
    individuals_trained = individuals_trained + 1,
    total_flops = total_flops + %s,
    weights_bytes = weights_bytes + %s,
    best_id = CASE WHEN {_BETTER} THEN %s ELSE best_id END,
    best_changed_at = CASE WHEN {_BETTER} THEN individuals_trained + 1 ELSE best_changed_at END,
    best_val_accuracy = CASE WHEN {_BETTER} THEN %s ELSE best_val_accuracy END,
    last_seq = last_seq + 1"""
_RETURNING_SEQ = "RETURNING last_seq, weights_bytes"

# PostgreSQL: the fenced child, the counters and the event as one statement, so the
# experiment's row is locked only while the server runs it. No row back = the lease was lost.
_COMMIT_ONE_STATEMENT = f"""WITH child AS (
    UPDATE {Individual._meta.db_table} SET {{sets}}
    WHERE id = %s AND state = 'training' AND lease_token = %s RETURNING id
), exp AS (
    UPDATE {_BIRTH_COUNTERS}
    WHERE id = %s AND EXISTS (SELECT 1 FROM child) {_RETURNING_SEQ}
)
INSERT INTO {Event._meta.db_table} (experiment_id, seq, kind, data, created)
SELECT %s, exp.last_seq, '{events.BIRTH}',
       %s::jsonb || jsonb_build_object('weights_bytes_total', exp.weights_bytes), now()
FROM exp RETURNING seq, (data ->> 'weights_bytes_total')::bigint"""


def record_timings(individual_id: int, timings: dict[str, float]) -> None:
    """Store what each phase of the child's step cost (training and commit included)."""
    Individual.objects.filter(pk=individual_id).update(
        timings={k: round(v, 6) for k, v in timings.items()}
    )


def fail(claim_: Claim, reason: str) -> None:
    """Training raised: record it (the run goes on; the population refills next step)."""
    with transaction.atomic():
        exp = Experiment.objects.select_for_update().get(pk=claim_.experiment_id)
        ind = Individual.objects.get(pk=claim_.individual_id)
        if ind.state == State.TRAINING and str(ind.lease_token) == claim_.token:
            out = events.Outbox(exp)
            _fail(ind, reason, out)
            out.flush()


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
        events.emit(exp.pk, events.STATUS, {**events.experiment_payload(exp), "reason": reason})
        if target == Status.FINISHED:
            transaction.on_commit(lambda: _queue_final_evaluation(experiment_id))
        if target in (Status.FINISHED, Status.STOPPED):
            transaction.on_commit(lambda: sweep_orphan_weights(experiment_id))
        return target


def _queue_final_evaluation(experiment_id: int) -> None:
    from workers.tasks import evaluate_final

    evaluate_final.delay(experiment_id)


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
        .order_by("-val_accuracy", "number")
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


__all__ = [
    "Claim",
    "TrainedChild",
    "claim",
    "commit",
    "fail",
    "heartbeat",
    "settle",
    "collect_garbage",
    "budget_spent",
    "WAIT",
    "DONE",
    "ExperimentConfig",
]
