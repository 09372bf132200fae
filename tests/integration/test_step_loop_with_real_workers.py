"""The paper's asynchronous loop on real Celery workers, Redis and a real database."""

import pytest

from .invariants import (
    assert_exact_accounting,
    assert_parents_alive_at_birth,
    assert_population_invariant,
)

pytestmark = pytest.mark.integration

P = 6
CONFIG = {
    "dataset": "digits",
    "population": P,
    "workers": 3,
    "steps_per_child": 20,
    "max_individuals": 24,
    "seed": 5,
}


@pytest.fixture(scope="module")
def finished(stack):
    s = stack.session("mia")
    exp = stack.create(s, CONFIG)
    body = stack.wait_status(s, exp["id"], ("finished", "failed"), timeout=240)
    return stack, s, body


def test_the_run_finishes_with_exactly_its_budget(finished):
    stack, _, body = finished
    assert body["status"] == "finished" and body["individuals_trained"] == 24
    assert_exact_accounting(stack, body["id"], P, 24)


def test_the_population_stays_at_its_set_point_at_every_event(finished):
    stack, _, body = finished
    assert_population_invariant(stack, body["id"], P)


def test_every_child_had_a_parent_alive_when_it_was_claimed(finished):
    stack, _, body = finished
    assert_parents_alive_at_birth(stack, body["id"])


def test_the_best_has_a_test_accuracy_from_the_final_evaluation(finished):
    stack, s, body = finished
    from .harness import wait_for

    def evaluated():
        b = s.get(f"{stack.url}/api/experiments/{body['id']}/", timeout=10).json()
        return b if b["test_accuracy"] is not None else None

    done = wait_for(evaluated, 60, "the final test evaluation")
    assert 0 < done["test_accuracy"] <= 1 and 0 < done["ensemble_test_accuracy"] <= 1
    assert done["best"]["val_accuracy"] is not None
