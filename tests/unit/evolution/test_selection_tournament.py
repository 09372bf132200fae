"""Tournament selection of docs/ALGORITHM.md §1: two distinct, the worse dies, the better breeds."""

import math
import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from evolab.evolution.selection import Candidate, plan_step, plan_tournament

population_st = st.lists(
    st.tuples(st.sampled_from([0.1, 0.5, 0.9, float("nan")]) | st.floats(0, 1)),
    min_size=2,
    max_size=12,
).map(lambda accs: [Candidate(f"i{n}", a[0], born=n) for n, a in enumerate(accs)])


def _rank(c):
    return (-math.inf if math.isnan(c.val_accuracy) else c.val_accuracy, c.born)


@settings(max_examples=60, deadline=None)
@given(alive=population_st, population=st.integers(1, 15), seed=st.integers(0, 2**16))
def test_the_tournament_never_kills_the_better_of_the_pair(alive, population, seed):
    plan = plan_tournament(alive, population, random.Random(seed))
    by_id = {c.id: c for c in alive}
    assert plan.parent in by_id and not plan.fresh
    if len(alive) >= population:
        (killed,) = plan.kill
        assert killed != plan.parent
        assert _rank(by_id[plan.parent]) > _rank(by_id[killed])
    else:
        assert plan.kill == []


def test_on_equal_accuracy_the_older_dies():
    alive = [Candidate("old", 0.5, born=1), Candidate("young", 0.5, born=2)]
    plan = plan_tournament(alive, 2, random.Random(0))
    assert (plan.kill, plan.parent) == (["old"], "young")


def test_a_diverged_individual_loses_to_any_number():
    alive = [Candidate("nan", float("nan"), born=2), Candidate("zero", 0.0, born=1)]
    assert plan_tournament(alive, 2, random.Random(0)).kill == ["nan"]


def test_pairs_are_drawn_uniformly_from_the_alive():
    alive = [Candidate(i, i / 10, born=i) for i in range(5)]
    rng = random.Random(1)
    parents = [plan_tournament(alive, 5, rng).parent for _ in range(2000)]
    # P(i is the better of a random pair) = i / C(5, 2)
    for i in range(5):
        assert parents.count(i) / 2000 == pytest.approx(i / 10, abs=0.03)


def test_fewer_than_two_alive_is_a_clear_error():
    with pytest.raises(ValueError, match="at least 2"):
        plan_tournament([Candidate("a", 0.5, 0)], 10, random.Random(0))


def test_the_plan_is_deterministic_given_the_rng():
    alive = [Candidate(i, random.Random(i).random(), born=i) for i in range(20)]
    a = [plan_step("tournament", alive, 20, random.Random(3)) for _ in range(3)]
    assert a[0] == a[1] == a[2]
    with pytest.raises(ValueError, match="unknown selection scheme"):
        plan_step("roulette", alive, 20, random.Random(3))
