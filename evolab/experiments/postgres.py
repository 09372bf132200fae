"""The PostgreSQL fast path of a claim's apply and a child's commit: one server-side call each.

With 250 workers the experiment row's lock is the serial section of the whole run, and what
it was held for was mostly the client: each statement after the lock waited for its worker to
be scheduled again. Run on the server, the same statements hold it for well under a
millisecond: 45 -> 245 steps/s at 250 workers (bench/README.md, scale). The function lives in
sql/evolab_birth.sql (loaded by migration 0005); portable.py is the same in Python.
"""

from __future__ import annotations

import contextlib
import json
import uuid
from datetime import timedelta
from typing import Any

from django.db import DatabaseError, connection, transaction
from django.utils import timezone

from evolab.evolution.step import individuals_limit

from . import events
from .children import Claim, Draft, Stale, claim_for, inherited, new_child, started_fields
from .models import Event, Experiment, Individual, Status
from .portable import BIRTH_COUNTERS, RETURNING_SEQ

STALE_SQLSTATE = "EV001"  # raised by evolab_birth when a draft no longer holds
_BIRTH_CALL = (
    "SELECT * FROM evolab_birth(%s, %s, %s, %s::double precision, %s::double precision, "
    "%s::timestamptz, %s, %s, %s, %s, %s, %s, %s::timestamptz, %s::bigint, %s::jsonb, "
    "%s::jsonb, %s::jsonb)"
)


def _budget_args(exp: Experiment) -> list[Any]:
    """budget_spent()'s limits as SQL arguments (None = no such budget); the individuals
    limit is the cap with failed children refilled (step.individuals_limit)."""
    cfg = exp.cfg
    deadline = None
    if cfg.max_seconds and exp.started:
        deadline = exp.started + timedelta(seconds=cfg.max_seconds)
    limit = individuals_limit(cfg, exp.individuals_failed)
    return [limit, cfg.max_flops or None, cfg.target_accuracy or None, deadline]


def _row_json(ind: Individual) -> str:
    """Every column of an unsaved row but its id, as JSON for jsonb_populate_record."""
    row = {
        f.column: f.value_from_object(ind)
        for f in Individual._meta.concrete_fields
        if not f.primary_key
    }
    return json.dumps(row, default=lambda v: v.isoformat() if hasattr(v, "isoformat") else str(v))


def apply_draft(draft: Draft, worker: str) -> Claim:
    exp, plan = draft.exp, draft.plan
    child = new_child(exp, worker, plan)
    died = timezone.now()
    death = events.death(draft.victim, died.timestamp())
    started = started_fields(child)
    params = [
        exp.pk, Status.RUNNING, *_budget_args(exp),
        plan.plateau, plan.boost_remaining, plan.boosted, plan.best_changed_at,
        exp.individuals_failed, draft.victim, died, plan.parent,
        _row_json(child), json.dumps(death), json.dumps(events.started_rest(**started)),
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
            raise Stale from exc
        raise
    child.pk, child.number = cid, number
    if plan.parent is not None:
        child.parent = inherited(plan.parent, (p_weights, p_reset, p_steps))
    messages = [
        {"seq": seq, "kind": events.DEATH, "data": death},
        {"seq": seq + 1, "kind": events.STARTED, "data": events.started(cid, number, **started)},
    ]
    transaction.on_commit(lambda: events.broadcast(exp.pk, *messages))
    return claim_for(exp, child)


# The fenced child, the counters and the event as one statement, so the experiment's row is
# locked only while the server runs it. No row back = the lease was lost.
_COMMIT_ONE_STATEMENT = f"""WITH child AS (
    UPDATE {Individual._meta.db_table} SET {{sets}}
    WHERE id = %s AND state = 'training' AND lease_token = %s RETURNING id
), exp AS (
    UPDATE {BIRTH_COUNTERS}
    WHERE id = %s AND EXISTS (SELECT 1 FROM child) {RETURNING_SEQ}
)
INSERT INTO {Event._meta.db_table} (experiment_id, seq, kind, data, created)
SELECT %s, exp.last_seq, '{events.BIRTH}',
       %s::jsonb || jsonb_build_object('{events.WEIGHTS_TOTAL}', exp.weights_bytes), now()
FROM exp RETURNING seq, (data ->> '{events.WEIGHTS_TOTAL}')::bigint"""


def commit_row(claim: Claim, done: dict, payload: dict, counters: list) -> bool:
    fields = [Individual._meta.get_field(f) for f in done]
    sets = ", ".join(f"{field.column} = %s" for field in fields)
    # As the ORM would send them (a JSON field's list as jsonb, not as an SQL array).
    values = [f.get_db_prep_save(v, connection) for f, v in zip(fields, done.values(), strict=True)]
    with connection.cursor() as cursor:
        cursor.execute(
            _COMMIT_ONE_STATEMENT.format(sets=sets),
            [*values, claim.individual_id, uuid.UUID(claim.token), *counters,
             claim.experiment_id, claim.experiment_id, json.dumps(payload)],
        )  # fmt: skip
        row = cursor.fetchone()
    if row is None:
        return False
    message = {"seq": row[0], "kind": events.BIRTH, "data": events.birth(payload, row[1])}
    transaction.on_commit(lambda: events.broadcast(claim.experiment_id, message))
    return True
