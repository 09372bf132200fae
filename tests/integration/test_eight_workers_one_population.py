"""8 worker processes on one population of 10 for 60 individuals (the Celery issue's test):
selection stays atomic under real contention on PostgreSQL row locks and SQLite's write lock.

The 8 processes are two Celery workers of 4 pool processes each: every pool process is an
OS process of its own with its own database connection, claiming on its own, and two
workers start (import torch) in a fraction of the time eight would."""

import pytest

from .harness import Stack
from .invariants import (
    assert_exact_accounting,
    assert_parents_alive_at_birth,
    assert_population_invariant,
)

pytestmark = pytest.mark.integration
P, BUDGET = 10, 60


def most_at_once(spans) -> int:
    """The most children in training at one moment, from their (born, trained) times."""

    def moment(value):  # PostgreSQL gives datetimes, SQLite ISO strings (both UTC)
        text = value if isinstance(value, str) else value.isoformat(" ", "microseconds")
        return text[:26].ljust(26, "0")

    edges = sorted([(moment(b), 1) for b, _ in spans] + [(moment(t), -1) for _, t in spans])
    most = now = 0
    for _, delta in edges:
        now += delta
        most = max(most, now)
    return most


@pytest.mark.parametrize("kind", ["postgres", "embedded"])
def test_eight_workers_keep_every_invariant(kind, tmp_path):
    stack = Stack(kind, tmp_path).start(workers=2, concurrency=4)
    try:
        s = stack.session()
        exp = stack.create(
            s,
            {
                "dataset": "digits",
                "population": P,
                "workers": 8,
                "steps_per_child": 5,
                "max_individuals": BUDGET,
                "seed": 8,
            },
        )
        stack.wait_status(s, exp["id"], ("finished",), timeout=300)
        assert_exact_accounting(stack, exp["id"], P, BUDGET)
        assert_population_invariant(stack, exp["id"], P)
        assert_parents_alive_at_birth(stack, exp["id"])
        orphans = stack.sql(
            "SELECT COUNT(*) FROM experiments_individual WHERE "
            "experiment_id = ? AND state = 'training'",
            (exp["id"],),
        )[0][0]
        assert orphans == 0
        workers = stack.sql(
            "SELECT COUNT(DISTINCT worker) FROM experiments_individual WHERE experiment_id = ?",
            (exp["id"],),
        )[0][0]
        assert workers == 2  # the work really was spread over both workers' pools
        spans = stack.sql(
            "SELECT born, trained FROM experiments_individual WHERE experiment_id = ? "
            "AND parent_id IS NOT NULL AND trained IS NOT NULL",
            (exp["id"],),
        )
        assert most_at_once(spans) >= 3  # and over more than one process of a pool
    finally:
        stack.stop()
