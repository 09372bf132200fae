"""8 worker processes on one population of 10 for 60 individuals (the Celery issue's test):
selection stays atomic under real contention on PostgreSQL row locks and SQLite's write lock."""

import pytest

from .harness import Stack
from .invariants import (
    assert_exact_accounting,
    assert_parents_alive_at_birth,
    assert_population_invariant,
)

pytestmark = pytest.mark.integration
P, BUDGET = 10, 60


@pytest.mark.parametrize("kind", ["postgres", "embedded"])
def test_eight_workers_keep_every_invariant(kind, tmp_path):
    stack = Stack(kind, tmp_path).start(workers=8, concurrency=1)
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
        assert workers >= 4  # the work really was spread over several processes
    finally:
        stack.stop()
