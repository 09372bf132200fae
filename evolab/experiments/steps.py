"""One evolutionary step, split around the training: claim (select + mutate) and commit.

PAPER.md §1: a worker samples two alive individuals, kills the worse, copies and mutates the
better, trains the child and puts it back. Here the selection and the birth of the child's
row happen in one transaction holding the experiment row's lock (a row lock on PostgreSQL, the
database write lock on SQLite), so no pair is killed twice and the population stays at its
set-point however many workers run. Training happens outside any transaction under a lease
with a fencing token: only the current holder may commit, so a child is never committed twice
and a child whose worker died is retrained by whoever takes the expired lease over.
"""

from __future__ import annotations

import logging
import random
import uuid
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import connection, transaction
from django.db.models import F
from django.utils import timezone

from evolab.evolution.dna import DNA, DNAError, Limits
from evolab.evolution.mutations import mutate, random_dna
from evolab.evolution.selection import Candidate, plan_step

from . import events
from .config import ExperimentConfig
from .models import Experiment, Individual, State, Status
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
    """Select, kill and reserve in one transaction; return the child to train, WAIT or DONE."""
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
    )


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
) -> Individual:
    ind = Individual(experiment=exp, number=exp.individuals_created, parent=parent, dna=dna)
    if mutated is not None:
        ind.mutation = mutated.records[-1].name if mutated.records else ""
        ind.mutation_description = "; ".join(r.description for r in mutated.records)
        ind.mutation_records = [r.to_json() for r in mutated.records]
        ind.reset_weights = mutated.reset_weights
    _lease(ind, worker)
    ind.save(force_insert=True)
    exp.individuals_created += 1
    exp.save(update_fields=["individuals_created", "boost_remaining", "best_changed_at"])
    out.add(
        events.STARTED,
        {
            "id": ind.pk,
            "number": ind.number,
            "worker": worker,
            "parent": ind.parent_id,
            "mutation": ind.mutation or None,
            "attempt": 1,
            "takeover": False,
        },
    )
    return ind


def _population(exp: Experiment) -> tuple[list[Candidate], int]:
    """The alive candidates and the number of children in training, in one query."""
    rows = exp.individuals.filter(state__in=[State.ALIVE, State.TRAINING]).values_list(
        "pk", "val_accuracy", "number", "state"
    )
    alive, training = [], 0
    for pk, acc, number, state in rows:
        if state == State.ALIVE:
            alive.append(Candidate(id=pk, val_accuracy=acc or 0.0, born=number))
        else:
            training += 1
    return alive, training


def _tournament_and_child(exp: Experiment, worker: str, out: events.Outbox) -> Individual | None:
    cfg = exp.cfg
    alive, n_training = _population(exp)
    if len(alive) < (2 if cfg.selection == "tournament" else 1):
        return None
    rng = random.Random(f"{cfg.seed}:{exp.individuals_created}")
    # The population counts children in training: the kill and the birth are separate
    # events, and the set-point P holds for alive + training (PAPER.md §1).
    plan = plan_step(
        cfg.selection, alive, max(1, cfg.population - n_training), rng, sample_size=cfg.sample_size
    )
    for victim in plan.kill:
        _kill(victim, out)
    if plan.fresh:  # random-search control: a fresh random chain, trained from scratch
        dna = random_dna(
            rng, chain_length=rng.randint(1, 20), in_shape=cfg.in_shape, limits=child_limits(cfg)
        )
        return _create_individual(exp, worker, dna.to_json(), None, out)
    parent = Individual.objects.get(pk=plan.parent)
    limits = child_limits(cfg)
    try:
        parent_dna = DNA.from_json(parent.dna, limits=limits, in_shape=cfg.in_shape)
    except DNAError as exc:  # a corrupted row never reaches a worker: it leaves the run
        _fail(parent, f"invalid DNA: {exc}", out)
        return None
    mutated = mutate(
        parent_dna, rng, count=_mutation_count(exp), in_shape=cfg.in_shape, limits=limits
    )
    return _create_individual(exp, worker, mutated.dna.to_json(), parent, out, mutated)


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


def _kill(pk: int, out: events.Outbox) -> None:
    # The conditional update is the guard against a double kill: only an alive row dies.
    now = timezone.now()
    if Individual.objects.filter(pk=pk, state=State.ALIVE).update(state=State.DEAD, died=now) != 1:
        raise RuntimeError(f"individual {pk} was not alive when its tournament killed it")
    out.add(events.DEATH, {"id": pk, "died": now.timestamp()})


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
    """The fenced update of the child, then the experiment's counters and the birth event.

    A commit needs no selection lock: the lease token fences the child's row, and turning
    training into alive leaves the population count (alive + training) as it was. The
    experiment row is written last, in one conditional UPDATE, so its lock is held only from
    there to COMMIT, not for the whole commit (scale bench, bench/README.md).
    """
    now = timezone.now()
    ind_id = claim_.individual_id
    with transaction.atomic():
        changed = _leased(ind_id, claim_.token).update(
            state=State.ALIVE,
            val_accuracy=child.val_accuracy,
            flops=child.flops,
            params=child.params,
            steps=claim_.lineage_steps + child.steps,
            trained=now,
            train_seconds=child.train_seconds,
            weights=name,
            weights_size=len(child.weights),
            lease_token=None,
            lease_expires=None,
            progress_step=child.steps,
        )
        if not changed:
            log.warning("child %s: lease lost, result discarded", ind_id)
            return False
        payload = events.individual_payload(Individual.objects.get(pk=ind_id))
        seq, total = _count_birth(claim_.experiment_id, ind_id, child)  # takes the row lock
        events.append(
            claim_.experiment_id, seq, events.BIRTH, {**payload, "weights_bytes_total": total}
        )
    return True


_COUNT_BIRTH = """
UPDATE {table} SET
    individuals_trained = individuals_trained + 1,
    total_flops = total_flops + %s,
    weights_bytes = weights_bytes + %s,
    best_id = CASE WHEN {better} THEN %s ELSE best_id END,
    best_changed_at = CASE WHEN {better} THEN individuals_trained + 1 ELSE best_changed_at END,
    best_val_accuracy = CASE WHEN {better} THEN %s ELSE best_val_accuracy END,
    last_seq = last_seq + 1
WHERE id = %s
RETURNING last_seq, weights_bytes
""".format(
    table=Experiment._meta.db_table, better="(best_val_accuracy IS NULL OR best_val_accuracy < %s)"
)


def _count_birth(experiment_id: int, ind_id: int, child: TrainedChild) -> tuple[int, int]:
    """Counters, best-so-far and the birth event's seq in one statement (SET reads the old
    values on PostgreSQL and SQLite alike); returns (seq, stored weight bytes)."""
    acc = child.val_accuracy
    params = [child.flops, len(child.weights), acc, ind_id, acc, acc, acc, experiment_id]
    with connection.cursor() as cursor:
        cursor.execute(_COUNT_BIRTH, params)
        seq, total = cursor.fetchone()
    return seq, total


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
