"""The one place that defines event payloads and appends them to an experiment's log.

Events are written in the same transaction as the change they describe and broadcast to the
experiment's channel group only after commit (the database is the truth; the websocket is a
courier, STYLE.md §5). A client that missed some asks for everything after its last seq.
"""

from __future__ import annotations

import logging
from typing import Any

from django.db import connection, transaction

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
KINDS = (BIRTH, DEATH, STARTED, FAILED, STATUS, RESULT)


def group_name(experiment_id: int) -> str:
    return f"experiment-{experiment_id}"


def individual_payload(ind: Individual) -> dict[str, Any]:
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


def experiment_payload(exp: Experiment) -> dict[str, Any]:
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
    }


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
    from .courier import courier

    for message in messages:
        courier.send(group_name(experiment_id), {"type": "evolab.event", "event": message})


def progress(experiment_id: int, data: dict[str, Any]) -> None:
    """Broadcast a child's progress live (no seq: a client that misses one loses nothing)."""
    from .courier import courier

    courier.send(group_name(experiment_id), {"type": "evolab.progress", "data": data})
