"""The portable path of a claim's apply and a child's commit: plain statements in one
transaction, for SQLite (whose lock is the whole database) and any other database.
postgres.py does the same in one server-side call each; both take what claims.py and
commits.py give them and must leave the same rows and events (tests/unit/web/
test_claim_paths_agree.py)."""

from __future__ import annotations

from django.db import connection, transaction

from . import events
from .children import INHERITED as INHERITED_FIELDS
from .children import (
    Claim,
    Draft,
    Stale,
    budget_spent,
    claim_for,
    create_individual,
    inherited,
    kill,
    leased,
)  # fmt: skip
from .models import Experiment, Individual, State, Status

# The child's number and two event seqs, if the run still runs; the boost bookkeeping.
_TAKE_NUMBER = f"""
UPDATE {Experiment._meta.db_table} SET
    individuals_created = individuals_created + 1,
    last_seq = last_seq + 2,
    boost_remaining = CASE WHEN %s THEN %s
                           WHEN %s AND boost_remaining > 0 THEN boost_remaining - 1
                           ELSE boost_remaining END,
    best_changed_at = CASE WHEN %s THEN %s ELSE best_changed_at END
WHERE id = %s AND status = %s AND individuals_failed = %s
RETURNING individuals_created, last_seq, individuals_trained, total_flops, best_val_accuracy
"""


def apply_draft(draft: Draft, worker: str) -> Claim:
    """evolab_birth's steps in Python: take the number, re-check the budget, the parent, the
    population (a kill is for a full one only: no child may have failed since the draft, so
    the run's failed counter must be the one drafted) and the victim, insert the child; raise
    Stale (changing nothing) where the draft went stale."""
    exp, plan = draft.exp, draft.plan
    params = [
        plan.plateau, plan.boost_remaining, plan.boosted,
        plan.plateau, plan.best_changed_at, exp.pk, Status.RUNNING, exp.individuals_failed,
    ]  # fmt: skip
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute(_TAKE_NUMBER, params)
            row = cursor.fetchone()
        if row is None:
            raise Stale
        created, exp.last_seq, exp.individuals_trained, exp.total_flops, exp.best_val_accuracy = row
        exp.individuals_created = created - 1  # as it was when this step began
        if budget_spent(exp):
            raise Stale
        parent = None
        if plan.parent is not None:  # read before the kill: under aging it may be the victim
            read = (
                Individual.objects.filter(pk=plan.parent, state=State.ALIVE)
                .values_list(*INHERITED_FIELDS)
                .first()
            )
            if read is None:
                raise Stale
            parent = inherited(plan.parent, read)
        out = events.Outbox(exp, reserved=range(exp.last_seq - 1, exp.last_seq + 1))
        if not kill(draft.victim, out, strict=False):
            raise Stale
        ind = create_individual(exp, worker, plan, parent, out, save_experiment=False)
        out.flush()
    return claim_for(exp, ind)


# Counters, best-so-far and the next event seq (SET reads the old values on PostgreSQL and
# SQLite alike). The best moves to a child at least as good (the younger wins a tie:
# evolab.evolution.step.is_new_best); only a strict rise restarts the plateau count.
# Parameters: flops, weight bytes, then accuracy x2 (best id), accuracy x2 (changed at),
# accuracy x2 (best accuracy); COUNTER_ARGS builds them.
_AT_LEAST = "(best_val_accuracy IS NULL OR best_val_accuracy <= %s)"
_BETTER = "(best_val_accuracy IS NULL OR best_val_accuracy < %s)"
BIRTH_COUNTERS = f"""{Experiment._meta.db_table} SET
    individuals_trained = individuals_trained + 1,
    total_flops = total_flops + %s,
    weights_bytes = weights_bytes + %s,
    best_id = CASE WHEN {_AT_LEAST} THEN %s ELSE best_id END,
    best_changed_at = CASE WHEN {_BETTER} THEN individuals_trained + 1 ELSE best_changed_at END,
    best_val_accuracy = CASE WHEN {_AT_LEAST} THEN %s ELSE best_val_accuracy END,
    last_seq = last_seq + 1"""
RETURNING_SEQ = "RETURNING last_seq, weights_bytes"


def counter_args(claim: Claim, flops: float, size: int, acc: float) -> list:
    return [flops, size, acc, claim.individual_id, acc, acc, acc]


def commit_row(claim: Claim, done: dict, payload: dict, counters: list) -> bool:
    """The fenced update of the child, the experiment's counters and the BIRTH event, in
    one transaction; the experiment's row last, so its lock is held the least."""
    with transaction.atomic():
        if not leased(claim.individual_id, claim.token).update(**done):
            return False
        with connection.cursor() as cursor:  # takes the experiment's row lock
            cursor.execute(f"UPDATE {BIRTH_COUNTERS} WHERE id = %s {RETURNING_SEQ}",
                           [*counters, claim.experiment_id])  # fmt: skip
            seq, total = cursor.fetchone()
        events.append(claim.experiment_id, seq, events.BIRTH, events.birth(payload, total))
    return True
