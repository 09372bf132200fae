"""The one place that defines event payloads and appends them to an experiment's log.

Events are written in the same transaction as the change they describe and broadcast to the
experiment's channel group only after commit (the database is the truth; the websocket only
carries it: sender.py sends, consumers.py relays to each browser). A client that missed
some asks for everything after its last seq.
"""

from __future__ import annotations

import logging
from typing import Any, TypedDict

from django.db import connection, transaction
from django.dispatch import Signal

from . import actions
from .models import Event, Experiment, Individual

log = logging.getLogger(__name__)

BIRTH = "birth"  # a child (or initial individual) finished training and joined the population
DEATH = "death"  # killed by a tournament (or by aging)
STARTED = "started"  # a worker began (or took over) training a child
# Progress (steps done / loss of a child in training) is not logged: it is transient state kept
# on the individual's row and broadcast live only. Logging it would put two writes per second
# per worker on the experiment's row lock (500/s at the paper's 250 workers).
PROGRESS = "progress"
FAILED = "failed"  # a child could not be trained
STATUS = "status"  # the experiment's status changed
RESULT = "result"  # test accuracy of the best / the ensemble
EDITED = "edited"  # renamed, notes, tags, archived or (before the start) settings changed
KINDS = (BIRTH, DEATH, STARTED, FAILED, STATUS, RESULT, EDITED)


# Sent after commit with each transaction's events (experiment_id, messages): how other
# apps hear of a run's life (evolab.notifications) without the run's code knowing them.
committed = Signal()


def group_name(experiment_id: int) -> str:
    return f"experiment-{experiment_id}"


WEIGHTS_TOTAL = "weights_bytes_total"  # a BIRTH's disk gauge after it (set by the commit)


# --- One builder per event kind: every producer (Python and evolab_birth's arguments) builds
# its payload here, and tests/unit/web/test_event_payloads.py checks that the keys the
# frontend reads exist in these types.


class IndividualData(TypedDict):
    id: int
    number: int
    parent: int | None
    mutation: str | None
    mutation_description: str
    state: str
    val_accuracy: float | None
    test_accuracy: float | None
    flops: float
    params: int
    steps: int
    born: float | None
    trained: float | None
    died: float | None
    train_seconds: float | None
    worker: str


class BirthData(IndividualData):
    weights_bytes_total: int


class DeathData(TypedDict):
    id: int
    died: float


class StartedData(TypedDict):
    id: int
    number: int
    worker: str
    parent: int | None
    mutation: str | None
    attempt: int
    takeover: bool


class TakeoverData(TypedDict):
    id: int
    worker: str
    attempt: int
    takeover: bool


class FailedData(TypedDict):
    id: int
    reason: str


class Best(TypedDict):
    id: int | None
    val_accuracy: float | None


class StatusData(TypedDict, total=False):
    id: int
    status: str
    failure_reason: str
    individuals_trained: int
    best: Best
    total_flops: float
    weights_bytes: int
    workers: int | None
    test_accuracy: float | None
    ensemble_test_accuracy: float | None
    reason: str  # why a run came to rest (the budget spent); settling only
    escape: str  # what an escape knob did; the knobs only
    evaluating: bool  # the final test evaluation is queued or running
    actions: list[str]  # the controls that can act now (evolab.experiments.actions)
    evaluation_error: str  # why the test evaluation failed; its end only


class ResultData(TypedDict):
    best: int
    test_accuracy: float
    ensemble_test_accuracy: float
    ensemble: list[int]


class EditedData(TypedDict):
    """What a run's page, list row and tab show of it after an edit (editing.py), whole."""

    id: int
    name: str
    notes: str
    tags: list[str]
    archived: bool
    config: dict[str, Any]


class ProgressData(TypedDict):
    id: int
    step: int
    loss: float | None
    steps: int


PAYLOADS: dict[str, type] = {
    BIRTH: BirthData, DEATH: DeathData, STARTED: StartedData, FAILED: FailedData,
    STATUS: StatusData, RESULT: ResultData, PROGRESS: ProgressData, EDITED: EditedData,
}  # fmt: skip


def individual_payload(ind: Individual) -> IndividualData:
    """What the chart, the lists and the API call an individual (same names everywhere)."""
    return {
        "id": ind.pk,
        "number": ind.number,
        "parent": ind.parent_id,
        "mutation": ind.mutation or None,
        "mutation_description": ind.mutation_description,
        "state": ind.state,
        "val_accuracy": ind.val_accuracy,
        "test_accuracy": ind.test_accuracy,
        "flops": ind.flops,
        "params": ind.params,
        "steps": ind.steps,
        "born": ind.born.timestamp() if ind.born else None,
        "trained": ind.trained.timestamp() if ind.trained else None,
        "died": ind.died.timestamp() if ind.died else None,
        "train_seconds": ind.train_seconds,
        "worker": ind.worker,
    }


def birth(payload: IndividualData, weights_bytes_total: int) -> BirthData:
    return {**payload, WEIGHTS_TOTAL: weights_bytes_total}  # type: ignore[typeddict-item]


def death(pk: int, died: float) -> DeathData:
    return {"id": pk, "died": died}


def started_rest(
    worker: str, parent: int | None, mutation: str | None, attempt: int = 1
) -> dict[str, Any]:
    """A STARTED payload less its id and number (evolab_birth adds those on the server)."""
    return {"worker": worker, "parent": parent, "mutation": mutation, "attempt": attempt,
            "takeover": False}  # fmt: skip


def started(
    pk: int, number: int, worker: str, parent: int | None, mutation: str | None, attempt: int = 1
) -> StartedData:
    return {"id": pk, "number": number, **started_rest(worker, parent, mutation, attempt)}  # type: ignore[typeddict-item]


def takeover(pk: int, worker: str, attempt: int) -> TakeoverData:
    return {"id": pk, "worker": worker, "attempt": attempt, "takeover": True}


def failed(pk: int, reason: str) -> FailedData:
    return {"id": pk, "reason": reason}


def experiment_payload(exp: Experiment) -> StatusData:
    return {
        "id": exp.pk,
        "status": exp.status,
        "failure_reason": exp.failure_reason,
        "individuals_trained": exp.individuals_trained,
        "best": {"id": exp.best_id, "val_accuracy": exp.best_val_accuracy},
        "total_flops": exp.total_flops,
        "weights_bytes": exp.weights_bytes,
        "workers": exp.config.get("workers"),
        "test_accuracy": exp.test_accuracy,
        "ensemble_test_accuracy": exp.ensemble_test_accuracy,
        "evaluating": actions.evaluating(exp),
        "actions": actions.allowed(exp),
    }


def status(exp: Experiment, reason: str | None = None, escape: str | None = None) -> StatusData:
    data = experiment_payload(exp)
    if reason is not None:
        data["reason"] = reason
    if escape is not None:
        data["escape"] = escape
    return data


def result(best: int, test_accuracy: float, ensemble_accuracy: float, ensemble: list[int]):
    return ResultData(best=best, test_accuracy=test_accuracy,
                      ensemble_test_accuracy=ensemble_accuracy, ensemble=ensemble)  # fmt: skip


def edited(exp: Experiment, tags: list[str]) -> EditedData:
    return {"id": exp.pk, "name": exp.name, "notes": exp.notes, "tags": tags,
            "archived": exp.archived, "config": exp.config}  # fmt: skip


def progress_data(pk: int, step: int, loss: float | None, steps: int) -> ProgressData:
    return {"id": pk, "step": step, "loss": loss, "steps": steps}


class Outbox:
    """The events of one transaction that already holds the experiment's row lock.

    Sequence numbers come from the locked row itself (gap-free, increasing in commit order),
    the events are inserted in one statement, and they are delivered after commit.
    """

    def __init__(self, exp: Experiment, reserved: range | None = None) -> None:
        """`reserved`: seqs the caller already took on the locked row (UPDATE ... RETURNING);
        then exactly that many events are added and last_seq is left as it is."""
        self.exp = exp
        self.reserved = reserved
        self.events: list[Event] = []

    def add(self, kind: str, data: dict[str, Any]) -> None:
        assert kind in KINDS, kind
        if self.reserved is None:
            self.exp.last_seq += 1
            seq = self.exp.last_seq
        else:
            seq = self.reserved[len(self.events)]
        self.events.append(Event(experiment_id=self.exp.pk, seq=seq, kind=kind, data=data))

    def flush(self) -> None:
        """Insert the events and the new last_seq; deliver them once the transaction commits."""
        if self.reserved is not None and len(self.events) != len(self.reserved):
            raise RuntimeError(f"{len(self.reserved)} seqs reserved, {len(self.events)} used")
        if not self.events:
            return
        Event.objects.bulk_create(self.events)
        if self.reserved is None:
            Experiment.objects.filter(pk=self.exp.pk).update(last_seq=self.exp.last_seq)
        messages = [e.to_message() for e in self.events]
        transaction.on_commit(lambda: broadcast(self.exp.pk, *messages))
        self.events = []


def emit(experiment_id: int, kind: str, data: dict[str, Any]) -> Event:
    """Append one event inside the caller's transaction; deliver it after commit."""
    with transaction.atomic(savepoint=False):
        # UPDATE ... RETURNING takes the experiment row's lock and the next seq in one trip.
        with connection.cursor() as cursor:
            cursor.execute(
                f"UPDATE {Experiment._meta.db_table} SET last_seq = last_seq + 1 "
                "WHERE id = %s RETURNING last_seq",
                [experiment_id],
            )
            (seq,) = cursor.fetchone()
        return append(experiment_id, seq, kind, data)


def append(experiment_id: int, seq: int, kind: str, data: dict[str, Any]) -> Event:
    """Insert an event whose seq the caller took from the locked experiment row; deliver it
    after commit."""
    assert kind in KINDS, kind
    event = Event.objects.create(experiment_id=experiment_id, seq=seq, kind=kind, data=data)
    message = event.to_message()
    transaction.on_commit(lambda: broadcast(experiment_id, message))
    return event


def broadcast(experiment_id: int, *messages: dict[str, Any]) -> None:
    """Best effort, in order: a lost message is recovered by the client's replay."""
    from .sender import sender

    for message in messages:
        sender.send(group_name(experiment_id), {"type": "evolab.event", "event": message})
    for receiver, error in committed.send_robust(None, experiment_id=experiment_id,
                                                 messages=messages):  # fmt: skip
        if isinstance(error, Exception):
            log.error("%s failed on events of %s: %r", receiver, experiment_id, error)


def progress(experiment_id: int, data: dict[str, Any]) -> None:
    """Broadcast a child's progress live (no seq: a client that misses one loses nothing)."""
    from .sender import sender

    sender.send(group_name(experiment_id), {"type": "evolab.progress", "data": data})
