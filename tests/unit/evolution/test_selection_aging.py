"""Aging evolution (Real et al. 2019): best of S breeds, the oldest dies."""

import random

import pytest

from evolab.evolution.selection import Candidate, plan_aging, plan_step


def _alive():
    return [Candidate(f"i{n}", acc, born=n) for n, acc in enumerate([0.3, 0.9, 0.1, 0.5, 0.7])]


def test_the_oldest_dies_not_the_worst():
    plan = plan_aging(_alive(), 5, random.Random(0), sample_size=3)
    assert plan.kill == ["i0"]  # accuracy 0.3; i2 with 0.1 is worse but younger


def test_nobody_dies_below_the_set_point():
    assert plan_aging(_alive(), 6, random.Random(0), sample_size=3).kill == []


def test_the_parent_is_the_best_of_the_sample():
    assert plan_aging(_alive(), 5, random.Random(0), sample_size=200).parent == "i1"


def test_sample_size_one_picks_a_uniformly_random_parent():
    rng = random.Random(2)
    parents = [plan_step("aging", _alive(), 5, rng, sample_size=1).parent for _ in range(1000)]
    assert all(150 <= parents.count(f"i{n}") <= 250 for n in range(5))


def test_the_sample_is_drawn_with_replacement():
    alive = _alive()[:2]
    plan = plan_aging(alive, 5, random.Random(0), sample_size=10)  # more than alive: fine
    assert plan.parent == "i1"


def test_bad_arguments_are_clear_errors():
    with pytest.raises(ValueError, match="sample_size"):
        plan_aging(_alive(), 5, random.Random(0), sample_size=0)
    with pytest.raises(ValueError, match="at least 1"):
        plan_aging([], 5, random.Random(0))
    with pytest.raises(ValueError, match="population"):
        plan_aging(_alive(), 0, random.Random(0))
